#!/usr/bin/env python3
"""Backlog benchmark (issue 10 point 3): FILES exports of ROWS rows each waiting in the watch folder when the
agent starts, with systemd's watchdog protocol on a NOTIFY_SOCKET (WATCHDOG_USEC 2 s: a ping every second).
Prints the longest gap between WATCHDOG=1 pings during the ingest, whether batches were delivered before the
last file was queued, and the time from SIGTERM (sent half-way through the backlog) to exit. Not a test;
targets: gap <= 1 s (plus the ping period), stop <= 2 s. Builds nothing: point it at a RelWithDebInfo build.

  OB_AGENT=build/rel/agent/app/opescare-bridge OB_SIMULATOR=build/rel/tools/simulator/opescare-simulator \\
      python3 bench/backlog_bench.py [--files 60] [--rows 100000]
"""

import argparse
import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from agentproc import Agent, write_config  # noqa: E402
from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until  # noqa: E402
from test_service_signals import NotifyListener, notify_env  # noqa: E402


def write_backlog(folder, files, rows):
    os.makedirs(folder, exist_ok=True)
    for f in range(files):
        path = os.path.join(folder, "patients_backlog_%03d.csv" % f)
        with open(path, "w") as out:
            out.write("first_name,last_name,dob,sex,phone\n")
            for i in range(rows):
                out.write("Name%d_%d,Backlog,1990-07-22,female,+2376%08d\n" % (f, i, i))
        old = time.time() - 3600
        os.utime(path, (old, old))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--rows", type=int, default=100000)
    args = ap.parse_args()
    tmp = e2e_tmpdir("backlog-bench-")
    incoming = os.path.join(tmp, "incoming")
    t = time.monotonic()
    write_backlog(incoming, args.files, args.rows)
    print("backlog: %d files x %d rows written in %.1f s" % (args.files, args.rows, time.monotonic() - t))
    key, _ = make_agent_key()
    sock = os.path.join(tmp, "notify.sock")
    with Simulator(tmp, agents={"agt_1": key}, extra_args=["--log-level", "warn"]) as sim, \
            NotifyListener(sock, max_seconds=3600) as n:
        cfg = write_config(tmp, sim, log_level="info", sync_interval_seconds=1)
        agent = Agent(cfg, key=key, env=notify_env(sock, 2000000)).start()
        try:
            n.wait_for("READY", "1", timeout=60)
            t_ready = time.monotonic()
            pattern = re.compile(r"connector: patients_backlog_\d+\.csv: queued")
            wait_until(lambda: len(pattern.findall(agent.log_text())) >= args.files // 2, 3600, what="half queued")
            delivered_mid = sim.stats()["records_unique"]
            t_term = time.monotonic()
            agent.send_signal(signal.SIGTERM)
            code = agent.proc.wait(timeout=120)
            t_exit = time.monotonic()
        finally:
            if agent.alive():
                agent.kill()
        pings = [p for p, _, _ in n.assignments("WATCHDOG") if p >= t_ready and p <= t_term]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        queued = len(pattern.findall(agent.log_text()))
    print("ingest: %d of %d files queued in %.1f s before SIGTERM; %d records already delivered by then"
          % (queued, args.files, t_term - t_ready, delivered_mid))
    print("watchdog: %d pings during the ingest, longest gap %.2f s (ping period 1 s)"
          % (len(pings), max(gaps) if gaps else float("nan")))
    print("stop: exit code %s, %.2f s from SIGTERM to exit" % (code, t_exit - t_term))


if __name__ == "__main__":
    main()
