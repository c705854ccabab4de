/*
 * Weighted cross-products of a tall, narrow design matrix: the hot loop of
 * IRLS and of every sandwich meat.
 *
 * R's reference BLAS walks whole columns of X for each output entry, which
 * streams an n x p matrix from memory p times.  Here rows are cut into blocks
 * small enough for the L1 cache; each block is copied once and every output
 * entry is accumulated from the cached copy.  Rows are also cut into a fixed
 * number of chunks whose partial sums are added in chunk order, so results
 * are bit-for-bit the same whatever the number of threads.
 *
 * Plain C: no R header, no R API.  Calls only threads.c.
 */
#include <math.h>
#include <string.h>
#include "design.h"
#include "threads.h"

#define MAX_CHUNKS 64
#define MIN_CHUNK_ROWS 4096
#define MAX_PARTIAL_DOUBLES 4194304.0 /* 32 MB of chunk partial sums */

cl_len cp_chunks(cl_len n, int p, int m)
{
    cl_len k = n / MIN_CHUNK_ROWS;
    double per_chunk = (double) p * (double) m;
    cl_len k_mem = (cl_len) (MAX_PARTIAL_DOUBLES / (per_chunk > 1 ? per_chunk : 1));
    if (k > MAX_CHUNKS) k = MAX_CHUNKS;
    if (k > k_mem) k = k_mem;
    return k < 1 ? 1 : k;
}

/* Column j's values on rows [r0, r0 + len) (len <= CP_BLOCK_ROWS for
 * buffers on the stack): in place for unshifted doubles, else written to
 * buf. */
const double *cp_column_rows(const cp_design *d, int j, cl_len r0, int len, double *buf)
{
    const cp_col *c = d->cols + j;
    double s = d->center ? d->center[j] : 0.0;
    if (c->x) {
        if (s == 0.0) return c->x + r0;
        const double *x = c->x + r0;
#ifdef _OPENMP
#pragma omp simd
#endif
        for (int i = 0; i < len; i++) buf[i] = x[i] - s;
    } else if (c->codes) {
        const int *g = c->codes + r0;
        int level = c->level;
        /* Vectorized, the comparison costs less than copying doubles; as a
         * branch on random codes it costs several times more. */
#ifdef _OPENMP
#pragma omp simd
#endif
        for (int i = 0; i < len; i++) buf[i] = (g[i] == level ? 1.0 : 0.0) - s;
    } else {
        for (int i = 0; i < len; i++) buf[i] = 1.0;
    }
    return buf;
}

/*
 * Inputs:  d; rows (m 0-based indices in [0, d->n), or NULL: all rows, m =
 *          d->n); cols (q 0-based column indices in [0, d->p)).
 * Output:  out (m x q, column-major): those rows and columns, ones for an
 *          intercept, 0/1 for an indicator.
 */
void cp_gather(const cp_design *d, const int *rows, cl_len m, const int *cols, int q,
               double *out)
{
    for (int k = 0; k < q; k++) {
        const cp_col *c = d->cols + cols[k];
        double *o = out + (size_t) k * (size_t) m;
        if (c->x) {
            if (rows) for (cl_len i = 0; i < m; i++) o[i] = c->x[rows[i]];
            else memcpy(o, c->x, sizeof(double) * (size_t) m);
        } else if (c->codes) {
            const int *g = c->codes;
            int level = c->level;
            if (rows) for (cl_len i = 0; i < m; i++) o[i] = g[rows[i]] == level ? 1.0 : 0.0;
            else for (cl_len i = 0; i < m; i++) o[i] = g[i] == level ? 1.0 : 0.0;
        } else {
            for (cl_len i = 0; i < m; i++) o[i] = 1.0;
        }
    }
}

/* Rows ahead that cp_copy_rows() asks the cache for: it reads X in short
 * runs from every column at once, more streams than the hardware
 * prefetchers follow well. */
#define PREFETCH_ROWS 512

/*
 * Inputs:  d, rows [r0, r0 + len).
 * Output:  xb (len x p, column-major): those rows, ones for an intercept,
 *          0/1 for an indicator, each column less its shift (d->center).
 */
