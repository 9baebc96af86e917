#!/usr/bin/env bash
# Builds and runs the benchmarks (vector, then tokenizer, ingest, answer, load), then prints summary
# tables (see bench/README.md).
# Usage: scripts/bench.sh [BUILD_DIR]          (make bench calls it with $(BUILD_DIR))
#
# Environment (all optional):
#   BENCH_N=100000 BENCH_QUERIES=1000 BENCH_DIM=1536   data set size
#   BENCH_ARGS="--skip-faiss"                         extra vector_bench flags
#   BENCH_CACHE=build/bench-cache                     data set + ground truth cache (shared
#                                                     with hnswlib -march=native's child run)
#   BENCH_TIMEOUT=5400                                seconds before the main run is stopped
#   BENCH_SIMD=1 BENCH_SIMD_N=20000                   also compare hnswlib built for
#                                                     x86-64-v3 and for generic x86-64 (0: skip)
#   JOBS=2                                            build parallelism
#   BENCH_SKIP_VECTOR=1 BENCH_SKIP_TOKENIZER=1        skip a benchmark (run just one: skip
#   BENCH_SKIP_INGEST=1 BENCH_SKIP_ANSWER=1           the other three)
#   BENCH_INGEST_ARGS="--max-docs 2000 --max-seconds 60"  ragd_ingest_bench flags
#   BENCH_ANSWER_ARGS="--n 20000 --calls 500"         ragd_answer_bench flags (default n: 100000)
#   BENCH_TOKENIZER_ARGS="--min-seconds 2"            ragd_tokenizer_bench flags
#   BENCH_SKIP_LOAD=1                                 skip the overload run (ragd_load)
#   BENCH_LOAD_ARGS="--seconds 20 --mix 9:1"          ragd_load flags
#   BENCH_SKIP_CLUSTER=1                              skip single-node vs cluster (ragd_cluster_bench)
#   BENCH_CLUSTER_ARGS="--points 10000"               ragd_cluster_bench flags (default 100000 points)
#   BENCH_SKIP_EVAL=1                                 skip the retrieval-quality run (eval.sh;
#                                                     EVAL_MODES, EVAL_SETS are passed on)
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
read -r -a TOKENIZER_ARGS <<< "${BENCH_TOKENIZER_ARGS:-}"
read -r -a INGEST_ARGS <<< "${BENCH_INGEST_ARGS:-}"
read -r -a ANSWER_ARGS <<< "${BENCH_ANSWER_ARGS:-}"
read -r -a LOAD_ARGS <<< "${BENCH_LOAD_ARGS:-}"
read -r -a CLUSTER_ARGS <<< "${BENCH_CLUSTER_ARGS:-}"
skip() { [ "${!1:-0}" = "1" ]; }

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  echo "bench.sh: $BUILD_DIR is not a configured build directory (run make build first)" >&2
  exit 2
fi
mkdir -p "$RESULTS"

targets=(ragd)
skip BENCH_SKIP_VECTOR || targets+=(ragd_vector_bench ragd_vector_bench_generic ragd_vector_bench_native)
skip BENCH_SKIP_TOKENIZER || targets+=(ragd_tokenizer_bench)
skip BENCH_SKIP_INGEST || targets+=(ragd_ingest_bench)
skip BENCH_SKIP_ANSWER || targets+=(ragd_answer_bench)
skip BENCH_SKIP_LOAD || targets+=(ragd_load)
skip BENCH_SKIP_CLUSTER || targets+=(ragd_cluster_bench)
cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target "${targets[@]}"

