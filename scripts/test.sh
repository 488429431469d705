#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the whole test suite.
#   scripts/test.sh            optimised build (warnings are errors) in build/ci, all tests
#   scripts/test.sh asan       the same tests under AddressSanitizer + UBSan in build/asan
set -euo pipefail
cd "$(dirname "$0")/.."

preset="${1:-ci}"
case "$preset" in
  ci|asan|dev|release) ;;
  *) echo "usage: scripts/test.sh [ci|asan|dev|release]" >&2; exit 2 ;;
esac

bash scripts/install-deps.sh packaging browser
export CCACHE_BASEDIR="$PWD"
jobs=$(nproc)

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
# ASan/UBSan: fail on the first report, and keep leak checks on.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --preset "$preset" -j "$jobs" --timeout 1200
