#!/usr/bin/env bash
# Run the AIPW benchmark by hand from anywhere; writes bench/results/aipw.md
# (about 20 minutes at n = 1e5, most of it the glm()/lm() bootstrap loop).
# Never run from the tests. Optional env: CAUSALLIB_LIB (library to load causallib
# from, default the normal library path),
# CAUSALLIB_BENCH_N (default "1e5"), CAUSALLIB_BENCH_REPS (default 3),
# CAUSALLIB_BENCH_BOOT_R (default 1000), CAUSALLIB_BENCH_BOOT_REPS (default 3),
# CAUSALLIB_BENCH_GLM_BOOT_R (default 1000; fewer is extrapolated to BOOT_R),
# CAUSALLIB_BENCH_GLM_BOOT_REPS (default 1), CAUSALLIB_BENCH_GLM_BOOT_MEM_R
# (default 20), CAUSALLIB_BENCH_NHEFS (default 1; 0 skips the nhefs table),
# CAUSALLIB_BENCH_NHEFS_REPS (default 5), CAUSALLIB_BENCH_NHEFS_GLM_REPS
# (default 3), CAUSALLIB_BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
Rscript bench/aipw.R
