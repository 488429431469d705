#!/usr/bin/env bash
# CI: builds the agent as the release preset does (RelWithDebInfo with -Werror; cpack strips it)
# in build/package, makes the .deb (and the .rpm when rpmbuild exists) with cpack, then checks them
# with tests/e2e/test_packaging.py: contents and modes, lintian, and installing/purging on this
# machine when run as root. Runnable on its own: bash scripts/ci-package.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build="$root/build/package"

bash scripts/install-deps.sh packaging
export CCACHE_BASEDIR="$root"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOB_WERROR=ON -DOB_BUILD_TESTS=OFF \
  -DOB_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target opescare-bridge -j "$(nproc)"
rm -rf "$build/packages"
(cd "$build" && cpack --config CPackConfig.cmake)
ls -l "$build/packages"

# As root (CI's throwaway machine) the test also installs, upgrades and purges the .deb here,
# cleaning up the user and folders it created; OB_PACKAGE_INSTALL=0 skips that.
if [ "$(id -u)" -eq 0 ]; then export OB_PACKAGE_INSTALL="${OB_PACKAGE_INSTALL:-1}"; fi
export OB_PACKAGE_DIR="$build/packages" OB_AGENT="$build/agent/app/opescare-bridge" OB_BUILD_DIR="$build" \
  OB_SOURCE_DIR="$root" PYTHONDONTWRITEBYTECODE=1
cd tests/e2e
python3 -m unittest -v test_packaging
