#ifndef CAUSALLIB_CL_H
#define CAUSALLIB_CL_H

/* What every C kernel shares.  Kernels include no R header: they see
 * lengths and indices as cl_len, which is R's R_xlen_t (ptrdiff_t on 64-bit
 * platforms; args.c asserts the two have one size), and missing
 * coefficients as NaN; the entry points turn those into R's NA. */

#include <stddef.h>

typedef ptrdiff_t cl_len;

#endif