void cp_copy_rows(const cp_design *d, cl_len r0, int len, double *xb)
{
    int ahead = r0 + PREFETCH_ROWS + len <= d->n;
    for (int j = 0; j < d->p; j++) {
        const cp_col *c = d->cols + j;
        double *xbj = xb + (size_t) j * len;
        if (c->x) {
            if (d->center && d->center[j] != 0.0) cp_column_rows(d, j, r0, len, xbj);
            else memcpy(xbj, c->x + r0, sizeof(double) * len);
#ifdef __GNUC__
            if (ahead)
                for (int i = 0; i < len; i += 8) __builtin_prefetch(c->x + r0 + PREFETCH_ROWS + i);
#endif
        } else {
            cp_column_rows(d, j, r0, len, xbj);
#ifdef __GNUC__
            if (ahead && c->codes)
                for (int i = 0; i < len; i += 16) __builtin_prefetch(c->codes + r0 + PREFETCH_ROWS + i);
#endif
        }
    }
}

/*
 * Inputs:  d (n x p), beta (p; NaN coefficients are skipped, as aliased
 *          columns), offset (n, or NULL for none).
 * Output:  eta (n) = offset + X beta, the columns added in order.
 */
void cp_xbeta(const cp_design *d, const double *beta, const double *offset,
              double *eta)
{
    cl_len n = d->n;
    double buf[CP_BLOCK_ROWS];
    for (cl_len i = 0; i < n; i++) eta[i] = offset ? offset[i] : 0.0;
    for (cl_len r0 = 0; r0 < n; r0 += CP_BLOCK_ROWS) {
        int len = (int) (n - r0 < CP_BLOCK_ROWS ? n - r0 : CP_BLOCK_ROWS);
        double *e = eta + r0;
        for (int j = 0; j < d->p; j++) {
            if (isnan(beta[j])) continue;
            const double *xj = cp_column_rows(d, j, r0, len, buf);
            double b = beta[j];
            for (int i = 0; i < len; i++) e[i] += xj[i] * b;
        }
    }
}

/* ---- centring ------------------------------------------------------------
 * The normal equations square the condition number of the design, so a
 * covariate whose mean is large against its spread (a date, a shifted lab
 * value) loses all its digits to the intercept: X'WX is singular to working
 * precision although glm()'s QR of X fits it.  Read centred near its mean,
 * the same column is as well conditioned as its spread allows, and the fit
 * is the same model: with a column of ones (the anchor, unpenalized) the
 * shifts only move its coefficient.  A column is shifted only when its mean
 * exceeds CP_CENTER_RATIO standard deviations, so ordinary designs are read
 * as they are, bit for bit.  Any shift near the mean conditions the column
 * as well, so the moments come from CENTER_SAMPLE evenly spaced rows, which
 * costs nothing next to a pass over X.  The plan depends on X alone (not on
 * weights or threads), so every fit on one design (arms, bootstrap
 * replicates, the sandwich) shares it. */

#define CENTER_SAMPLE 8192

/* Is column j of d exactly 1 on every row? */
static int all_ones(const cp_design *d, int j)
{
    double buf[CP_BLOCK_ROWS];
    for (cl_len r0 = 0; r0 < d->n; r0 += CP_BLOCK_ROWS) {
        int len = (int) (d->n - r0 < CP_BLOCK_ROWS ? d->n - r0 : CP_BLOCK_ROWS);
        const double *x = cp_column_rows(d, j, r0, len, buf);
        for (int i = 0; i < len; i++) if (x[i] != 1.0) return 0;
    }
    return 1;
}

/* Doubles of work for cp_center_plan(). */
size_t cp_center_work_size(cl_len n, int p, int nthreads)
{
    (void) n;
    (void) nthreads;
    return 2 * (size_t) p;
}

/*
 * Inputs:  d (n x p, unshifted), penalty (p or NULL).
 * Output:  center (p); returns the anchor, or -1 (see design.h).
 * Work:    cp_center_work_size(n, p, nthreads) doubles.
 * The moments of the sampled rows are taken about each column's first
 * value, so that they do not cancel for a column far from 0.  A column of
 * ones by the sample is checked on every row before it becomes the anchor.
 */
