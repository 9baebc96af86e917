#!/usr/bin/env bash
# Installs one pinned npm package into the build tree (a CTest fixture of the browser test).
# Fails, never skips: a machine that cannot reach the npm registry does not get a green run
# without the test that needs the package.
#
# Usage: install_npm_package.sh PREFIX PACKAGE VERSION
set -u
prefix="$1"
package="$2"
version="$3"
if ! command -v npm >/dev/null 2>&1; then
  echo "install_npm_package: npm is not installed (Node.js 20 with npm is required for $package)" >&2
  exit 1
fi
installed=$(node -p "require('$prefix/node_modules/$package/package.json').version" 2>/dev/null)
if [ "$installed" = "$version" ]; then
  echo "$package@$version already installed in $prefix"
  exit 0
fi
mkdir -p "$prefix"
# PUPPETEER_SKIP_DOWNLOAD: puppeteer-core downloads nothing, but say so for any tool that would;
# the tests use Debian's /usr/bin/chromium.
# Up to 3 attempts, 5 s apart: the two install fixtures run side by side under ctest -j2 and
# share npm's cache (~/.npm), and one transient registry or cache error (npm retries a fetch
# but not a failed cache move) would otherwise fail every test of the fixture, and the run.
ok=0
for attempt in 1 2 3; do
  if PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$prefix" --no-audit --no-fund --save-exact \
      "$package@$version" >&2; then
    ok=1
    break
  fi
  echo "install_npm_package: attempt $attempt of 3 failed" >&2
  [ "$attempt" -lt 3 ] && sleep 5
done
if [ "$ok" != 1 ]; then
  echo "install_npm_package: 'npm install --prefix $prefix $package@$version' failed 3 times: the test cannot run without it (is the npm registry reachable?)" >&2
  exit 1
fi
installed=$(node -p "require('$prefix/node_modules/$package/package.json').version" 2>/dev/null)
if [ "$installed" != "$version" ]; then
  echo "install_npm_package: expected $package@$version in $prefix, found '${installed}'" >&2
  exit 1
fi
echo "$package@$version installed in $prefix"
