#!/bin/sh
# Every benchmark of bench/ against one optimised build, one after another; each prints its figures beside
# their reference and the ratio, and each step first prints the machine's load. Not a test; builds nothing.
#
#   sh bench/run_all.sh [BUILD_DIR]        (default build/ci, the RelWithDebInfo `ci` preset)
#
# slowlink_bench.py needs root, nftables and iproute2: it is skipped (and says so) otherwise. About 12 minutes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/ci}
export OB_AGENT="$build/agent/app/opescare-bridge" OB_SIMULATOR="$build/tools/simulator/opescare-simulator"
for f in "$OB_AGENT" "$OB_SIMULATOR" "$build/bench/outbox_bench" "$build/bench/ingest_bench" "$build/bench/gzip_bench"; do
  [ -x "$f" ] || { echo "run_all: $f is missing: build $build first (cmake --build --preset ci)" >&2; exit 2; }
done
step() { printf '\n== %s  (load average %s, %s)\n' "$1" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(date -u +%H:%M:%SZ)"; }

step "outbox_bench: enqueue against the bare prepared INSERT; drain (form + ack) with no network"
"$build/bench/outbox_bench" --rows 500000 --drain 200000
step "ingest_bench: the CSV pipeline against the parser alone and a null sink"
"$build/bench/ingest_bench" --rows 500000
step "gzip_bench: libdeflate levels against zlib-6 (0.1.0's)"
"$build/bench/gzip_bench" --rows 500 --rounds 7
step "drain_bench: the agent to the fast sink and to the simulator, each against its own ceiling"
python3 "$here/drain_bench.py" --records 200000
step "wire_bench: bytes per record up and down, gzip against none"
python3 "$here/wire_bench.py" --rows 100000
step "idle_bench: start to first heartbeat, idle RSS against \`version\`, threads, wakeups"
python3 "$here/idle_bench.py" --window 30
step "backlog_bench: watchdog gaps and stop time while a backlog is ingested"
python3 "$here/backlog_bench.py" --files 20 --rows 100000
step "slowlink_bench: the agent over an emulated clinic link against a bulk upload of the same bytes"
if [ "$(id -u)" = 0 ] && command -v nft >/dev/null 2>&1; then
  python3 "$here/slowlink_bench.py"
else
  echo "SKIP: slowlink_bench.py needs root and nftables (apt-get install nftables)"
fi
