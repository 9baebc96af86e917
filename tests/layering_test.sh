#!/usr/bin/env bash
# Fails when an arrow of the house runs the wrong way (README "Layout", ../STYLE):
#
#   services/server -> services/api -> {rag, cluster} -> ingest -> {index, models} -> common
#   services/server -> services/http -> {rag, services/api's method table (methods.h)}
#   services/api -> proto;  cli -> proto (and nothing of the engine)
#   cluster -> its private log format (ragd/cluster/v1/log.proto, ragd_cluster_proto) and
#   libnats, both seen only in cluster/'s .cc files; the private pod-to-pod read service
#   (ragd/cluster/v1/shards.proto, ragd_cluster_rpc_proto) is gRPC, so only services/api sees it
#
# Checked from the code's own includes (every .h and .cc of each folder), from the public
# headers (third-party types stay inside their adapter: a header ending in _internal.h is
# private to its folder), and from the link line of ragctl in the build tree: the CLI is a wire
# client and must not link RocksDB, FAISS, poppler or any engine library.
#
# Usage: layering_test.sh SOURCE_DIR [BUILD_DIR]   (BUILD_DIR: checks ragctl's link line too)
set -u
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
build="${2:-}"
cd "$root" || exit 2
fail=0
checks=0

# check DIR PATTERN WHY [EXCLUDE_DIR]: no .h/.cc under DIR may match PATTERN.
check() {
  local hits
  checks=$((checks + 1))
  if [ -n "${4:-}" ]; then
    hits=$(grep -rnE --include='*.h' --include='*.cc' --exclude-dir="$4" "$2" "$1" 2>/dev/null)
  else
    hits=$(grep -rnE --include='*.h' --include='*.cc' "$2" "$1" 2>/dev/null)
  fi
  if [ -n "$hits" ]; then
    echo "layering violation: $3"
    echo "$hits"
    fail=1
  fi
}

# Includes of project folders, lowest layer first.
check common '#include "(index|models|ingest|rag|services|cli|proto|ragd)/' \
  "common/ includes a higher layer"
check index '#include "(models|ingest|rag|services|cli|ragd)/' \
  "index/ includes models, ingest, rag, services or cli"
check models '#include "(index|ingest|rag|services|cli|ragd)/' \
  "models/ includes index, ingest, rag, services or cli"
check ingest '#include "(rag|services|cli|ragd)/' "ingest/ includes rag, services or cli"
check rag '#include "(services|cli|ragd)/' "rag/ includes services, cli or generated code"
check cluster '#include "(models|rag|services|cli)/' \
  "cluster/ includes models, rag, services or cli (it depends on index, ingest and common)"
check cluster '#include "ragd/v1/' \
  "cluster/ includes the public wire contract (ragd.v1): its log format is ragd/cluster/v1"
for d in common index models ingest rag; do
  check "$d" '#include "(cluster|ragd/cluster)/' "$d/ includes cluster/ (a higher layer)"
done
check cli '#include "(cluster|ragd/cluster)/' "cli/ includes cluster/ or its private log format"
check services/api '#include "(services/server|cli)/' \
  "services/api includes services/server or cli (the server composes the API, not the reverse)"
check services/http '#include "(services/server|cli|ragd)/' \
  "services/http includes services/server, cli or generated code"
# Of the gRPC edge, the HTTP front uses only the method table and the Authorizer (methods.h).
checks=$((checks + 1))
hits=$(grep -rnE --include='*.h' --include='*.cc' '#include "services/api/' services/http 2>/dev/null |
  grep -v '#include "services/api/methods.h"')
if [ -n "$hits" ]; then
  echo "layering violation: services/http includes a gRPC handler of services/api (only methods.h)"
  echo "$hits"
  fail=1
fi
check services/server '#include "cli/' "services/server includes cli"
check cli '#include "(index|models|ingest|rag|services|common/concurrency)/' \
  "cli/ includes an engine library of ragd: it is a wire client (proto, gRPC, common/)"

# Generated protobuf code and gRPC at the edge only (services/, cli/).
for d in common index models ingest rag; do
  check "$d" '(\.pb\.h"|#include <grpc)' "$d/ includes generated protobuf code or gRPC"
