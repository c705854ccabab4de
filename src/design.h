#ifndef CAUSALLIB_DESIGN_H
#define CAUSALLIB_DESIGN_H

/* The bottom of the C core: design matrices and their cross-products, in
 * plain C (no R header).  Calls only threads.h. */

#include <stddef.h>
#include "cl.h"

/* One column of a design, read in place: n doubles x; or, with x NULL, the
 * indicator codes[i] == level of n integer codes (a factor level under
 * treatment contrasts); or, with both NULL, a column of ones (an
 * intercept). */
typedef struct {
    const double *x;
    const int *codes;
    int level;
} cp_col;

/* A design matrix: p columns of n rows.  A column-major n x p matrix X is
 * the columns at X + j n, so every kernel has one code path for a matrix
 * and for columns scattered over a data frame.  intercept is 1 when column 0
 * is an implicit column of ones the caller added (so that adding an
 * intercept never copies X).  center (p doubles, or NULL for none) shifts
 * the columns as they are read: column j is x_j - center[j] (see
 * cp_center_plan()). */
typedef struct {
    const cp_col *cols;
    cl_len n;
    int p, intercept;
    const double *center;
} cp_design;

/* Rows [r0, r0 + len) of column j: a pointer into the column when it holds
 * doubles, else buf (len doubles) filled with its values. */
const double *cp_column_rows(const cp_design *d, int j, cl_len r0, int len, double *buf);
/* Rows [r0, r0 + len) of d into the column-major len x p block xb. */
void cp_copy_rows(const cp_design *d, cl_len r0, int len, double *xb);
/* out (m x q, column-major) = rows `rows` (m 0-based indices in [0, n), or
 * NULL for all n rows, then m = n) of the q columns `cols` (0-based) of d. */
void cp_gather(const cp_design *d, const int *rows, cl_len m, const int *cols, int q,
               double *out);
/* eta (n) = offset + X beta (offset NULL: 0); NaN coefficients are skipped. */
void cp_xbeta(const cp_design *d, const double *beta, const double *offset,
              double *eta);

/* Shifts that make a fit on d well conditioned (design.c): a column whose
 * mean exceeds CP_CENTER_RATIO standard deviations is read centred at its
 * mean, and a column of ones, the anchor, absorbs the shifts.  Returns the
 * anchor (0-based) and fills center (p; 0 for unshifted columns), or
 * returns -1 when no column needs a shift or no column of ones with a zero
 * penalty (penalty: p values, or NULL for none) can absorb one.  Work:
 * cp_center_work_size() doubles. */
#define CP_CENTER_RATIO 8.0
size_t cp_center_work_size(cl_len n, int p, int nthreads);
int cp_center_plan(const cp_design *d, const double *penalty, double *center,
                   int nthreads, double *work);
/* The coefficients beta (p, NaN where aliased) of d, fitted as g on the
 * design shifted by center with the given anchor (cp_center_plan()),
 * written in place: beta[anchor] = g[anchor] - sum_j center[j] g[j]. */
void cp_uncenter(double *beta, int p, const double *center, int anchor);

/* Rows are processed in blocks of CP_BLOCK_ROWS (cached copies) within a
 * fixed number of chunks (cp_chunks) whose partial sums are added in order,
 * so results do not depend on the thread count. */
#define CP_BLOCK_ROWS 64
cl_len cp_chunks(cl_len n, int p, int m);
void cp_block_upper(const double *xb, const double *wb, int len, int p,
                    double *acc);
/* wb = diag(w) xb over one row block (xb, wb len x p; w len). */
void cp_block_scale(const double *xb, const double *w, int len, int p, double *wb);
/* acc (p) += xb' v over one row block (xb len x p, v len). */
void cp_block_xtv(const double *xb, const double *v, int len, int p, double *acc);
/* acc (p x m) += xb' M over one row block (M: column c at M + c * ldm). */
void cp_block_xtm(const double *xb, int len, int p, const double *M, size_t ldm,
                  int m, double *acc);
/* 1 if one of the len doubles of v is infinite or missing, else 0. */
int cp_nonfinite(const double *v, size_t len);
/* 1 if none of the n doubles of v is infinite or missing, else 0. */
int cp_all_finite(const double *v, cl_len n);
void cp_symmetrize(double *A, int p); /* upper triangle into lower */

/* The chunked reduction (see design.c): chunk() writes the len partial sums
 * of rows [from, to) into partial, with scratch_len doubles of scratch. */
typedef void (*cp_chunk_fn)(const void *ctx, cl_len from, cl_len to,
                            double *partial, double *scratch);
size_t cp_reduce_work_size(cl_len nchunk, int nthreads, size_t len, size_t scratch_len);
void cp_reduce(cl_len n, cl_len nchunk, int nthreads, size_t len, size_t scratch_len,
               cp_chunk_fn chunk, const void *ctx, double *out, double *work);

size_t wcrossprod_xt_work_size(cl_len n, int p, int m, int nthreads);
void wcrossprod_xt(const cp_design *d, const double *w, const double *M, int m,
                   double *out, int nthreads, double *work);

size_t wcrossprod_work_size(cl_len n, int p, int nthreads);
void wcrossprod(const cp_design *d, const double *w, double *out, int nthreads,
                double *work);

/* sum_i w_i (x_ij - sum_k b_k x_ik)^2 over the rows of d (w NULL: 1),
 * returning it, and *norm2 = sum_i w_i x_ij^2.  Work: the doubles of
 * cp_reduce_work_size(cp_chunks(n, p, p), nthreads, 2, CP_BLOCK_ROWS (p + 1)),
 * which wcrossprod_work_size(n, p, nthreads) covers. */
double cp_residual_ss(const cp_design *d, const double *w, int j, const double *b,
                      double *norm2, int nthreads, double *work);

size_t xt_mat_work_size(cl_len n, int p, int m, int nthreads);
void xt_mat(const cp_design *d, const double *M, int m, double *out,
            int nthreads, double *work);

#endif
