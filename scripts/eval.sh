#!/usr/bin/env bash
# Retrieval quality of ragd against a SQLite FTS5 BM25 baseline over the same chunks, on the
# evaluation sets of bench/eval/ (README there: provenance, formats). For each set: a fresh
# ragd on a temporary data directory, a collection with the offline "local" embedder, the
# documents ingested, ragd's chunks exported to ragd_fts5_rank, then `ragctl eval` judging
# ragd's retrieval modes and the baseline(s) in one run. Writes bench/results/eval.jsonl (a
# header line with the machine, then one object per set, system and slice) and prints the
# tables.
#
# Usage: scripts/eval.sh [BUILD_DIR]      (make eval; also the last step of make bench)
# Environment (optional):
#   EVAL_MODES="all"            ragctl eval --mode values (space-separated; all = vector, text
#                               and hybrid; default = the server's choice)
#   EVAL_SETS="ko en"           which sets to run
#   EVAL_OUT=bench/results/eval.jsonl
#   EVAL_VARIANTS="rm3:RAGD_RETRIEVAL__TEXT_FEEDBACK_DOCS=10 ..."
#                               server settings to compare with the defaults in the same run:
#                               per variant (NAME:VAR=VALUE[,VAR=VALUE...]), ragd is restarted
#                               on the same data with those environment settings and the text
#                               and hybrid modes are judged again, as systems ragd-text-NAME
#                               and ragd-hybrid-NAME (targets.py checks only the defaults)
#   EVAL_EMBEDDER=local         the embedder the sets' collections are bound to: `local` (the
#                               offline default, what issue 15's targets are judged on) or the
#                               name of an `embedders:` entry of EVAL_CONFIG, e.g. ada-002, to
#                               measure hybrid retrieval with a semantic vector leg
#   EVAL_CONFIG=FILE            a ragd YAML configuration for every ragd of the run (--config)
#   EVAL_RANKS=DIR              also write every question's rank and top documents per system
#                               (ragctl eval --ranks) to DIR/SET.ranks.jsonl (variants:
#                               DIR/SET.NAME.ranks.jsonl), to compare systems question by question
set -euo pipefail

BUILD_DIR=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EVAL_DIR="$ROOT/bench/eval"
OUT=${EVAL_OUT:-$ROOT/bench/results/eval.jsonl}
read -r -a MODES <<< "${EVAL_MODES:-all}"
read -r -a SETS <<< "${EVAL_SETS:-ko en}"
read -r -a VARIANTS <<< "${EVAL_VARIANTS:-}"
EMBEDDER=${EVAL_EMBEDDER:-local}
CONFIG_ARGS=()
if [ -n "${EVAL_CONFIG:-}" ]; then
  if [ ! -f "$EVAL_CONFIG" ]; then
    echo "eval.sh: EVAL_CONFIG=$EVAL_CONFIG is not a file" >&2
    exit 2
  fi
  CONFIG_ARGS=(--config "$(cd "$(dirname "$EVAL_CONFIG")" && pwd)/$(basename "$EVAL_CONFIG")")
fi

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  echo "eval.sh: $BUILD_DIR is not a configured build directory (run make build first)" >&2
  exit 2
fi
cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target ragd ragctl ragd_fts5_rank
RAGD="$BUILD_DIR/bin/ragd"
RAGCTL="$BUILD_DIR/bin/ragctl"
RANK="$BUILD_DIR/bench/ragd_fts5_rank"

