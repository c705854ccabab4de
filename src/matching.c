/*
 * Greedy nearest-neighbour matching.
 *
 * Each focal unit, in the order given, takes its nearest candidates from the
 * pool (the units of the other arm) at Euclidean distance in p coordinates:
 * the absolute difference of propensity scores when p = 1, the Mahalanobis
 * distance when the coordinates are whitened covariates.  Ties in distance
 * go to the candidate with the lower row, and distances that agree to a
 * relative MATCH_TIE_TOL (squared distances when p > 1) count as tied:
 * covariates on a grid (ages 19 and 23 around 21) give mathematically equal
 * distances that rounding would otherwise order at random.  Candidates
 * farther than the caliper are never taken, nor candidates outside a
 * covariate caliper (they are passed over and the search goes on).
 *
 * With replacement every focal unit takes its k nearest candidates.
 * Without, matching runs in k rounds (MatchIt's order for ratio matching):
 * in round r each focal unit that was matched in every earlier round takes
 * the nearest candidate still in the pool, which then leaves the pool.
 *
 * Two searches:
 * - p = 1, the pool sorted by score: a focal unit's candidates are met by
 *   walking outwards from its score, left and right, one candidate at a
 *   time: O(log m + k) per focal unit.  The left walk reads the pool in
 *   (score, descending row) order and the right walk in (score, row) order,
 *   so each meets candidates in (distance, row) order, and merging the two
 *   walks by (distance, row) gives the nearest first with ties to the lower
 *   row.  Candidates that have left the pool are skipped through two
 *   "nearest remaining slot" union-find arrays with path compression.
 * - p > 1: a scan of the pool, O(m p) per focal unit, keeping the k best by
 *   (squared distance, row).
 *
 * Plain C.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "matching.h"

#define MATCH_INTERRUPT_UNITS 1024
#define MATCH_TIE_TOL 1e-9

/* Is distance a nearer than b by more than rounding?  (b finite.) */
static int nearer(double a, double b)
{
    return a < b - MATCH_TIE_TOL * b;
}

/* Is pool row j within every covariate caliper of row i? */
static int admissible(const match_units *u, int i, int j)
{
    const double *ci = u->cx + (cl_len) i * u->q, *cj = u->cx + (cl_len) j * u->q;
    for (int c = 0; c < u->q; c++) {
        if (fabs(ci[c] - cj[c]) > u->cw[c]) return 0;
    }
    return 1;
}

/* ---- p = 1: the pool sorted by score --------------------------------- */

