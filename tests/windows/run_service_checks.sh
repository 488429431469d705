#!/usr/bin/env bash
# The Windows behaviour checks of agent/env and agent/http, each a small static .exe cross-compiled
# with mingw-w64 (warnings are errors) against the dependency prefix and run under wine:
#   service_smoke.exe    service session, folder watcher, console fallback; with --scm a real service in
#                        wine's SCM: install, start, STOP_PENDING during the drain, stop, uninstall
#   acl_check.exe        DACLs set with SetNamedSecurityInfoW read back as mode bits; private new folders
#   event_log_check.exe  the Event Log source's registry key and the sink
#   trust_check.exe      a test CA added to the ROOT store verifies a Linux `openssl s_server` with no
#                        ca_file; a server of another CA is refused
# Called by scripts/ci-windows.sh; alone:  tests/windows/run_service_checks.sh [--scm] [PREFIX]
# PREFIX defaults to /var/cache/opescare-ci/win-deps/current (it must hold .complete). Output and the
# wine prefix (created once) in build/windows/service-checks; another WINEPREFIX from the environment
# is used as it is.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
scm=()
prefix=""
for arg in "$@"; do
  case "$arg" in
    --scm) scm=(scm) ;;
    *) prefix="$arg" ;;
  esac
done
prefix="$(readlink -f "${prefix:-/var/cache/opescare-ci/win-deps/current}")"
if [ ! -f "$prefix/.complete" ]; then
  echo "run_service_checks: $prefix is not a finished dependency prefix (build it: scripts/build-windows-deps.sh)"
  exit 1
fi
out="$root/build/windows/service-checks"
mkdir -p "$out"

# The posix thread model: GCC 12's win32 model has no std::mutex or std::thread.
cxx=x86_64-w64-mingw32-g++-posix
flags=(-std=c++20 -O1 -g0 -Wall -Wextra -Wpedantic -Werror -I"$root" -isystem "$prefix/include"
       -D_WIN32_WINNT=0x0A00 -DOB_VERSION='"win-checks"' -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL)
ldflags=(-static -L"$prefix/lib")

# Compiles each source once into $out (the programs share most of them) into the array `objects`;
# a source is compiled again when it or any header of agent/ and tests/windows/ is newer than its object.
compile() {
  local src obj
  objects=()
  for src in "$@"; do
    obj="$out/$(echo "${src%.cpp}" | tr '/' '_').o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find agent tests/windows -name '*.h' -newer "$obj" | head -1)" ]; then
      "$cxx" "${flags[@]}" -c "$src" -o "$obj"
    fi
    objects+=("$obj")
  done
}

# link <exe> <libs...> -- <sources...>
link() {
  local exe="$1"
  shift
  local libs=()
  while [ "$1" != "--" ]; do
    libs+=("$1")
    shift
  done
  shift
  echo "run_service_checks: building $exe from $# sources"
  compile "$@"
  "$cxx" "${ldflags[@]}" -o "$out/$exe" "${objects[@]}" "${libs[@]}"
}

base=(agent/util/status.cpp agent/env/env.cpp agent/env/win_text_win.cpp)
service_sources=("${base[@]}" agent/env/notify_socket_win.cpp agent/env/folder_watcher_win.cpp
                 agent/env/windows_service_win.cpp agent/env/service_session_win.cpp
                 agent/env/service_start_stop_win.cpp agent/env/event_log_win.cpp)
for f in agent/service/*.cpp; do
  case "$f" in *_posix.cpp) ;; *) service_sources+=("$f") ;; esac
done
link service_smoke.exe -lspdlog -lfmt -ladvapi32 -lshell32 -lole32 -luuid -- \
  "${service_sources[@]}" tests/windows/service_smoke.cpp
link acl_check.exe -ladvapi32 -- "${base[@]}" agent/env/acl_win.cpp agent/env/acl_mode.cpp tests/windows/acl_check.cpp
link event_log_check.exe -lspdlog -lfmt -ladvapi32 -- "${base[@]}" agent/env/event_log_win.cpp \
  tests/windows/event_log_check.cpp
link trust_check.exe -lssl -lcrypto -lcrypt32 -lws2_32 -lgdi32 -luser32 -ladvapi32 -lbcrypt -- \
  "${base[@]}" agent/env/os_trust_win.cpp agent/http/os_trust_store.cpp tests/windows/trust_check.cpp

source tests/windows/wineprefix.sh
ob_wine_prefix run_service_checks "$out/wineprefix" "$out/wineboot.log" || exit 0

# Two servers on loopback for trust_check: one with a certificate of a test CA the program puts in the
# ROOT store, one of a CA it never sees.
tls="$out/tls"
mkdir -p "$tls"
make_ca_and_server() {  # <name>
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1-ca" \
    -keyout "$tls/$1-ca.key" -out "$tls/$1-ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$tls/$1-server.key" -out "$tls/$1-server.csr" 2>/dev/null
  openssl x509 -req -in "$tls/$1-server.csr" -CA "$tls/$1-ca.pem" -CAkey "$tls/$1-ca.key" -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n') -out "$tls/$1-server.pem" 2>/dev/null
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
make_ca_and_server good
make_ca_and_server other
good_port="$(free_port)"
other_port="$(free_port)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  timeout 30 wineserver -k >/dev/null 2>&1 || true
}
trap cleanup EXIT
openssl s_server -accept "127.0.0.1:$good_port" -cert "$tls/good-server.pem" -key "$tls/good-server.key" -www -quiet \
  >"$out/s_server-good.log" 2>&1 &
pids+=($!)
openssl s_server -accept "127.0.0.1:$other_port" -cert "$tls/other-server.pem" -key "$tls/other-server.key" -www \
  -quiet >"$out/s_server-other.log" 2>&1 &
pids+=($!)
wait_port "$good_port" && wait_port "$other_port"

failed=()
run() {  # <exe> <args...>
  echo "run_service_checks: $* under $(wine --version)"
  local rc=0
  timeout 120 wine "$out/$1" "${@:2}" || rc=$?
  if [ $rc -ne 0 ]; then
    [ $rc -eq 124 ] && echo "run_service_checks: $1 timed out"
    failed+=("$1 (exit $rc)")
  fi
}
run service_smoke.exe "${scm[@]}"
# Key files with their modes set from Linux: wine derives their DACLs from these bits.
printf 'key\n' >"$out/private.key"
printf 'key\n' >"$out/shared.key"
chmod 600 "$out/private.key"
chmod 644 "$out/shared.key"
run acl_check.exe "$(winepath -w "$out/private.key")" "$(winepath -w "$out/shared.key")"
run event_log_check.exe
run trust_check.exe --ca "$(winepath -w "$tls/good-ca.pem")" --good-port "$good_port" --other-port "$other_port"
if [ ${#failed[@]} -ne 0 ]; then
  echo "run_service_checks: failed: ${failed[*]}"
  exit 1
fi
echo "run_service_checks: all four programs passed under wine"
