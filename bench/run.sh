#!/usr/bin/env bash
# Run the IPW benchmark by hand from anywhere; writes bench/results/ipw.md.
# Never run from the tests. Optional env: CAUSALLIB_LIB (library to load causallib
# from, default the normal library path), CAUSALLIB_BENCH_N (default "1e5,1e6"),
# CAUSALLIB_BENCH_REPS (default 3), CAUSALLIB_BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
Rscript bench/ipw.R
