#!/usr/bin/env bash
# Run the survival benchmark by hand from anywhere; writes bench/results/survival.md
# (about 15 minutes; glm_expanded at 1e5 people needs ~21 GB of RAM).
# Never run from the tests. Optional env: CAUSALLIB_LIB (library to load causallib
# from, default the normal library path), CAUSALLIB_BENCH_N (default "1e4,1e5,1e6"),
# CAUSALLIB_BENCH_GLM_MAX_N (default 1e5), CAUSALLIB_BENCH_ADJ_MAX_N (default
# 1e6; largest n of the adjustedCurves row), CAUSALLIB_BENCH_REPS (default 3),
# CAUSALLIB_BENCH_REPS_BY (default "glm_expanded@1e5=1"), CAUSALLIB_BENCH_BOOT_R
# (default 200, 0 skips), CAUSALLIB_BENCH_BOOT_REPS (default 3),
# CAUSALLIB_BENCH_BREAKDOWN (default 1), CAUSALLIB_BENCH_INTERVALS (default 1; 0 skips
# the causallib_intervals rows), CAUSALLIB_BENCH_MEM_CAP_MB (default
# MemAvailable - 2048), CAUSALLIB_BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
Rscript bench/survival.R
