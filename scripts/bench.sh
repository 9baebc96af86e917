#!/usr/bin/env bash
# Builds and runs the vector benchmarks, then prints a summary table (see bench/README.md).
# Usage: scripts/bench.sh [BUILD_DIR]          (make bench calls it with $(BUILD_DIR))
#
# Environment (all optional):
#   BENCH_N=100000 BENCH_QUERIES=1000 BENCH_DIM=1536   data set size
#   BENCH_ARGS="--skip-faiss"                         extra vector_bench flags
#   BENCH_TIMEOUT=5400                                seconds before the main run is stopped
#   BENCH_SIMD=1 BENCH_SIMD_N=20000                   also compare hnswlib built for
#                                                     x86-64-v3 and for generic x86-64 (0: skip)
#   JOBS=2                                            build parallelism
set -euo pipefail

BUILD_DIR=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RESULTS="$ROOT/bench/results"
N=${BENCH_N:-100000}
QUERIES=${BENCH_QUERIES:-1000}
DIM=${BENCH_DIM:-1536}
TIMEOUT=${BENCH_TIMEOUT:-5400}
SIMD=${BENCH_SIMD:-1}
SIMD_N=${BENCH_SIMD_N:-20000}
# Word splitting of BENCH_ARGS is intended: it is a list of flags.
read -r -a EXTRA <<< "${BENCH_ARGS:-}"

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  echo "bench.sh: $BUILD_DIR is not a configured build directory (run make build first)" >&2
  exit 2
fi
mkdir -p "$RESULTS"

cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target ragd ragd_vector_bench ragd_vector_bench_generic

echo "bench.sh: $N x $DIM, $QUERIES queries (a default run takes 15-30 minutes on 2 cores)" >&2
status=0
timeout --kill-after=30 "$TIMEOUT" "$BUILD_DIR/bench/ragd_vector_bench" \
  --n "$N" --queries "$QUERIES" --dim "$DIM" --out "$RESULTS/latest.jsonl" "${EXTRA[@]}" \
  > /dev/null || status=$?

if [ "$SIMD" != "0" ]; then
  # Back to back at the same size, hnswlib only, so that both see the same machine.
  for variant in ragd_vector_bench ragd_vector_bench_generic; do
    timeout --kill-after=30 1800 "$BUILD_DIR/bench/$variant" --n "$SIMD_N" --queries "$QUERIES" \
      --dim "$DIM" --skip-ragd --skip-faiss --out "$RESULTS/simd-$variant.jsonl" > /dev/null \
      || status=$?
  done
fi

python3 "$ROOT/bench/summarize.py" "$RESULTS/latest.jsonl"
if [ "$SIMD" != "0" ]; then
  python3 "$ROOT/bench/summarize.py" --simd "$RESULTS/simd-ragd_vector_bench.jsonl" \
    "$RESULTS/simd-ragd_vector_bench_generic.jsonl"
fi
echo "bench.sh: results in $RESULTS" >&2
exit "$status"
