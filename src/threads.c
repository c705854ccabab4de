/* Thread counts: every parallel region asks cl_threads(). */
#include "threads.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/*
 * Inputs:  requested (threads asked for; < 1 counts as 1), units (how many
 *          independent pieces of work the region has: chunks, replicates).
 * Returns: the threads for the region's num_threads() clause, >= 1.
 * Never calls omp_set_num_threads(): other packages' settings are theirs.
 */
int cl_threads(int requested, cl_len units)
{
    int nt = requested;
#ifdef _OPENMP
    int limit = omp_get_thread_limit();
    if (limit > 0 && nt > limit) nt = limit;
#else
    nt = 1;
#endif
    if (units < nt) nt = (int) units;
    return nt < 1 ? 1 : nt;
}