static int by_score_then_pos(const void *a, const void *b)
{
    const match_key *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Sorts the pool: score (m) ascending, right (m) the pool positions in
 * (score, row) order, left (m) in (score, descending row) order, their
 * inverses rank_right and rank_left; every candidate in the pool. */
static void sorted_pool_init(const match_units *u, match_work *w)
{
    int m = u->n_pool;
    for (int j = 0; j < m; j++) {
        w->keys[j].score = u->x[u->pool[j]];
        w->keys[j].pos = j;
    }
    qsort(w->keys, (size_t) m, sizeof(match_key), by_score_then_pos);
    for (int j = 0; j < m; j++) {
        w->score[j] = w->keys[j].score;
        w->right[j] = w->keys[j].pos;
    }
    for (int lo = 0, hi; lo < m; lo = hi) {
        for (hi = lo + 1; hi < m && w->score[hi] == w->score[lo]; hi++) {}
        for (int j = lo; j < hi; j++) w->left[j] = w->right[lo + hi - 1 - j];
    }
    for (int j = 0; j < m; j++) {
        w->rank_right[w->right[j]] = j;
        w->rank_left[w->left[j]] = j;
    }
    for (int j = 0; j <= m; j++) w->up_right[j] = w->up_left[j] = j;
}

/* Root of slot j: the nearest slot still in use in the direction the links
 * point.  Compresses the path it walked. */
static int uf_root(int *up, int j)
{
    int root = j;
    while (up[root] != root) root = up[root];
    while (up[j] != root) {
        int next = up[j];
        up[j] = root;
        j = next;
    }
    return root;
}

/* Nearest position >= j still in the pool in the right view (m if none). */
static int next_right(match_work *w, int j)
{
    return uf_root(w->up_right, j);
}

/* Nearest position <= j still in the pool in the left view (-1 if none);
 * slot j + 1 stands for position j, slot 0 for "none". */
static int next_left(match_work *w, int j)
{
    return uf_root(w->up_left, j + 1) - 1;
}

/* Pool position pos leaves both views of the sorted pool. */
static void sorted_pool_remove(match_work *w, int pos)
{
    int r = w->rank_right[pos], l = w->rank_left[pos];
    w->up_right[r] = r + 1;
    w->up_left[l + 1] = l;
}

/* First position whose score is >= s. */
static int lower_bound(const double *score, int m, double s)
{
    int lo = 0, hi = m;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (score[mid] < s) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Up to `take` nearest candidates of a focal unit with score s into best
 * (pool positions) and best_d (distances); returns how many. */
static int take_sorted(const match_units *u, match_work *w, int i, int take,
                       double caliper)
{
    double s = u->x[i];
    int m = u->n_pool, got = 0;
    int b = lower_bound(w->score, m, s);
    int L = next_left(w, b - 1), R = next_right(w, b);
    while (got < take && (L >= 0 || R < m)) {
        double dl = L >= 0 ? s - w->score[L] : INFINITY;
        double dr = R < m ? w->score[R] - s : INFINITY;
        int go_left = R >= m || (L >= 0 && (nearer(dl, dr) ||
                                            (!nearer(dr, dl) && w->left[L] < w->right[R])));
        double d = go_left ? dl : dr;
        if (d > caliper) break;
        int pos = go_left ? w->left[L] : w->right[R];
        if (u->q == 0 || admissible(u, i, u->pool[pos])) {
            w->best[got] = pos;
            w->best_d[got++] = d;
        }
        if (go_left) L = next_left(w, L - 1); else R = next_right(w, R + 1);
    }
    return got;
}

/* ---- p > 1: a scan of the pool --------------------------------------- */

static int take_scan(const match_units *u, match_work *w, int i, int take,
                     double caliper)
{
    const double *xi = u->x + (cl_len) i * u->p;
    double cal2 = caliper * caliper;
    int got = 0;
    for (int j = 0; j < u->n_pool; j++) {
        if (!w->avail[j] || (u->q > 0 && !admissible(u, i, u->pool[j]))) continue;
        const double *xj = u->x + (cl_len) u->pool[j] * u->p;
        double d2 = 0.0;
        for (int c = 0; c < u->p; c++) d2 += (xi[c] - xj[c]) * (xi[c] - xj[c]);
        if (d2 > cal2 || (got == take && !nearer(d2, w->best_d[take - 1]))) continue;
        /* j ascends, so a tied distance stays behind: ties to the lower row. */
        int slot = got < take ? got++ : take - 1;
        for (; slot > 0 && nearer(d2, w->best_d[slot - 1]); slot--) {
            w->best[slot] = w->best[slot - 1];
            w->best_d[slot] = w->best_d[slot - 1];
        }
        w->best[slot] = j;
        w->best_d[slot] = d2;
    }
    for (int g = 0; g < got; g++) w->best_d[g] = sqrt(w->best_d[g]);
    return got;
}

/*
 * Inputs:  u; k >= 1 matches per focal unit; caliper > 0 (INFINITY: none);
 *          replace 0/1; interrupt, called every MATCH_INTERRUPT_UNITS
 *          searches (or NULL).
 * Outputs: match (n_focal x k): the matched rows of each focal unit, nearest
 *          first, -1 where it got fewer than k; dist (n_focal x k): their
 *          distances, NAN where none.
 * Work:    w, sized as matching.h says for u->p.
 */
void match_nearest(const match_units *u, int k, double caliper, int replace,
                   match_work *w, int *match, double *dist,
                   void (*interrupt)(void))
{
    int sorted = u->p == 1, nf = u->n_focal;
    if (sorted) sorted_pool_init(u, w); else memset(w->avail, 1, (size_t) u->n_pool);
    for (cl_len c = 0; c < (cl_len) nf * k; c++) {
        match[c] = -1;
        dist[c] = NAN;
    }
    memset(w->n_got, 0, sizeof(int) * (size_t) nf);
    int rounds = replace ? 1 : k, take = replace ? k : 1;
    cl_len searched = 0;
    for (int r = 0; r < rounds; r++) {
        for (int f = 0; f < nf; f++) {
            if (w->n_got[f] < r) continue;
            int i = u->focal[f];
            int got = sorted ? take_sorted(u, w, i, take, caliper)
                             : take_scan(u, w, i, take, caliper);
            for (int g = 0; g < got; g++) {
                cl_len cell = f + (cl_len) (w->n_got[f] + g) * nf;
                match[cell] = u->pool[w->best[g]];
                dist[cell] = w->best_d[g];
            }
            w->n_got[f] += got;
            if (!replace && got > 0) {
                if (sorted) sorted_pool_remove(w, w->best[0]); else w->avail[w->best[0]] = 0;
            }
            if (++searched % MATCH_INTERRUPT_UNITS == 0 && interrupt) interrupt();
        }
    }
}
