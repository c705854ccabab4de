#!/usr/bin/env bash
# Run the evaluate() benchmark by hand from anywhere; writes bench/results/evaluate.md
# (about 2 minutes at n = 1e5). Never run from the tests. Optional env: CAUSALLIB_LIB
# (library to load causallib from, default the normal library path),
# CAUSALLIB_BENCH_N (default "1e5"), CAUSALLIB_BENCH_REPS (default 3),
# CAUSALLIB_BENCH_PROFILE (default 1; 0 skips the Rprof breakdown), CAUSALLIB_BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
Rscript bench/evaluate.R
