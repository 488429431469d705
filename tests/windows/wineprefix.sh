# Shared by scripts/ci-windows.sh and tests/windows/run_service_checks.sh (source this file).
# ob_wine_prefix WHO DIR LOG: exports the wine environment for the prefix DIR (unless WINEPREFIX is set
# already: a caller's prefix is reused) and creates the prefix once. wineserver -w: wineboot returns before
# the prefix is settled, and a service registered right after it is not found (error 1060). Returns 1, having
# said why, when wine is missing or the prefix cannot be made: the caller skips its wine runs.
ob_wine_prefix() {
  local who="$1" dir="$2" log="$3"
  if ! command -v wine >/dev/null 2>&1; then
    echo "$who: wine not installed: built but not run under wine (skipped)"
    return 1
  fi
  export WINEPREFIX="${WINEPREFIX:-$dir}" WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
  [ -f "$WINEPREFIX/system.reg" ] && return 0
  echo "$who: creating the wine prefix $WINEPREFIX (once)"
  if ! { timeout 180 wineboot --init && timeout 120 wineserver -w; } >"$log" 2>&1; then
    echo "$who: wineboot failed or timed out (see $log): run under wine skipped"
    return 1
  fi
}
