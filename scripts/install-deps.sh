#!/usr/bin/env bash
# Installs the Debian 12 packages ragd builds and tests with, only when some are missing.
# Idempotent: a second run with everything present does nothing and touches no network.
# Uses sudo only when not root.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libhnswlib-dev libfaiss-dev libopenblas-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcurl4-openssl-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev libcpp-httplib-dev libxxhash-dev libutf8proc-dev prometheus-cpp-dev openssl
  libssl-dev
  libgumbo-dev libpoppler-cpp-dev
  libicu-dev libstemmer-dev libsqlite3-dev libroaring-dev
  yamllint
  sqlite3-doc
  nats-server libnats-dev
)
# sqlite3-doc: the English evaluation corpus (bench/eval/README.md), checked by tests/cli.
# Node.js runs the evaluation sets' scripts and the npm-based tests; any node will do, and
# Debian's is the fallback when none is installed.
if ! command -v node >/dev/null 2>&1; then PACKAGES+=(nodejs); fi
# deploy/tests/validate.sh renders manifests with `kubectl kustomize`; any kubectl will do, and
# Debian's (1.20, kustomize v2.0.3) is the fallback when none is installed.
if ! command -v kubectl >/dev/null 2>&1; then PACKAGES+=(kubernetes-client); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
