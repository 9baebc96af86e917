#!/usr/bin/env bash
# Fails when a lower layer includes a higher one (the house layering):
#   common <- index, models <- ingest <- services; generated protobuf code in services only.
set -u
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root" || exit 2
fail=0
check() {  # check DIR PATTERN WHY
  local hits
  hits=$(grep -rnE --include='*.h' --include='*.cc' "$2" "$1" 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "layering violation: $3"
    echo "$hits"
    fail=1
  fi
}
check common   '#include "(index|models|ingest|services|proto)/' "common/ includes a higher layer"
check index    '#include "(models|ingest|services|proto)/' "index/ includes models, ingest or services"
check models   '#include "(index|ingest|services|proto)/' "models/ includes index, ingest or services"
check ingest   '#include "(services|proto)/' "ingest/ includes services"
for d in common index models ingest; do
  check "$d" '\.pb\.h"' "$d/ includes generated protobuf code (services/ only)"
done
# Third-party types stay inside their adapter's .cc.
hdr=$(grep -rlE '#include <(hnswlib|faiss|rocksdb)/' index --include='*.h' 2>/dev/null)
if [ -n "$hdr" ]; then echo "third-party header in a public header: $hdr"; fail=1; fi
if [ "$fail" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$fail"
