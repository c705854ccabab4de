/*
 * Thread counts.  GNU OpenMP keeps a pool of worker threads that a forked
 * child does not inherit (fork() copies only the calling thread), so a
 * parallel region in the child of a process that has used the pool can wait
 * forever for threads that do not exist.  Forked children are what
 * parallel::mclapply() and future's multicore plan run R code in; as
 * data.table does, a pthread_atfork() handler marks the child, and every
 * parallel region in it then runs on the calling thread alone.  Results do
 * not depend on the number of threads, so the child computes the same
 * numbers.
 */
#include "threads.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(_OPENMP) && !defined(_WIN32)
#include <pthread.h>
#define CL_FORK_GUARD 1
#endif

static volatile int forked_child = 0;

#ifdef CL_FORK_GUARD
/* pthread_atfork() child handler: runs in the child after fork(). */
static void mark_forked_child(void)
{
    forked_child = 1;
}
#endif

/* Registers mark_forked_child() (once, from R_init_causallib). */
void cl_threads_guard_forks(void)
{
#ifdef CL_FORK_GUARD
    pthread_atfork(NULL, NULL, mark_forked_child);
#endif
}

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
    if (forked_child) nt = 1;
    int limit = omp_get_thread_limit();
    if (limit > 0 && nt > limit) nt = limit;
#else
    nt = 1;
#endif
    if (units < nt) nt = (int) units;
    return nt < 1 ? 1 : nt;
}

int cl_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
