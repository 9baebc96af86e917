#!/usr/bin/env bash
# Installs the pinned OpenAI Node SDK into the build tree (the openai_sdk fixture of CTest).
# Fails, never skips: a machine that cannot reach the npm registry does not get a green run
# without the SDK test.
#
# Usage: install_openai_sdk.sh PREFIX VERSION
set -u
prefix="$1"
version="$2"
if ! command -v npm >/dev/null 2>&1; then
  echo "openai_sdk_install: npm is not installed (Node.js 20 with npm is required for the OpenAI SDK test)" >&2
  exit 1
fi
installed=$(node -p "require('$prefix/node_modules/openai/package.json').version" 2>/dev/null)
if [ "$installed" = "$version" ]; then
  echo "openai@$version already installed in $prefix"
  exit 0
fi
mkdir -p "$prefix"
if ! npm install --prefix "$prefix" --no-audit --no-fund --save-exact "openai@$version" >&2; then
  echo "openai_sdk_install: 'npm install --prefix $prefix openai@$version' failed: the OpenAI SDK test cannot run without it (is the npm registry reachable?)" >&2
  exit 1
fi
installed=$(node -p "require('$prefix/node_modules/openai/package.json').version" 2>/dev/null)
if [ "$installed" != "$version" ]; then
  echo "openai_sdk_install: expected openai@$version in $prefix, found '${installed}'" >&2
  exit 1
fi
echo "openai@$version installed in $prefix"