int cp_center_plan(const cp_design *d, const double *penalty, double *center,
                   int nthreads, double *work)
{
    cl_len n = d->n, m = n < CENTER_SAMPLE ? n : CENTER_SAMPLE;
    int p = d->p, anchor = -1, shifted = 0;
    double buf;
    (void) nthreads;
    if (n == 0 || d->center) return -1;
    double *x0 = work, *ss = work + p;
    for (int j = 0; j < p; j++) {
        const cp_col *c = d->cols + j;
        double s1 = 0.0, s2 = 0.0;
        x0[j] = *cp_column_rows(d, j, 0, 1, &buf);
        center[j] = 0.0;
        if (!c->x && !c->codes) {
            ss[j] = 0.0;
            continue;
        }
        for (cl_len s = 0; s < m; s++) {
            double v = *cp_column_rows(d, j, s * n / m, 1, &buf) - x0[j];
            s1 += v;
            s2 += v * v;
        }
        double m1 = s1 / (double) m, var = s2 / (double) m - m1 * m1, mean = x0[j] + m1;
        ss[j] = s2;
        if (s2 != 0.0 && isfinite(mean) && isfinite(var) &&
            mean * mean > CP_CENTER_RATIO * CP_CENTER_RATIO * (var > 0 ? var : 0.0)) {
            center[j] = mean;
            shifted = 1;
        }
    }
    if (!shifted) return -1;
    for (int j = 0; j < p && anchor < 0; j++) {
        const cp_col *c = d->cols + j;
        if (ss[j] != 0.0 || x0[j] != 1.0 || (penalty && penalty[j] != 0.0)) continue;
        if ((!c->x && !c->codes) || all_ones(d, j)) anchor = j;
    }
    return anchor;
}

void cp_uncenter(double *beta, int p, const double *center, int anchor)
{
    double s = beta[anchor];
    for (int j = 0; j < p; j++)
        if (j != anchor && center[j] != 0.0 && !isnan(beta[j])) s -= center[j] * beta[j];
    beta[anchor] = s;
}

/* Doubles of work for cp_reduce() with the same arguments. */
size_t cp_reduce_work_size(cl_len nchunk, int nthreads, size_t len, size_t scratch_len)
{
    int nt = cl_threads(nthreads, nchunk);
    return (nt > 1 ? (size_t) nchunk : 1) * len + (size_t) nt * scratch_len;
}

/*
 * The one chunked reduction behind every streaming kernel: chunk() writes
 * len doubles of partial sums for rows [from, to) into its own slot; out gets
 * their sum, added in chunk order whatever the number of threads.
 * Inputs:  n rows cut into nchunk chunks; nthreads requested; chunk, ctx.
 * Output:  out (len).
 * Work:    cp_reduce_work_size(nchunk, nthreads, len, scratch_len) doubles:
 *          the chunks' partial sums, then scratch_len per thread.
 * chunk() runs inside the parallel region: it must not call R.
 */
void cp_reduce(cl_len n, cl_len nchunk, int nthreads, size_t len, size_t scratch_len,
               cp_chunk_fn chunk, const void *ctx, double *out, double *work)
{
    int nt = cl_threads(nthreads, nchunk);
    double *partial = work, *scratch = work + (nt > 1 ? (size_t) nchunk : 1) * len;
    memset(out, 0, sizeof(double) * len);
    if (nt > 1) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
        for (cl_len c = 0; c < nchunk; c++) {
            int tid = cl_thread_id();
            chunk(ctx, c * n / nchunk, (c + 1) * n / nchunk, partial + (size_t) c * len,
                  scratch + (size_t) tid * scratch_len);
        }
        for (cl_len c = 0; c < nchunk; c++)
            for (size_t e = 0; e < len; e++) out[e] += partial[(size_t) c * len + e];
    } else {
        for (cl_len c = 0; c < nchunk; c++) {
            chunk(ctx, c * n / nchunk, (c + 1) * n / nchunk, partial, scratch);
            for (size_t e = 0; e < len; e++) out[e] += partial[e];
        }
    }
}

/* ---- X' diag(w) X ------------------------------------------------------ */

/* The 4 x 2 dot products t[r][s] = sum_i a_r[i] b_s[i] of four columns
 * a_r = a + r * len and two columns b0, b1 over len rows.  Eight
 * accumulators and six loads fit the 16 SIMD registers of x86-64 when the
 * row loop is vectorized. */
static inline void tile_4x2(const double *a, const double *b0, const double *b1,
                            int len, double t[4][2])
{
    const double *a0 = a, *a1 = a0 + len, *a2 = a1 + len, *a3 = a2 + len;
    double a00 = 0, a01 = 0, a10 = 0, a11 = 0, a20 = 0, a21 = 0, a30 = 0, a31 = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : a00, a01, a10, a11, a20, a21, a30, a31)
#endif
    for (int i = 0; i < len; i++) {
        double u0 = b0[i], u1 = b1[i];
        a00 += a0[i] * u0; a01 += a0[i] * u1;
        a10 += a1[i] * u0; a11 += a1[i] * u1;
        a20 += a2[i] * u0; a21 += a2[i] * u1;
        a30 += a3[i] * u0; a31 += a3[i] * u1;
    }
    t[0][0] = a00; t[0][1] = a01; t[1][0] = a10; t[1][1] = a11;
    t[2][0] = a20; t[2][1] = a21; t[3][0] = a30; t[3][1] = a31;
}

