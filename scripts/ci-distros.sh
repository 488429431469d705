#!/usr/bin/env bash
# CI: the packages on real Debian 11, 12 and 13 roots (issue 13 part 3). Each root is debootstrapped
# (minbase) once into /var/cache/opescare-ci/roots (tests/e2e/roots.sh says how the cache is keyed) and
# copied per run; in each copy `apt-get install ./opescare-bridge_*.deb`, `version` and a `heartbeat`
# to the simulator on the host's loopback (tests/e2e/distro_checks.py). Needs root.
# Usage: bash scripts/ci-distros.sh [PACKAGE_DIR]   (default $OB_PACKAGE_DIR, else build/portable/packages)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
[ "$(id -u)" -ne 0 ] || bash scripts/install-deps.sh distros
source tests/e2e/roots.sh
ob_skip_unless_root "distro checks"

export OB_PACKAGE_DIR="$(realpath "${1:-${OB_PACKAGE_DIR:-build/portable/packages}}")"
export OB_SIMULATOR="${OB_SIMULATOR:-$root/build/ci/tools/simulator/opescare-simulator}"
[ -x "$OB_SIMULATOR" ] || { echo "no simulator at $OB_SIMULATOR: build the ci preset first (scripts/test.sh)"; exit 1; }
suites="$OB_DISTRO_SUITES"

ob_work_folder distros
work="$OB_WORK"
pids=() ; list=""
for suite in $suites; do
  ob_root "$suite" "$OB_DISTRO_ROOT_PACKAGES" >"$work/$suite.path" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for suite in $suites; do
  ob_copy_root "$(cat "$work/$suite.path")" "$work/$suite"
  # What a chroot lacks and maintainer scripts need: /proc (systemd-tmpfiles), /sys and its cgroups
  # (systemd-analyze verify on 247), /dev.
  for m in proc sys dev; do mount --rbind "/$m" "$work/$suite/$m"; done
  list="$list $suite=$work/$suite"
done
export OB_DISTRO_ROOTS="$list" OB_BUILD_DIR="$work" PYTHONDONTWRITEBYTECODE=1
python3 tests/e2e/distro_checks.py
