#!/usr/bin/env bash
# CI: builds the portable (fully static) agent with the `portable` preset in build/portable, makes
# the .deb (and the .rpm when rpmbuild exists) with cpack and the tarball with
# packaging/tarball.cmake, all in build/portable/packages/, then checks them with
# tests/e2e/test_packaging.py: contents and modes, no library dependencies, lintian, install.sh
# into a folder root, and installing/purging on this machine when run as root.
# Runnable on its own: bash scripts/ci-package.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build="$root/build/portable"

bash scripts/install-deps.sh packaging
export CCACHE_BASEDIR="$root"

cmake --preset portable >/dev/null
nice -n 10 cmake --build --preset portable --target opescare-bridge -j "$(nproc)"
rm -rf "$build/packages"
(cd "$build" && cpack --config CPackConfig.cmake)
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
cmake -DOB_BINARY="$build/agent/app/opescare-bridge" -DOB_SOURCE_DIR="$root" -DOB_BUILD_DIR="$build" \
  -DOB_VERSION="$version" -P packaging/tarball.cmake
ls -l "$build/packages"

# As root (CI's throwaway machine) the test also installs, upgrades and purges the .deb here,
# cleaning up the user and folders it created; OB_PACKAGE_INSTALL=0 skips that.
if [ "$(id -u)" -eq 0 ]; then export OB_PACKAGE_INSTALL="${OB_PACKAGE_INSTALL:-1}"; fi
export OB_PACKAGE_DIR="$build/packages" OB_AGENT="$build/agent/app/opescare-bridge" OB_BUILD_DIR="$build" \
  OB_SOURCE_DIR="$root" PYTHONDONTWRITEBYTECODE=1
cd tests/e2e
python3 -m unittest -v test_packaging portable_checks