WORK=$(mktemp -d)
ragd_pid=""
cleanup() {
  if [ -n "$ragd_pid" ]; then kill -TERM "$ragd_pid" 2>/dev/null || true; wait "$ragd_pid" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$(dirname "$OUT")"
mode_flags=()
for m in "${MODES[@]}"; do mode_flags+=(--mode "$m"); done
{
  printf '{"kind":"header","date":"%s","host":"%s","cpu":"%s","cores":%s,"ragd":"%s","modes":"%s","embedder":"%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(hostname)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" "$(nproc)" \
    "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" "${MODES[*]}" "$EMBEDDER"
} > "$OUT"

# Runs one evaluation set: $1 name, $2 documents JSONL, $3 questions JSONL.
run_set() {
  local name=$1 docs=$2 questions=$3 dir="$WORK/$1"
  if [ ! -f "$docs" ] || [ ! -f "$questions" ]; then
    echo "eval.sh: set $name skipped: $docs or $questions is missing" >&2
    return 0
  fi
  mkdir -p "$dir"
  local ctl=()
  start_ragd "$dir" || return 1
  if ! "${ctl[@]}" collections create "$name" --embedder "$EMBEDDER" > /dev/null; then
    echo "eval.sh: cannot create collection $name with embedder $EMBEDDER" \
      "(EVAL_EMBEDDER names local or an embedders: entry of EVAL_CONFIG)" >&2
    return 1
  fi
  "${ctl[@]}" ingest "$docs" --collection "$name" --format jsonl > "$dir/ingest.txt"
  # ragd's own chunks, for the baseline to index.
  "$RANK" --ids "$docs" > "$dir/ids.txt"
  : > "$dir/chunks.jsonl"
  while IFS= read -r id; do
    "${ctl[@]}" --json documents get --collection "$name" "$id" >> "$dir/chunks.jsonl"
  done < "$dir/ids.txt"
  "$RANK" --chunks "$dir/chunks.jsonl" --questions "$questions" > "$dir/fts5.jsonl"
  "$RANK" --chunks "$dir/chunks.jsonl" --questions "$questions" --tokenizer trigram \
    > "$dir/fts5-trigram.jsonl"
  local baselines=(--baseline "fts5=$dir/fts5.jsonl" --baseline "fts5-trigram=$dir/fts5-trigram.jsonl")
  echo "== $name: $(wc -l < "$dir/ids.txt") documents, $(wc -l < "$questions") questions"
  local ranks=()
  [ -n "${EVAL_RANKS:-}" ] && mkdir -p "$EVAL_RANKS" && ranks=(--ranks "$EVAL_RANKS/$name.ranks.jsonl")
  "${ctl[@]}" eval "$questions" --collection "$name" "${mode_flags[@]}" "${baselines[@]}" "${ranks[@]}"
  "${ctl[@]}" --json eval "$questions" --collection "$name" "${mode_flags[@]}" "${baselines[@]}" |
    sed "s/^{/{\"set\":\"$name\",/" >> "$OUT"
  # Hybrid on its original definition too (reciprocal rank fusion, k 60), beside the server's
  # default fusion (retrieval.hybrid_fusion), so the choice of default stays visible.
  "${ctl[@]}" --json eval "$questions" --collection "$name" --mode hybrid --fusion rrf |
    sed -e "s/^{/{\"set\":\"$name\",/" -e 's/"system":"ragd-hybrid"/"system":"ragd-hybrid-rrf"/' >> "$OUT"
  stop_ragd
  local variant vname vname_env
  for variant in "${VARIANTS[@]}"; do
    vname=${variant%%:*}
    IFS=',' read -r -a vname_env <<< "${variant#*:}"
    start_ragd "$dir" "${vname_env[@]}" || return 1
    ranks=()
    [ -n "${EVAL_RANKS:-}" ] && ranks=(--ranks "$EVAL_RANKS/$name.$vname.ranks.jsonl")
    echo "== $name, variant $variant"
    "${ctl[@]}" eval "$questions" --collection "$name" --mode text --mode hybrid "${ranks[@]}"
    "${ctl[@]}" --json eval "$questions" --collection "$name" --mode text --mode hybrid |
      sed -e "s/^{/{\"set\":\"$name\",\"variant\":\"$variant\",/" \
        -e "s/\"system\":\"ragd-text\"/\"system\":\"ragd-text-$vname\"/" \
        -e "s/\"system\":\"ragd-hybrid\"/\"system\":\"ragd-hybrid-$vname\"/" >> "$OUT"
    stop_ragd
  done
}

# Starts ragd on $1/data (environment settings VAR=VALUE after it) and sets `ctl` to a ragctl
# command line that reaches it.
start_ragd() {
  local dir=$1
  shift
  rm -f "$dir/port"
  env "$@" "$RAGD" "${CONFIG_ARGS[@]}" --listen 127.0.0.1:0 --port-file "$dir/port" \
    --admin-listen "" --data-dir "$dir/data" --log-level warn &
  ragd_pid=$!
  for _ in $(seq 300); do [ -s "$dir/port" ] && break; sleep 0.1; done
  if [ ! -s "$dir/port" ]; then
    echo "eval.sh: ragd wrote no port file" >&2
    return 1
  fi
  ctl=("$RAGCTL" --address "127.0.0.1:$(cat "$dir/port")" --timeout 120)
  for _ in $(seq 100); do "${ctl[@]}" collections list > /dev/null 2>&1 && break; sleep 0.2; done
}

stop_ragd() {
  kill -TERM "$ragd_pid"
  wait "$ragd_pid" || true
  ragd_pid=""
}

# Both corpora are made at run time by the Node scripts of bench/eval/ (the Korean one from the
# test corpus in the repository, the English one from Debian's sqlite3-doc, installed here when
# missing); without Node a set is skipped with a message.
if ! command -v node > /dev/null; then
  echo "eval.sh: node not found: no evaluation set can be made (bench/eval/README.md)" >&2
  exit 0
fi
for set in "${SETS[@]}"; do
  case "$set" in
    ko)
      node "$EVAL_DIR/make_passages.mjs" "$ROOT/tests/services/data/corpus" > "$WORK/ko_passages.jsonl"
      run_set ko "$WORK/ko_passages.jsonl" "$EVAL_DIR/ko_questions.jsonl"
      ;;
    en)
      if [ ! -f /usr/share/doc/sqlite3/lang.html ]; then
        sudo_cmd=()
        [ "$(id -u)" = "0" ] || sudo_cmd=(sudo)
        "${sudo_cmd[@]}" apt-get install -y -qq sqlite3-doc >&2 ||
          { "${sudo_cmd[@]}" apt-get update -qq >&2 && "${sudo_cmd[@]}" apt-get install -y -qq sqlite3-doc >&2; } ||
          true
      fi
      if ! node "$EVAL_DIR/en_docs_make.mjs" > "$WORK/en_docs.jsonl" || [ ! -s "$WORK/en_docs.jsonl" ]; then
        echo "eval.sh: the English pages could not be made (apt-get install sqlite3-doc): set en skipped" >&2
        continue
      fi
      run_set en "$WORK/en_docs.jsonl" "$EVAL_DIR/en_questions.jsonl"
      ;;
    *)
      echo "eval.sh: unknown set $set (ko, en)" >&2
      exit 2
      ;;
  esac
done
# The issue's targets, read off this run's rows: per set and slice, hybrid (the server's default
# fusion) against FTS5 (unicode61) and vector-only on hit@1 and hit@5, and text-only against FTS5.
python3 "$ROOT/bench/eval/targets.py" "$OUT" --append || true
echo "eval.sh: results in $OUT"