# Real documents written by nobody here: Debian's Python documentation (HTML for ingestion,
# its reST sources as English text for the tokenizer), an optional input. Installed once;
# when it cannot be installed, the ingest bench and the tokenizer's English corpus are skipped
# with a message (the tokenizer still measures the Korean corpus of tests/models/data/corpus).
PY_DOCS=/usr/share/doc/python3.11/html
if ! { skip BENCH_SKIP_TOKENIZER && skip BENCH_SKIP_INGEST; } && [ ! -d "$PY_DOCS/_sources" ]; then
  sudo_cmd=()
  [ "$(id -u)" = "0" ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y python3.11-doc >&2 ||
    { "${sudo_cmd[@]}" apt-get update >&2 && "${sudo_cmd[@]}" apt-get install -y python3.11-doc >&2; } ||
    echo "bench.sh: python3.11-doc could not be installed; the English documents are skipped" >&2
fi

status=0
if ! skip BENCH_SKIP_VECTOR; then
echo "bench.sh: $N x $DIM, $QUERIES queries (a default run takes 15-30 minutes on 2 cores)" >&2
timeout --kill-after=30 "$TIMEOUT" "$BUILD_DIR/bench/ragd_vector_bench" \
  --n "$N" --queries "$QUERIES" --dim "$DIM" --out "$RESULTS/latest.jsonl" \
  --cache-dir "${BENCH_CACHE:-$BUILD_DIR/bench-cache}" "${EXTRA[@]}" > /dev/null || status=$?

if [ "$SIMD" != "0" ]; then
  # Back to back at the same size, hnswlib only, so that both see the same machine.
  for variant in ragd_vector_bench ragd_vector_bench_generic; do
    timeout --kill-after=30 1800 "$BUILD_DIR/bench/$variant" --n "$SIMD_N" --queries "$QUERIES" \
      --dim "$DIM" --skip-ragd --skip-faiss --hnswlib-native '' \
      --out "$RESULTS/simd-$variant.jsonl" > /dev/null \
      || status=$?
  done
fi

python3 "$ROOT/bench/summarize.py" "$RESULTS/latest.jsonl"
if [ "$SIMD" != "0" ]; then
  python3 "$ROOT/bench/summarize.py" --simd "$RESULTS/simd-ragd_vector_bench.jsonl" \
    "$RESULTS/simd-ragd_vector_bench_generic.jsonl"
fi
fi

if ! skip BENCH_SKIP_TOKENIZER; then
  # js-tiktoken, pinned by bench/package-lock.json, from the npm registry: optional. Without
  # Node or npm, ragd alone is measured.
  js_flags=()
  if [ ! -d "$ROOT/bench/node_modules/js-tiktoken" ] &&
     ! { command -v npm > /dev/null && npm ci --prefix "$ROOT/bench" --no-audit --no-fund >&2; }; then
    echo "bench.sh: js-tiktoken unavailable (npm missing or npm ci failed): ragd measured alone" >&2
    js_flags=(--skip-js)
  fi
  echo "bench.sh: tokenizer (ragd vs js-tiktoken), about 1-2 minutes" >&2
  timeout --kill-after=30 1200 "$BUILD_DIR/bench/ragd_tokenizer_bench" \
    --out "$RESULTS/tokenizer.jsonl" "${js_flags[@]}" "${TOKENIZER_ARGS[@]}" > /dev/null ||
    status=$?
  python3 "$ROOT/bench/summarize.py" "$RESULTS/tokenizer.jsonl"
fi
if ! skip BENCH_SKIP_INGEST && [ ! -d "$PY_DOCS" ] && [ -z "${BENCH_INGEST_ARGS:-}" ]; then
  echo "bench.sh: ingest skipped: no HTML under $PY_DOCS (apt-get install python3.11-doc)" >&2
elif ! skip BENCH_SKIP_INGEST; then
  echo "bench.sh: ingest (local embedder, then fake Azure under a quota), about 3 minutes" >&2
  timeout --kill-after=30 1200 "$BUILD_DIR/bench/ragd_ingest_bench" \
    --out "$RESULTS/ingest.jsonl" "${INGEST_ARGS[@]}" > /dev/null || status=$?
  python3 "$ROOT/bench/summarize.py" "$RESULTS/ingest.jsonl"
fi
if ! skip BENCH_SKIP_ANSWER; then
  echo "bench.sh: answer overhead, about 6-12 minutes at 100k chunks (most of it loading)" >&2
  timeout --kill-after=30 1800 "$BUILD_DIR/bench/ragd_answer_bench" \
    --out "$RESULTS/answer.jsonl" "${ANSWER_ARGS[@]}" > /dev/null || status=$?
  python3 "$ROOT/bench/summarize.py" "$RESULTS/answer.jsonl"
fi
if ! skip BENCH_SKIP_LOAD; then
  # A ragd of its own with one search worker and small queues, so that 2x its sustainable
  # rate is reachable by one client on the same 2 cores; the ramp finds that rate first.
  echo "bench.sh: overload (ramp, then 2x the sustainable rate), under a minute" >&2
  load_dir=$(mktemp -d)
  printf 'server:\n  workers: 1\n  max_queued_writes: 16\n  search_workers: 1\n  max_queued_searches: 16\n' \
    > "$load_dir/ragd.yaml"
  "$BUILD_DIR/bin/ragd" --config "$load_dir/ragd.yaml" --listen 127.0.0.1:0 \
    --port-file "$load_dir/port" --admin-listen "" --data-dir "$load_dir/data" \
    --log-level warn &
  load_pid=$!
  for _ in $(seq 100); do [ -s "$load_dir/port" ] && break; sleep 0.1; done
  if [ -s "$load_dir/port" ]; then
    timeout --kill-after=30 600 "$BUILD_DIR/bench/ragd_load" \
      --address "127.0.0.1:$(cat "$load_dir/port")" --pid "$load_pid" --setup-points 12000 \
      --dim 128 --flat --ramp --multiplier 2 --seconds 10 --mix 9:1 \
      --out "$RESULTS/load.jsonl" "${LOAD_ARGS[@]}" > /dev/null || status=$?
    python3 "$ROOT/bench/summarize.py" "$RESULTS/load.jsonl" || true
  else
    echo "bench.sh: ragd for the load run wrote no port file" >&2
    status=1
  fi
  kill -TERM "$load_pid" 2>/dev/null || true
  wait "$load_pid" || true
  rm -rf "$load_dir"
fi
if ! skip BENCH_SKIP_CLUSTER; then
  # 3 nats-server + 2 ragd pods on loopback against one ragd; needs nats-server
  # (scripts/install-deps.sh).
  echo "bench.sh: single node vs cluster, about 10-15 minutes at 100k x 1536" >&2
  timeout --kill-after=30 3600 "$BUILD_DIR/bench/ragd_cluster_bench" \
    --out "$RESULTS/cluster.jsonl" "${CLUSTER_ARGS[@]}" > /dev/null || status=$?
fi
if ! skip BENCH_SKIP_EVAL; then
  # Retrieval quality, ragd beside SQLite FTS5 on the same chunks (scripts/eval.sh).
  echo "bench.sh: retrieval quality (ragctl eval), a few minutes" >&2
  EVAL_OUT="$RESULTS/eval.jsonl" "$ROOT/scripts/eval.sh" "$BUILD_DIR" || status=$?
fi
echo "bench.sh: results in $RESULTS" >&2
exit "$status"
