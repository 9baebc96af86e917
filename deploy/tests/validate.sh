#!/usr/bin/env bash
# Offline validation of deploy/ (no cluster, no Docker engine), run by CTest as
# deploy_manifests_test and by hand from anywhere:  bash deploy/tests/validate.sh
#   1. yamllint over deploy/ (deploy/.yamllint);
#   2. kubectl kustomize renders the base, the dev, prod and cluster overlays and the optional
#      ServiceMonitor, backups and admin-tls overlays;
#   3. every rendered object is checked against the Kubernetes schemas and ragd's deployment
#      rules (validate-manifests.mjs; npm packages from the committed package-lock.json,
#      installed with `npm ci` when node_modules is missing), and the validator must reject
#      testdata/invalid-manifests.yaml; with a ragd binary (RAGD_BINARY, or ../bin/ragd
#      from CTest's working directory) ragd --print-config parses each rendered configuration;
#   3b. the cluster overlay's nats.conf is parsed by nats-server -t (when installed);
#   4. deploy/docker/Dockerfile is linted (lint_dockerfile.py, with its own self-test).
# Prints one line per check, then "N passed, M failed"; exits 1 on any failure.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL  $1"
  if [ -n "${2:-}" ] && [ -s "$2" ]; then sed 's/^/      | /' "$2"; fi
}
# run NAME COMMAND...: one check; the command's output is shown only when it fails.
run() {
  local name="$1"
  shift
  if "$@" >"$work/out" 2>&1; then pass "$name"; else fail "$name" "$work/out"; fi
}

cd "$root" || exit 1

# 1. yamllint
if command -v yamllint >/dev/null 2>&1; then
  run "yamllint deploy/" yamllint -s -c deploy/.yamllint deploy/
else
  fail "yamllint deploy/: yamllint is not installed (Debian package yamllint; scripts/install-deps.sh installs it)"
fi

# 2. kustomize
renders=(base=deploy/k8s/base dev=deploy/k8s/overlays/dev prod=deploy/k8s/overlays/prod
         servicemonitor=deploy/k8s/optional/servicemonitor backups=deploy/k8s/optional/backups
         admin-tls=deploy/k8s/optional/admin-tls cluster=deploy/k8s/overlays/cluster)
rendered=()
if command -v kubectl >/dev/null 2>&1; then
  echo "      kubectl $(kubectl version --client 2>/dev/null | tr '\n' ' ')"
  for r in "${renders[@]}"; do
    name="${r%%=*}"
    dir="${r#*=}"
    # kustomize v5 warns on stderr about bases:/patchesStrategicMerge: (kept for v2.0.3, see
    # deploy/k8s/base/kustomization.yaml); stderr is shown only when rendering fails.
    if kubectl kustomize "$dir" >"$work/$name.yaml" 2>"$work/$name.err"; then
      pass "kubectl kustomize $dir"
      rendered+=("$name=$work/$name.yaml")
    else
      fail "kubectl kustomize $dir" "$work/$name.err"
    fi
  done
else
  fail "kubectl kustomize: kubectl is not installed (Debian package kubernetes-client; scripts/install-deps.sh installs it when kubectl is missing)"
fi

# 3. schemas and rules
# Every package of the lock file must come from the npm registry with a pinned integrity hash:
# no git, file or other-host sources. (Written with omit-lockfile-registry-resolved, the lock holds
# no "resolved" URLs: npm ci then fetches from the configured registry and checks the hashes.)
lock_check='
  const lock = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const bad = [];
  for (const [path, p] of Object.entries(lock.packages ?? {})) {
    if (path === "") continue;
    if (p.resolved && !p.resolved.startsWith("https://registry.npmjs.org/")) bad.push(`${path}: ${p.resolved}`);
    if (/[:\/]/.test(p.version ?? "")) bad.push(`${path}: version ${p.version}`);
    if (!p.link && !/^sha512-/.test(p.integrity ?? "")) bad.push(`${path}: no sha512 integrity`);
  }
  if (bad.length) { console.log(bad.join("\n")); process.exit(1); }'
