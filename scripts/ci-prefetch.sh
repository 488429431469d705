#!/usr/bin/env bash
# CI: builds ahead of time, at the lowest priority, the slow and deterministic things later steps need:
# the Windows dependency prefix (scripts/build-windows-deps.sh) and the cached Debian roots
# (tests/e2e/roots.sh). .ci/run starts it in the background while the tests run, which leave much of
# the CPU idle (timers, sleeps, simulators); each cache has its own lock, so a step that needs one
# before it is done waits for it and then reuses it. Reuses what is cached already.
set -uo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
nice -n 19 bash scripts/build-windows-deps.sh >/dev/null && echo "prefetch: Windows prefix ready after $((SECONDS - t0)) s"
if [ "$(id -u)" -eq 0 ] && command -v debootstrap >/dev/null; then
  source tests/e2e/roots.sh
  for suite in $OB_DISTRO_SUITES; do nice -n 19 bash -c "source tests/e2e/roots.sh; ob_root $suite $OB_DISTRO_ROOT_PACKAGES" >/dev/null & done
  for suite in $OB_SYSTEMD_SUITES; do nice -n 19 bash -c "source tests/e2e/roots.sh; ob_root $suite $OB_SYSTEMD_ROOT_PACKAGES" >/dev/null & done
  wait
  echo "prefetch: Debian roots ready after $((SECONDS - t0)) s"
fi
