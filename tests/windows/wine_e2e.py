#!/usr/bin/env python3
"""End to end: the Windows agent under wine against the Linux simulator on loopback (issue 12, part 4).

    python3 tests/windows/wine_e2e.py --agent-cmd "wine build/windows/agent/opescare-bridge.exe" \
        --simulator build/ci/tools/simulator/opescare-simulator
    python3 tests/windows/wine_e2e.py --agent-cmd build/ci/agent/app/opescare-bridge    # the same, natively

Checks, in this order (each prints what it saw; the exit code is 1 when one fails):
  check-config   config.example.yaml and the Python agent's bridge_config.json are valid (exit 0)
  heartbeat      accepted over verified TLS (http.ca_file = the test CA); a wrong CA is refused (exit 3, with
                 the certificate's reason); the key is in no output
  service        `run` as a service in wine's SCM: the sample CSV files dropped in the watch folder arrive at
                 the simulator field for field
  status-page    the agent's status server answers Linux on 127.0.0.1 and shows the queue (records held back by
                 a simulator outage), which then drains
  stop           a stop request (net stop) drains; the service ends with exit code 0; the outbox holds no row
  hard-kill      every process of the prefix killed mid-ingest of a large CSV, then restarted: every row arrives
                 exactly once (by record id; no duplicate at the simulator)

Natively (an --agent-cmd without wine) the service is `run` as a child process, stopped with SIGTERM and killed
with SIGKILL. The wine prefix is reused between runs (created once under --work); data folders are fresh.
"""

import argparse
import json
import os
import shutil
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "e2e"))
sys.path.insert(0, HERE)

from certs import make_ca  # noqa: E402
from simulator import Simulator, free_port, make_agent_key  # noqa: E402
from winectl import StepTimeout, Target  # noqa: E402
import wine_checks  # noqa: E402

CHECKS = [("check-config", wine_checks.check_config), ("heartbeat", wine_checks.check_heartbeat),
          ("service", wine_checks.check_service_delivery), ("status-page", wine_checks.check_status_page),
          ("stop", wine_checks.check_stop), ("hard-kill", wine_checks.check_hard_kill)]

# Checks known to fail because of an agent defect, with the reason printed beside the failure:
# {"check": {mode: "reason: command, output, who fixes it"}}, mode "wine-scm", "wine-console" or "native".
# A marked check that passes counts as a failure (XPASS) until its mark is removed.
EXPECTED_FAILURES = {}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agent-cmd", default=os.environ.get("OB_AGENT_CMD"),
                   help='"wine PATH/opescare-bridge.exe" or the native binary (env OB_AGENT_CMD)')
    p.add_argument("--simulator", default=os.environ.get("OB_SIMULATOR") or
                   os.path.join(SOURCE, "build", "ci", "tools", "simulator", "opescare-simulator"))
    p.add_argument("--work", default=os.path.join(SOURCE, "build", "wine-e2e"),
                   help="output folder; the wine prefix lives in WORK/wineprefix and is reused")
    p.add_argument("--prefix", help="the WINEPREFIX (default WORK/wineprefix)")
    p.add_argument("--rows", type=int, default=100000, help="rows of the large CSV of the hard-kill check")
    p.add_argument("--kill", choices=("sigkill", "wineserver"), default="sigkill",
                   help="hard kill: SIGKILL of the agent's process then wineserver -k, or wineserver -k alone")
    p.add_argument("--service-mode", choices=("scm", "console"), default="scm",
                   help="wine: run the agent as a service in wine's SCM (default), or `run` from a console")
    p.add_argument("--only", action="append", choices=[c for c, _ in CHECKS],
                   help="run only these checks (repeatable); the service checks start the service they need")
    args = p.parse_args(argv)
    if not args.agent_cmd:
        p.error("--agent-cmd is required (or set OB_AGENT_CMD)")
    if not os.access(args.simulator, os.X_OK):
        p.error("no simulator binary at %s (build it: cmake --preset ci && cmake --build --preset ci)"
                % args.simulator)
    return args