if command -v node >/dev/null 2>&1; then
  run "package-lock.json: registry.npmjs.org sources only, sha512 integrity pinned" \
    node -e "$lock_check" "$here/package-lock.json"
fi

node_ok=0
if ! command -v node >/dev/null 2>&1; then
  fail "node: Node.js is not installed (needed by validate-manifests.mjs)"
elif [ -d "$here/node_modules/kubernetes-models" ]; then
  node_ok=1
elif npm ci --prefix "$here" --no-audit --no-fund >"$work/npm" 2>&1; then
  pass "npm ci --prefix deploy/tests"
  node_ok=1
else
  fail "npm ci --prefix deploy/tests (needs the npm registry once)" "$work/npm"
fi

if [ "$node_ok" = 1 ]; then
  ragd="${RAGD_BINARY:-}"
  if [ -z "$ragd" ] && [ -x "$OLDPWD/../bin/ragd" ]; then ragd="$OLDPWD/../bin/ragd"; fi
  ragd_args=()
  if [ -n "$ragd" ]; then
    ragd_args=(--ragd "$ragd")
    echo "      ragd --print-config checks with $ragd"
  else
    echo "      ragd --print-config checks skipped (no RAGD_BINARY, no ../bin/ragd)"
  fi
  for r in "${rendered[@]}"; do
    name="${r%%=*}"
    if node "$here/validate-manifests.mjs" "${ragd_args[@]}" "$r" >"$work/v" 2>&1; then
      pass "schemas and rules: $name ($(tail -1 "$work/v"))"
    else
      grep -v '^  ok' "$work/v" >"$work/vf"
      fail "schemas and rules: $name" "$work/vf"
    fi
  done

  # The validator must catch each defect of the known-bad file.
  node "$here/validate-manifests.mjs" bad="$here/testdata/invalid-manifests.yaml" >"$work/bad" 2>&1
  status=$?
  missing=()
  for want in "/spec/replicas must be integer" "must have required property name" \
      "schema known for apps/v1 Deploymnet" "ragd: readOnlyRootFilesystem true" \
      "readinessProbe is a native gRPC probe" "image ragd:latest" "volume scratch exists" \
      "targetPort grpc is a container port" \
      "livenessProbe is an httpGet of /livez or /readyz on the admin port, scheme HTTPS" \
      "RAGD_CLUSTER__POD_ID is the pod name" "livenessProbe is /livez, not the lag-following"; do
    grep -q "FAIL .*$want" "$work/bad" || missing+=("$want")
  done
  if [ "$status" -ne 0 ] && [ ${#missing[@]} -eq 0 ]; then
    pass "validator rejects every defect of testdata/invalid-manifests.yaml"
  else
    printf 'exit status %s; not reported: %s\n' "$status" "${missing[*]:-}" >"$work/badm"
    fail "validator rejects every defect of testdata/invalid-manifests.yaml" "$work/badm"
  fi
fi

# 3b. nats.conf of the cluster overlay, parsed by the nats-server the tests use (Debian's 2.9.10):
# its one 2.10+ option (jetstream.sync_interval) is taken out first, and the pod's paths are
# moved under the scratch directory.
if command -v nats-server >/dev/null 2>&1; then
  sed -e '/sync_interval:/d' -e "s|/data/jetstream|$work/js|" -e "s|/var/run/nats/|$work/|" \
    deploy/k8s/overlays/cluster/nats.conf >"$work/nats.conf"
  run "nats-server -t deploy/k8s/overlays/cluster/nats.conf (without sync_interval, a 2.10 option)" \
    env POD_NAME=nats-0 nats-server -c "$work/nats.conf" -t
fi

# 4. Dockerfile
run "lint_dockerfile.py --self-test" python3 "$here/lint_dockerfile.py" --self-test
lint_args=()
# With apt's package lists present (after apt-get update), also check the runtime package names.
if compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null && command -v apt-cache >/dev/null; then
  lint_args=(--apt-cache)
fi
run "lint deploy/docker/Dockerfile ${lint_args[*]:-}" \
  python3 "$here/lint_dockerfile.py" "${lint_args[@]}" deploy/docker/Dockerfile

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
