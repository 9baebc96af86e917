#!/usr/bin/env bash
# Issue 16's targets in one run (bench/README.md, "Quantized storage and SearchBatch at 100k"):
# in-process hnswlib float32 and ragd's hnsw backend per storage kind (none, f16, int8), then the
# real ragd over gRPC serving a float32 and an INT8 collection (1 and 2 clients, SearchBatch of
# 64, start-up from the snapshot, shutdown, RSS after restart), recall@10 for each at the same ef
# against one ground truth. Then the quantized peers on the same data, truth and ef values
# (bench/README.md, "Peers"): FAISS `HNSW32,SQ8` only (Debian's libfaiss, in the same
# ragd_vector_bench process; the float32 FAISS build, most of an hour at 100k on 2 cores, is not
# run), and USearch f32/f16/i8 (npm `usearch`, pinned by bench/package-lock.json, its prebuilt
# addon) through bench/usearch_peer.mjs, which reads the cached data set. The data set and its
# ground truth are cached under BENCH_CACHE (default build/bench-cache), so a rerun skips about
# a minute of generation.
# Usage: scripts/bench-quant.sh [BUILD_DIR]      (make bench-quant)
# Environment: BENCH_N (100000), BENCH_QUERIES (1000), BENCH_OUT (bench/results/quant-100k.jsonl),
#   BENCH_CACHE, BENCH_ARGS (extra ragd_vector_bench flags), BENCH_TIMEOUT (5400 s), JOBS,
#   BENCH_EF (32,64,96,128: every system's ef sweep; must contain ragd's default ef 128),
#   BENCH_INDEX_EF ($BENCH_EF,160,192: ragd's backend in process),
#   BENCH_SKIP_PEERS=1 (no FAISS SQ8 or USearch rows), BENCH_PEER_TIMEOUT (1800 s, USearch),
#   BENCH_UPSERT_CLIENTS (1: ragd's collections are written by one client, batches of 1,000 in
#   order, so that ragd's graph is the one its backend builds in process from the same batches:
#   the same walk on both sides, and the same graph in every run; 2 interleaves two clients'
#   batches, and the graph, its recall and the equal-recall ef then vary from run to run),
#   BENCH_PAIRED_ROUNDS (100: issue 16's ratios again from paired rounds, the systems measured
#   in alternation, bench/README.md "Session 17: paired rounds"; 0 skips),
#   BENCH_PAIRED_SLICE (200 queries).
set -euo pipefail
BUILD_DIR=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_N:-100000}
QUERIES=${BENCH_QUERIES:-1000}
OUT=${BENCH_OUT:-$ROOT/bench/results/quant-100k.jsonl}
CACHE=${BENCH_CACHE:-$BUILD_DIR/bench-cache}
TIMEOUT=${BENCH_TIMEOUT:-5400}
EF=${BENCH_EF:-32,64,96,128}
PEER_TIMEOUT=${BENCH_PEER_TIMEOUT:-1800}
# ragd's backend in process also past the default ef, so that INT8 "at equal or better recall"
# than hnswlib at the default ef is found in the same run (targets: *_at_equal_recall).
INDEX_EF=${BENCH_INDEX_EF:-$EF,160,192}
UPSERT_CLIENTS=${BENCH_UPSERT_CLIENTS:-1}
PAIRED_ROUNDS=${BENCH_PAIRED_ROUNDS:-100}
PAIRED_SLICE=${BENCH_PAIRED_SLICE:-200}
read -r -a EXTRA <<< "${BENCH_ARGS:-}"
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  echo "bench-quant.sh: $BUILD_DIR is not a configured build directory (run make build first)" >&2
  exit 2
fi
cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target ragd ragd_vector_bench
mkdir -p "$(dirname "$OUT")"
if [ "${BENCH_SKIP_PEERS:-0}" = 1 ]; then
  FAISS=(--skip-faiss)
else
  # Only the SQ8 index: ';' separates factory strings, so the comma stays inside this one.
  FAISS=(--faiss-factories 'HNSW32,SQ8' --faiss-ef-sweep "$EF")
fi
echo "bench-quant.sh: $N x 1536, $QUERIES queries (about 30-40 minutes on 2 idle cores at" \
  "100k with 5-second loads, and some 8 more for the paired rounds' builds," \
  "plus the peers: FAISS SQ8's build is the slowest part)" >&2
status=0
timeout --kill-after=30 "$TIMEOUT" "$BUILD_DIR/bench/ragd_vector_bench" \
  --n "$N" --queries "$QUERIES" "${FAISS[@]}" --with-index --quantization none,f16,int8 \
  --oversampling 0,2 --ragd-quantization none,int8 --clients 1,2 --batch-size 64 \
  --upsert-clients "$UPSERT_CLIENTS" \
  --paired-rounds "$PAIRED_ROUNDS" --paired-slice "$PAIRED_SLICE" \
  --ef-sweep "$EF" --index-ef-sweep "$INDEX_EF" --cache-dir "$CACHE" --out "$OUT" "${EXTRA[@]}" \
  > /dev/null || status=$?

# USearch reads the data set and ground truth that the run above used, from the cache file its
# "dataset" record names, and appends its rows to the same results file. Optional like
# js-tiktoken in bench.sh: without Node or the package, the run says so in the results file.
peer_error() {
  echo "bench-quant.sh: $1" >&2
  printf '{"bench":"error","system":"usearch","threads":0,"error":"%s"}\n' "$1" >> "$OUT"
}
if [ "${BENCH_SKIP_PEERS:-0}" != 1 ]; then
  DATA_FILE=$(python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        r = json.loads(line)
    except json.JSONDecodeError:
        continue
    if r.get("bench") == "dataset" and r.get("cache_file"):
        print(r["cache_file"])
        break
' "$OUT" 2>/dev/null || true)
  if [ -z "$DATA_FILE" ] || [ ! -f "$DATA_FILE" ]; then
    peer_error "no cached data set named in $OUT: USearch not measured"
  elif ! command -v node > /dev/null; then
    peer_error "node not found: USearch not measured"
  elif [ ! -d "$ROOT/bench/node_modules/usearch" ] &&
       ! { command -v npm > /dev/null &&
           npm ci --prefix "$ROOT/bench" --no-audit --no-fund >&2; }; then
    peer_error "npm usearch unavailable (npm missing or npm ci failed): USearch not measured"
  else
    echo "bench-quant.sh: USearch f32/f16/i8 on $DATA_FILE" >&2
    # --expose-gc lets the script free each index before measuring the next one's memory.
    timeout --kill-after=30 "$PEER_TIMEOUT" node --expose-gc "$ROOT/bench/usearch_peer.mjs" \
      --cache "$DATA_FILE" --ef "$EF" --build-threads "$(nproc)" >> "$OUT" ||
      peer_error "bench/usearch_peer.mjs failed or timed out (exit $?)"
  fi
fi
python3 "$ROOT/bench/summarize.py" "$OUT" || true
exit "$status"