/* acc (p x p, upper triangle) += xb' diag(.) wb over one row block of length
 * len; xb and wb are len x p, column-major, wb already multiplied by w. */
void cp_block_upper(const double *xb, const double *wb, int len, int p,
                    double *acc)
{
    int j = 0;
    for (; j + 4 <= p; j += 4) {
        for (int k = 0; k + 2 <= j + 4; k += 2) {
            const double *x0 = xb + (size_t) k * len;
            double t[4][2];
            tile_4x2(wb + (size_t) j * len, x0, x0 + len, len, t);
            /* acc[k + s, j + r] holds the (k+s, j+r) entry, k+s <= j+r
             * (entries below the diagonal are overwritten by symmetrizing). */
            for (int r = 0; r < 4; r++) {
                double *cr = acc + (size_t) (j + r) * p + k;
                cr[0] += t[r][0];
                cr[1] += t[r][1];
            }
        }
    }
    /* Columns past the last full tile of four: entries 0..j of column j are
     * xb[, 0..j]' wb[, j]. */
    for (; j < p; j++) cp_block_xtv(xb, wb + (size_t) j * len, len, j + 1, acc + (size_t) j * p);
}

/* wb = diag(w) xb over one row block; xb and wb are len x p, column-major. */
void cp_block_scale(const double *xb, const double *w, int len, int p, double *wb)
{
    for (int j = 0; j < p; j++) {
        const double *xbj = xb + (size_t) j * len;
        double *wbj = wb + (size_t) j * len;
#ifdef _OPENMP
#pragma omp simd
#endif
        for (int i = 0; i < len; i++) wbj[i] = w[i] * xbj[i];
    }
}

/* acc (p) += xb' v over one row block; xb is len x p, column-major. */
void cp_block_xtv(const double *xb, const double *v, int len, int p, double *acc)
{
    int j = 0;
    for (; j + 4 <= p; j += 4) {
        const double *x0 = xb + (size_t) j * len, *x1 = x0 + len,
                     *x2 = x1 + len, *x3 = x2 + len;
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : a0, a1, a2, a3)
#endif
        for (int i = 0; i < len; i++) {
            a0 += x0[i] * v[i]; a1 += x1[i] * v[i];
            a2 += x2[i] * v[i]; a3 += x3[i] * v[i];
        }
        acc[j] += a0; acc[j + 1] += a1; acc[j + 2] += a2; acc[j + 3] += a3;
    }
    for (; j < p; j++) {
        const double *xj = xb + (size_t) j * len;
        double a = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : a)
#endif
        for (int i = 0; i < len; i++) a += xj[i] * v[i];
        acc[j] += a;
    }
}

/* acc (p x m) += xb' M over one row block; xb is len x p, column-major,
 * and column c of M starts at M + c * ldm.  Each entry is summed as in
 * cp_block_xtv(), here in tiles of four columns of xb by two of M. */
void cp_block_xtm(const double *xb, int len, int p, const double *M, size_t ldm,
                  int m, double *acc)
{
    int c = 0;
    for (; c + 2 <= m; c += 2) {
        const double *v0 = M + (size_t) c * ldm, *v1 = v0 + ldm;
        double *c0 = acc + (size_t) c * p, *c1 = c0 + p;
        int j = 0;
        for (; j + 4 <= p; j += 4) {
            double t[4][2];
            tile_4x2(xb + (size_t) j * len, v0, v1, len, t);
            for (int r = 0; r < 4; r++) {
                c0[j + r] += t[r][0];
                c1[j + r] += t[r][1];
            }
        }
        for (; j < p; j++) {
            const double *xj = xb + (size_t) j * len;
            double a0 = 0, a1 = 0;
#ifdef _OPENMP
#pragma omp simd reduction(+ : a0, a1)
#endif
            for (int i = 0; i < len; i++) { a0 += xj[i] * v0[i]; a1 += xj[i] * v1[i]; }
            c0[j] += a0; c1[j] += a1;
        }
    }
    if (c < m) cp_block_xtv(xb, M + (size_t) c * ldm, len, p, acc + (size_t) c * p);
}

/* 1 when some of the len doubles of v is infinite or missing, else 0:
 * v * 0 is NaN exactly for those, and a sum with a NaN is NaN.  Four sums
 * keep the vectorized loop from waiting on one. */
