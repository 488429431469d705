#!/usr/bin/env bash
# CI: the unit under a real systemd (issue 13 part 4). Boots a cached Debian minbase root with systemd and
# dbus under systemd-nspawn, installs the .deb with apt inside it and drives the service with
# nsenter + systemctl (tests/e2e/systemd_checks.py). Needs root and a kernel that allows systemd-nspawn;
# otherwise it prints a SKIP line. Usage: bash scripts/ci-systemd.sh [PACKAGE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
[ "$(id -u)" -ne 0 ] || bash scripts/install-deps.sh distros
source tests/e2e/roots.sh
ob_skip_unless_root "systemd checks" systemd-nspawn nsenter

export OB_PACKAGE_DIR="$(realpath "${1:-${OB_PACKAGE_DIR:-build/portable/packages}}")"
export OB_SIMULATOR="${OB_SIMULATOR:-$root/build/ci/tools/simulator/opescare-simulator}"
[ -x "$OB_SIMULATOR" ] || { echo "no simulator at $OB_SIMULATOR: build the ci preset first (scripts/test.sh)"; exit 1; }
suites="$OB_SYSTEMD_SUITES"
deb="$(ls "$OB_PACKAGE_DIR"/opescare-bridge_*.deb)"
lib_depends="$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | grep -c '^ *lib' || true)"

ob_work_folder systemd
work="$OB_WORK"
for suite in $suites; do
  if [ "$lib_depends" -gt 0 ] && [ "$suite" != bookworm ]; then
    # The dynamic .deb's Depends are Debian 12 library packages (issue 13): only the portable .deb goes here.
    echo "SKIP systemd checks on $suite: $(basename "$deb") Depends on $lib_depends library packages; use the portable .deb"
    continue
  fi
  cached="$(ob_root "$suite" "$OB_SYSTEMD_ROOT_PACKAGES")"
  ob_copy_root "$cached" "$work/$suite"
  # Fails here with a clear line, not later, when the kernel refuses the container.
  if ! systemd-nspawn -q -D "$work/$suite" --register=no --keep-unit /bin/true </dev/null >"$work/probe.log" 2>&1; then
    echo "SKIP systemd checks: systemd-nspawn cannot start a container here:"; cat "$work/probe.log"; exit 0
  fi
  echo "--- systemd checks on $suite"
  OB_SYSTEMD_ROOT="$work/$suite" OB_BUILD_DIR="$work" PYTHONDONTWRITEBYTECODE=1 python3 tests/e2e/systemd_checks.py
done