class Context:
    """What the checks share: the target, the simulator, the folders, the configuration written for the agent,
    and every piece of agent output seen (scanned for the key at the end)."""

    def __init__(self, args, target, key, data, tls, sim):
        self.args = args
        self.target = target
        self.key = key
        self.data = data
        self.tls = tls
        self.sim = sim
        self.incoming = os.path.join(data, "incoming")
        self.outbox = os.path.join(data, "outbox.db")
        self.log = os.path.join(data, "agent.log")
        self.key_file = os.path.join(data, "agent.key")
        self.status_port = free_port()
        self.config = os.path.join(data, "config.yaml")
        self.outputs = []
        self.service = None
        self.service_ready = False
        self.service_broken = None  # why the service could not be started: later checks say so at once

    def say(self, text):
        print("  " + text.replace("\n", "\n    "), flush=True)

    def seen(self, r):
        """Keeps an agent command's output for the key scan; returns it."""
        self.outputs.append(r.stdout + r.stderr)
        return r

    def agent_config(self, ca_file=None, inline_key=False):
        """The configuration for the agent (JSON, which is YAML), every path as the agent names it."""
        p = self.target.path
        cfg = {
            "server_url": self.sim.url, "agent_id": "agt_win", "facility_id": "fac-1",
            "heartbeat_interval_seconds": 10, "sync_interval_seconds": 2, "log_level": "info",
            "log": {"file": p(self.log)},
            "outbox": {"path": p(self.outbox)},
            "batch": {"max_records": 2000, "max_bytes": 4 * 1024 * 1024},
            "retry": {"initial_backoff_seconds": 0.2, "max_backoff_seconds": 1},
            "connector": {"watch_folder": p(self.incoming), "settle_seconds": 0.5, "scan_interval_seconds": 2},
            "status": {"listen": "127.0.0.1:%d" % self.status_port},
            "http": {"ca_file": p(ca_file or self.tls["ca"]), "connect_timeout_seconds": 5,
                     "request_timeout_seconds": 20},
        }
        if inline_key:
            cfg["agent_key"] = self.key
        else:
            cfg["agent_key_file"] = p(self.key_file)
        return cfg

    def write_config(self, name, cfg):
        path = os.path.join(self.data, name)
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        os.chmod(path, 0o600)
        return path


def setup(args, work):
    data, tls_dir, sim_dir = (os.path.join(work, n) for n in ("data", "tls", "sim"))
    for d in (data, tls_dir, sim_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    ca = make_ca(tls_dir, "test-ca", cn="OB Wine E2E Test CA", days=2)
    cert, cert_key = ca.issue("simulator", hosts=("127.0.0.1", "localhost"), days=2)
    other = make_ca(tls_dir, "other-ca", cn="OB Wine E2E Other CA", days=2)
    return data, {"ca": ca.cert, "other_ca": other.cert, "cert": cert, "key": cert_key}, sim_dir


def run_checks(ctx, selected):
    mode = "wine-" + ctx.args.service_mode if ctx.target.wine else "native"
    results = []
    for name, fn in CHECKS:
        if selected and name not in selected:
            continue
        print("\n== %s" % name, flush=True)
        started = time.monotonic()
        error = None
        try:
            fn(ctx)
        except (AssertionError, StepTimeout, TimeoutError) as e:
            error = str(e)
        except Exception:  # a broken step, not a verdict: shown in full
            error = traceback.format_exc()
        took = time.monotonic() - started
        mark = EXPECTED_FAILURES.get(name, {}).get(mode)
        if error and mark:
            verdict = "XFAIL"
            ctx.say("FAILED as expected (%s): %s" % (mark, error))
        elif error:
            verdict = "FAIL"
            ctx.say("FAILED: " + error)
        elif mark:
            verdict = "XPASS"
            ctx.say("passed although marked as an expected failure (%s): remove the mark" % mark)
        else:
            verdict = "PASS"
        print("%s %s (%.1f s)" % (verdict, name, took), flush=True)
        results.append((name, verdict, took))
    return results


def main(argv=None):
    args = parse_args(argv)
    t0 = time.monotonic()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    key, _ = make_agent_key()
    data, tls, sim_dir = setup(args, work)
    target = Target.from_command(args.agent_cmd, args.prefix or os.path.join(work, "wineprefix"), key, data)
    print("wine_e2e: agent %s; simulator %s; work %s" % (target.name, args.simulator, work), flush=True)
    results = []
    sim = Simulator(sim_dir, agents={"agt_win": key}, http=False, binary=args.simulator, cert_file=tls["cert"],
                    key_file=tls["key"], ca_file=tls["ca"])
    try:
        target.prepare(lambda s: print("  " + s, flush=True))
        if target.wine:
            target.wine.kill_server()  # nothing of an earlier run left in the prefix
        sim.start()
        print("wine_e2e: simulator on %s (CA %s) after %.1f s" % (sim.url, tls["ca"], time.monotonic() - t0))
        ctx = Context(args, target, key, data, tls, sim)
        wine_checks.prepare_service_config(ctx)
        results = run_checks(ctx, set(args.only or ()))
        leaks = [i for i, text in enumerate(ctx.outputs + [wine_checks.read(ctx.log)]) if key in text]
        if leaks:
            results.append(("key-never-shown", "FAIL", 0.0))
            print("FAIL key-never-shown: the agent key appears in %d of the %d outputs seen (indexes %s)"
                  % (len(leaks), len(ctx.outputs) + 1, leaks))
    finally:
        if sim.proc is not None:
            sim.stop()
        # The prefix is reused: leave no registration behind for the next run's checks (service_smoke's too).
        service = getattr(locals().get("ctx"), "service", None)
        if service is not None:
            service.remove(lambda line: print("  " + line, flush=True))
        target.finish()
    total = time.monotonic() - t0
    failed = [n for n, v, _ in results if v in ("FAIL", "XPASS")]
    print("\nwine_e2e: %s in %.0f s: %s" % ("FAILED" if failed else "passed", total,
                                             ", ".join("%s %s %.0fs" % (n, v, t) for n, v, t in results)))
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