int cp_nonfinite(const double *v, size_t len)
{
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t quads = len / 4;
#ifdef _OPENMP
#pragma omp simd reduction(+ : a0, a1, a2, a3)
#endif
    for (size_t i = 0; i < quads; i++) {
        a0 += v[4 * i] * 0.0; a1 += v[4 * i + 1] * 0.0;
        a2 += v[4 * i + 2] * 0.0; a3 += v[4 * i + 3] * 0.0;
    }
    for (size_t i = 4 * quads; i < len; i++) a0 += v[i] * 0.0;
    return !(a0 + a1 + a2 + a3 == 0.0);
}

/* Are the n doubles of v all finite?  Blocks of vectorized, branch-free
 * checks (cp_nonfinite) stop at the first block with a bad value. */
int cp_all_finite(const double *v, cl_len n)
{
    const cl_len block = 4096;
    for (cl_len i = 0; i < n; i += block) {
        cl_len len = n - i < block ? n - i : block;
        if (cp_nonfinite(v + i, (size_t) len)) return 0;
    }
    return 1;
}

typedef struct { const cp_design *d; const double *w, *M; int m; } wcp_ctx;

/* Rows [from, to): X' diag(w) X (upper triangle) and, from the same cached
 * rows, X' M, into acc = (p x p, p x m). */
static void chunk_upper(const void *ctx_, cl_len from, cl_len to,
                        double *acc, double *scratch)
{
    const wcp_ctx *ctx = ctx_;
    const double *w = ctx->w, *M = ctx->M;
    cl_len n = ctx->d->n;
    int p = ctx->d->p, m = ctx->m;
    double *xb = scratch, *wb = scratch + (size_t) CP_BLOCK_ROWS * p;
    double *xm = acc + (size_t) p * p;
    memset(acc, 0, sizeof(double) * (size_t) p * (p + m));
    for (cl_len r0 = from; r0 < to; r0 += CP_BLOCK_ROWS) {
        int len = (int) ((to - r0) < CP_BLOCK_ROWS ? (to - r0) : CP_BLOCK_ROWS);
        cp_copy_rows(ctx->d, r0, len, xb);
        const double *wx = xb;
        if (w) {
            cp_block_scale(xb, w + r0, len, p, wb);
            wx = wb;
        }
        cp_block_upper(xb, wx, len, p, acc);
        if (m > 0) cp_block_xtm(xb, len, p, M + r0, (size_t) n, m, xm);
    }
}

/* Doubles of work for wcrossprod_xt(). */
size_t wcrossprod_xt_work_size(cl_len n, int p, int m, int nthreads)
{
    cl_len nchunk = cp_chunks(n, p, p + m);
    return cp_reduce_work_size(nchunk, nthreads, (size_t) p * (p + m),
                               2 * (size_t) CP_BLOCK_ROWS * p);
}

/* out = (X' diag(w) X with both triangles, p x p; then X' M, p x m) in one
 * pass over X; w == NULL means unit weights, m may be 0.
 * work: wcrossprod_xt_work_size(n, p, m, nthreads) doubles. */
void wcrossprod_xt(const cp_design *d, const double *w, const double *M, int m,
                   double *out, int nthreads, double *work)
{
    cl_len n = d->n;
    int p = d->p;
    cl_len nchunk = cp_chunks(n, p, p + m);
    wcp_ctx ctx = {d, w, M, m};
    cp_reduce(n, nchunk, nthreads, (size_t) p * (p + m),
              2 * (size_t) CP_BLOCK_ROWS * p, chunk_upper, &ctx, out, work);
    cp_symmetrize(out, p);
}

/* Doubles of work for wcrossprod(). */
size_t wcrossprod_work_size(cl_len n, int p, int nthreads)
{
    return wcrossprod_xt_work_size(n, p, 0, nthreads);
}

/* out (p x p, both triangles) = X' diag(w) X; w == NULL means unit weights.
 * work: wcrossprod_work_size(n, p, nthreads) doubles. */
void wcrossprod(const cp_design *d, const double *w, double *out, int nthreads,
                double *work)
{
    wcrossprod_xt(d, w, NULL, 0, out, nthreads, work);
}

/* A (p x p): the upper triangle copied into the lower. */
void cp_symmetrize(double *A, int p)
{
    for (int j = 0; j < p; j++)
        for (int k = 0; k < j; k++) A[(size_t) k * p + j] = A[(size_t) j * p + k];
}