done

# The log format stays inside cluster/ (its .cc files), libnats too: no other folder includes
# them, and no public header of cluster/ does.
check services '#include "ragd/cluster/v1/log' "services/ includes cluster/'s private log format"
check services/server '#include "ragd/cluster/' \
  "services/server includes a private cluster proto (the Shards service is services/api's)"
check cluster '#include "ragd/cluster/v1/shards' \
  "cluster/ includes the generated pod-to-pod gRPC service (cluster/router.h's ShardTransport is its interface)"
check services '#include <nats/' "services/ includes libnats (a PRIVATE dependency of cluster/)"
for d in common index models ingest rag cli; do
  check "$d" '#include <nats/' "$d/ includes libnats (a PRIVATE dependency of cluster/)"
done

# Third-party headers in public headers: each wrapped library stays in its adapter's .cc (or
# in a header ending in _internal.h, private to its folder).
public_headers() {
  find "$@" -name '*.h' ! -name '*_internal.h' 2>/dev/null
}
third_party() {  # third_party WHY PATTERN DIR...
  local why="$1" pattern="$2" hits
  shift 2
  checks=$((checks + 1))
  hits=$(public_headers "$@" | xargs -r grep -nE "$pattern" 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "third-party header in a public header ($why):"
    echo "$hits"
    fail=1
  fi
}
third_party "hnswlib, FAISS and RocksDB stay in index/'s adapters" \
  '#include <(hnswlib|faiss|rocksdb)/' common index models ingest rag services
third_party "ICU and libstemmer stay in index/lexical's .cc files" \
  '#include <(unicode/|libstemmer\.h)' common index models ingest rag services cli
third_party "CRoaring stays in index/metadata's .cc files" \
  '#include <roaring/' common index models ingest rag services cli
third_party "libnats and the generated log format stay in cluster/'s .cc files" \
  '(#include <nats/|\.pb\.h")' cluster
third_party "yaml-cpp stays in services/server's config parsers" \
  '#include <yaml-cpp/' common index models ingest rag services cli
third_party "nlohmann-json, libcurl, spdlog, prometheus and httplib stay in .cc files (or _internal.h)" \
  '#include <(nlohmann/|curl/|spdlog/|prometheus/|httplib)' common index models ingest rag services \
  cluster

# The CLI's link line: no engine library, RocksDB, FAISS or poppler.
if [ -n "$build" ]; then
  link="$build/cli/CMakeFiles/ragctl.dir/link.txt"
  checks=$((checks + 1))
  if [ ! -f "$link" ]; then
    echo "no link line for ragctl at $link (build the tree first)"
    fail=1
  elif grep -qE 'librocksdb|libfaiss|libpoppler|libgumbo|libnats|libragd_(engine|index|storage|models|ingest|rag|cluster|api|server|concurrency)' "$link"; then
    echo "ragctl links an engine library: $(tr ' ' '\n' < "$link" | grep -E 'rocksdb|faiss|poppler|gumbo|libragd_' | tr '\n' ' ')"
    fail=1
  fi
  # The HTTP front compiles without the generated code (no proto include directory).
  flags="$build/services/http/CMakeFiles/ragd_http.dir/flags.make"
  checks=$((checks + 1))
  if [ ! -f "$flags" ]; then
    echo "no compile flags for ragd_http at $flags (build the tree first)"
    fail=1
  elif grep -E '^CXX_INCLUDES' "$flags" | grep -q -- "-I$build/proto"; then
    echo "ragd_http sees the generated protobuf code (it links ragd_proto or ragd_api)"
    fail=1
  fi
  binary="$build/bin/ragctl"
  if [ -x "$binary" ]; then
    checks=$((checks + 1))
    libs=$(ldd "$binary" 2>/dev/null | grep -E 'librocksdb|libfaiss|libpoppler|libgumbo|libopenblas')
    if [ -n "$libs" ]; then
      echo "ragctl loads engine libraries at run time:"
      echo "$libs"
      fail=1
    fi
  fi
fi

if [ "$fail" -eq 0 ]; then echo "$checks checks: 1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$fail"
