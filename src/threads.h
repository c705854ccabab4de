#ifndef CAUSALLIB_THREADS_H
#define CAUSALLIB_THREADS_H

#include "cl.h"

/* The one decision of how many OpenMP threads a parallel region uses:
 * the requested count (the R option causallib.threads, passed in), capped
 * by OMP_THREAD_LIMIT and by the number of independent units of work, and
 * 1 in a process forked from one that may have started OpenMP threads.
 * Always at least 1.  Results never depend on it. */
int cl_threads(int requested, cl_len units);

/* The calling thread's number in its parallel region, 0 outside one. */
int cl_thread_id(void);

/* Registers the fork handler behind cl_threads() (once, from
 * R_init_causallib). */
void cl_threads_guard_forks(void);

#endif