/* ---- residuals of one column ---------------------------------------------- */

typedef struct { const cp_design *d; const double *w, *b; int j; } resid_ctx;

/* Rows [from, to): acc = (weighted residual sum of squares, weighted sum of
 * squares of column j) (a cp_chunk_fn). */
static void resid_chunk(const void *ctx_, cl_len from, cl_len to, double *acc,
                        double *scratch)
{
    const resid_ctx *ctx = ctx_;
    int p = ctx->d->p, j = ctx->j;
    double *xb = scratch, *rb = scratch + (size_t) CP_BLOCK_ROWS * p, rss = 0.0, nrm = 0.0;
    for (cl_len r0 = from; r0 < to; r0 += CP_BLOCK_ROWS) {
        int len = (int) ((to - r0) < CP_BLOCK_ROWS ? (to - r0) : CP_BLOCK_ROWS);
        cp_copy_rows(ctx->d, r0, len, xb);
        const double *xj = xb + (size_t) j * len;
        memcpy(rb, xj, sizeof(double) * len);
        for (int k = 0; k < p; k++) {
            double bk = ctx->b[k];
            if (bk == 0.0) continue;
            const double *xk = xb + (size_t) k * len;
            for (int i = 0; i < len; i++) rb[i] -= bk * xk[i];
        }
        for (int i = 0; i < len; i++) {
            double wi = ctx->w ? ctx->w[r0 + i] : 1.0;
            rss += wi * rb[i] * rb[i];
            nrm += wi * xj[i] * xj[i];
        }
    }
    acc[0] = rss;
    acc[1] = nrm;
}

double cp_residual_ss(const cp_design *d, const double *w, int j, const double *b,
                      double *norm2, int nthreads, double *work)
{
    double out[2];
    resid_ctx ctx = {d, w, b, j};
    cp_reduce(d->n, cp_chunks(d->n, d->p, d->p), nthreads, 2,
              (size_t) CP_BLOCK_ROWS * (d->p + 1), resid_chunk, &ctx, out, work);
    *norm2 = out[1];
    return out[0];
}

/* ---- X' M ---------------------------------------------------------------- */

typedef struct { const cp_design *d; const double *M; int m; } xtm_ctx;

/* Rows [from, to): acc (p x m) = X' M over them (a cp_chunk_fn).  Each
 * entry is two running sums, of the rows at even and at odd offsets from
 * `from`, read a block of rows at a time (blocks of even length keep the
 * parity). */
static void chunk_xt_mat(const void *ctx_, cl_len from, cl_len to,
                         double *acc, double *scratch)
{
    const xtm_ctx *ctx = ctx_;
    int p = ctx->d->p;
    double buf[CP_BLOCK_ROWS];
    (void) scratch;
    for (int c = 0; c < ctx->m; c++) {
        const double *mc = ctx->M + (size_t) c * ctx->d->n;
        for (int j = 0; j < p; j++) {
            double a0 = 0, a1 = 0;
            for (cl_len r0 = from; r0 < to; r0 += CP_BLOCK_ROWS) {
                int len = (int) (to - r0 < CP_BLOCK_ROWS ? to - r0 : CP_BLOCK_ROWS);
                const double *xj = cp_column_rows(ctx->d, j, r0, len, buf);
                const double *mb = mc + r0;
                int i = 0;
                for (; i + 1 < len; i += 2) {
                    a0 += xj[i] * mb[i];
                    a1 += xj[i + 1] * mb[i + 1];
                }
                if (i < len) a0 += xj[i] * mb[i];
            }
            acc[(size_t) c * p + j] = a0 + a1;
        }
    }
}

/* Doubles of work for xt_mat(). */
size_t xt_mat_work_size(cl_len n, int p, int m, int nthreads)
{
    cl_len nchunk = cp_chunks(n, p, m);
    return cp_reduce_work_size(nchunk, nthreads, (size_t) p * m, 0);
}

/* out (p x m) = X' M with X the n x p design d and M n x m, column-major.
 * work: xt_mat_work_size(n, p, m, nthreads) doubles. */
void xt_mat(const cp_design *d, const double *M, int m, double *out,
            int nthreads, double *work)
{
    cl_len n = d->n;
    int p = d->p;
    cl_len nchunk = cp_chunks(n, p, m);
    xtm_ctx ctx = {d, M, m};
    cp_reduce(n, nchunk, nthreads, (size_t) p * m, 0,
              chunk_xt_mat, &ctx, out, work);
}
