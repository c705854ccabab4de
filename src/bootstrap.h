#ifndef CAUSALLIB_BOOTSTRAP_H
#define CAUSALLIB_BOOTSTRAP_H

/* Bootstrap replicates refitted in C.  Plain C (no R header); calls glm.c,
 * multinom.c, weights.c and threads.c. */

#include "glm.h"
#include "weights.h"

/* One model of a replicate: its design x (n x p) and offset (n or NULL;
 * NULL for a multinomial model), the treatment codes a (n, 0..K-1),
 * sampling weights sw (n), outcome y (n; NULL for a treatment model) and
 * how it is fitted (spec.nthreads 1, no interrupt). */
typedef struct {
    cp_design x;
    const double *offset;
    const int *a;
    int K;
    const double *y, *sw;
    glm_spec spec;
} boot_data;

/* The IPW bootstrap: Hajek means of y under weights from the refitted
 * treatment model d. */
typedef struct {
    const boot_data *d;
    ipw_opts opts;
} ipw_boot;

/* The standardization bootstrap: the outcome model d refitted, predicted
 * for every unit under each level: on the counterfactual designs xcf (K,
 * the dimensions of d->x) with their offsets cf_offset (K, each n or NULL)
 * for an S-learner, or per arm on d->x and d->offset when stratified (xcf
 * and cf_offset NULL). */
typedef struct {
    const boot_data *d;
    const cp_design *xcf;
    const double *const *cf_offset;
    int stratified;
} std_boot;

/* The AIPW bootstrap: both models refitted (weights dw, outcome dout; the
 * same units, codes and sampling weights). */
typedef struct {
    const boot_data *dw, *dout;
    const cp_design *xcf;
    const double *const *cf_offset;
    int stratified;
    ipw_opts opts;
} aipw_boot;

/* One replicate: mu (K means) from the frequency counts count (n), with its
 * own workspace; returns 0 when a model failed to fit. */
typedef int (*boot_replicate_fn)(const void *ctx, const int *count, double *mu,
                                 double *work, int *iwork);

int ipw_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                       int *iwork);
int std_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                       int *iwork);
int aipw_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                        int *iwork);

/* Doubles (wlen) and ints (ilen) of workspace one replicate needs. */
void ipw_boot_work_size(const ipw_boot *b, size_t *wlen, size_t *ilen);
void std_boot_work_size(const std_boot *b, size_t *wlen, size_t *ilen);
void aipw_boot_work_size(const aipw_boot *b, size_t *wlen, size_t *ilen);

void boot_run(boot_replicate_fn replicate, const void *ctx, const int *counts,
              cl_len n, int R, int K, int nthreads, size_t wlen, size_t ilen,
              double *out, int *ok, double *mu, double *work, int *iwork);

#endif
