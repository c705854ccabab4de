#ifndef CAUSALLIB_MATCHING_H
#define CAUSALLIB_MATCHING_H

/* Greedy nearest-neighbour matching.  Plain C (no R header). */

#include "cl.h"

/* Units to match: coordinates x (p x n; column i holds unit i, so a unit's
 * coordinates are contiguous), the focal units in matching order and the
 * pool of candidate matches (rows of the other arm, strictly ascending).
 * Rows are 0-based.  Covariate calipers (q >= 0): a candidate j is
 * admissible for unit i only if |cx[c, i] - cx[c, j]| <= cw[c] for every
 * c < q (cx q x n, laid out as x; NULL when q = 0). */
typedef struct {
    const double *x;
    int n, p;
    const int *focal;
    int n_focal;
    const int *pool;
    int n_pool;
    const double *cx, *cw;
    int q;
} match_units;

/* A pool member's score and its position in the pool. */
typedef struct {
    double score;
    int pos;
} match_key;

/* Work arrays (m = n_pool).  Sorted search (p = 1): keys, score, left,
 * right, rank_left, rank_right (m each), up_left, up_right (m + 1 each).
 * Scan (p > 1): avail (m).  Both: best, best_d (k), n_got (n_focal). */
typedef struct {
    match_key *keys;
    double *score, *best_d;
    int *left, *right, *rank_left, *rank_right, *up_left, *up_right;
    char *avail;
    int *best, *n_got;
} match_work;

void match_nearest(const match_units *u, int k, double caliper, int replace,
                   match_work *w, int *match, double *dist,
                   void (*interrupt)(void));

#endif
