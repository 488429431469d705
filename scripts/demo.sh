#!/usr/bin/env bash
# The README's run command: the agent's main job.
#   scripts/demo.sh                 builds, starts the local OpesCare simulator over HTTPS on loopback,
#                                   writes a demo configuration under build/demo/, drops the sample CSV
#                                   exports into the watch folder, and runs the agent until Ctrl-C.
#   scripts/demo.sh --config FILE   builds and runs the agent against the server FILE configures.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

config=""
if [ "${1:-}" = "--config" ]; then
  config="${2:?--config needs a file}"
  config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
fi

bash scripts/install-deps.sh
export CCACHE_BASEDIR="$root"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target opescare-bridge opescare-simulator
agent="$root/build/release/agent/app/opescare-bridge"
simulator="$root/build/release/tools/simulator/opescare-simulator"

if [ -n "$config" ]; then
  exec "$agent" run --config "$config"
fi

demo="$root/build/demo"
rm -rf "$demo"
mkdir -p "$demo/incoming"
chmod 700 "$demo"

# A fresh agent key; the simulator is given only its SHA-256, as OpesCare stores it.
key="demo_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
key_hash=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
printf '%s\n' "$key" > "$demo/agent.key"
chmod 600 "$demo/agent.key"

"$simulator" --https-port 0 --http-port -1 --admin-port 0 --agent "agt_demo:$key_hash" \
  --ca-out "$demo/simulator-ca.pem" --ready-file "$demo/simulator.json" --log-level warn \
  >"$demo/simulator.out" 2>"$demo/simulator.log" &
sim_pid=$!
agent_pid=""
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

for _ in $(seq 1 100); do
  [ -s "$demo/simulator.json" ] && break
  sleep 0.1
done
[ -s "$demo/simulator.json" ] || { echo "demo: the simulator did not start; see $demo/simulator.log" >&2; exit 1; }
port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["https_port"])' "$demo/simulator.json")
admin=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_port"])' "$demo/simulator.json")

cat > "$demo/config.yaml" <<YAML
# Demo configuration written by scripts/demo.sh: the agent against the local simulator.
server_url: https://127.0.0.1:$port
agent_id: agt_demo
agent_key_file: $demo/agent.key
facility_id: fac_demo
heartbeat_interval_seconds: 10
sync_interval_seconds: 30
log_level: info
outbox:
  path: $demo/outbox.db
http:
  ca_file: $demo/simulator-ca.pem
connector:
  watch_folder: $demo/incoming
  settle_seconds: 1
status:
  listen: 127.0.0.1:0
YAML

cp "$root"/tests/data/samples/*.csv "$demo/incoming/" 2>/dev/null || true

echo "demo: simulator on https://127.0.0.1:$port (counters: http://127.0.0.1:$admin/_sim/stats)"
echo "demo: agent configuration $demo/config.yaml; sample exports dropped into $demo/incoming"
echo "demo: Ctrl-C stops both"
"$agent" run --config "$demo/config.yaml" &
agent_pid=$!
# What OpesCare (the simulator) has accepted so far, every 10 s, beside the agent's own log.
(
  while kill -0 "$agent_pid" 2>/dev/null; do
    sleep 10
    python3 - "$admin" <<'PY' || true
import json, sys, urllib.request
s = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_sim/stats" % sys.argv[1], timeout=2))
print("demo: OpesCare simulator has accepted %d heartbeats and %d records (%d batches)"
      % (s["heartbeats"], s["records_unique"], s["batches"]), flush=True)
PY
  done
) &
wait "$agent_pid" || true
agent_pid=""
echo "demo: stopped; the agent's outbox is $demo/outbox.db (try: $agent status --config $demo/config.yaml)"
