#!/usr/bin/env bash
# Issue 16's targets in one run (bench/README.md, "Quantized storage and SearchBatch at 100k"):
# in-process hnswlib float32 and ragd's hnsw backend per storage kind (none, f16, int8), then the
# real ragd over gRPC serving a float32 and an INT8 collection (1 and 2 clients, SearchBatch of
# 64, start-up from the snapshot, shutdown, RSS after restart), recall@10 for each at the same ef
# against one ground truth. FAISS is skipped (its builds take most of an hour on 2 cores; its
# SQ8 row is in the earlier runs). The data set and its ground truth are cached under
# BENCH_CACHE (default build/bench-cache), so a rerun skips about a minute of generation.
# Usage: scripts/bench-quant.sh [BUILD_DIR]      (make bench-quant)
# Environment: BENCH_N (100000), BENCH_QUERIES (1000), BENCH_OUT (bench/results/quant-100k.jsonl),
#   BENCH_CACHE, BENCH_ARGS (extra ragd_vector_bench flags), BENCH_TIMEOUT (5400 s), JOBS.
set -euo pipefail
BUILD_DIR=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_N:-100000}
QUERIES=${BENCH_QUERIES:-1000}
OUT=${BENCH_OUT:-$ROOT/bench/results/quant-100k.jsonl}
CACHE=${BENCH_CACHE:-$BUILD_DIR/bench-cache}
TIMEOUT=${BENCH_TIMEOUT:-5400}
read -r -a EXTRA <<< "${BENCH_ARGS:-}"
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  echo "bench-quant.sh: $BUILD_DIR is not a configured build directory (run make build first)" >&2
  exit 2
fi
cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target ragd ragd_vector_bench
mkdir -p "$(dirname "$OUT")"
echo "bench-quant.sh: $N x 1536, $QUERIES queries (about 20-30 minutes on 2 idle cores)" >&2
status=0
timeout --kill-after=30 "$TIMEOUT" "$BUILD_DIR/bench/ragd_vector_bench" \
  --n "$N" --queries "$QUERIES" --skip-faiss --with-index --quantization none,f16,int8 \
  --oversampling 2 --ragd-quantization none,int8 --clients 1,2 --batch-size 64 \
  --cache-dir "$CACHE" --out "$OUT" "${EXTRA[@]}" > /dev/null || status=$?
python3 "$ROOT/bench/summarize.py" "$OUT" || true
exit "$status"
