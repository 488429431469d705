#!/usr/bin/env python3
"""Idle benchmark (issue 11 point 6): the agent with nothing to do (60 s heartbeat, an empty watch folder, an
empty outbox) against the real simulator. Prints, from one run:

- start to first heartbeat: process start to the simulator accepting the first heartbeat (target <= 20 ms), on a
  first start (the outbox is created) and on a restart on the same outbox;
- idle RSS (VmRSS) and peak RSS (VmHWM) after the first heartbeat (target RSS <= 10 MB);
- the threads the process runs, by name;
- wakeups per second while idle, as context switches (voluntary + involuntary, summed over every thread of
  /proc/PID/task/*/status) over the window (target <= 1/s);
- CPU time used in the window.

Each figure is printed beside its target and their ratio. The reference for RSS is the same process image
before it starts work: `opescare-bridge version` (the binary and its libraries mapped, nothing else), measured
in the same run. Not a test. Builds nothing: point it at an optimised (RelWithDebInfo) build.

  OB_AGENT=build/ci/agent/app/opescare-bridge OB_SIMULATOR=build/ci/tools/simulator/opescare-simulator \\
      python3 bench/idle_bench.py [--window 30]
"""

import argparse
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

CLK_TCK = os.sysconf("SC_CLK_TCK")


def status_field(path, field):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split()[1]
    except FileNotFoundError:
        pass
    return None


def context_switches(pid):
    total = 0
    for task in glob.glob("/proc/%d/task/*/status" % pid):
        for field in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            v = status_field(task, field)
            total += int(v) if v else 0
    return total


def threads(pid):
    names = []
    for comm in sorted(glob.glob("/proc/%d/task/*/comm" % pid)):
        try:
            with open(comm) as f:
                names.append(f.read().strip())
        except FileNotFoundError:
            pass
    return names


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def reference_rss_kb(agent_binary):
    """VmHWM of `opescare-bridge version`: the image mapped and touched by a process that does no work."""
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", agent_binary, "version"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=30)
    return int(err.strip().splitlines()[-1])


def smaps_breakdown(pid, top=12):
    """Resident kB per mapping name (a file, [heap], [stack], or anonymous), largest first, from /proc/PID/smaps."""
    rss, anon = {}, {}
    name = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and not parts[0].endswith(":"):
                name = parts[5] if len(parts) > 5 else "[anonymous]"
            elif parts and parts[0] == "Rss:":
                rss[name] = rss.get(name, 0) + int(parts[1])
            elif parts and parts[0] == "Anonymous:":
                anon[name] = anon.get(name, 0) + int(parts[1])
    rows = sorted(rss.items(), key=lambda kv: -kv[1])
    lines = ["    %7.2f MB (%5.2f MB anonymous) %s" % (kb / 1024, anon.get(n, 0) / 1024, n) for n, kb in rows[:top]]
    rest = sum(kb for _, kb in rows[top:])
    lines.append("    %7.2f MB in %d other mappings; anonymous in all: %.2f MB"
                 % (rest / 1024, max(0, len(rows) - top), sum(anon.values()) / 1024))
    return lines


def row(name, value, unit, target, lower_is_better=True):
    ratio = value / target if target else float("nan")
    verdict = "meets" if (value <= target if lower_is_better else value >= target) else "misses"
    print("  %-34s %10.2f %-6s target %8.2f  ratio %.2f (%s)" % (name, value, unit, target, ratio, verdict))


def main():
    from agentproc import Agent, write_config
    from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until

    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=30.0, help="seconds of idle to count wakeups over")
    ap.add_argument("--smaps", action="store_true", help="also print where the idle RSS goes, per mapping")
    ap.add_argument("--keep-ssl-env", action="store_true",
                    help="leave SSL_CERT_FILE / SSL_CERT_DIR as this shell has them (by default they are removed, "
                         "as under the systemd unit: a set SSL_CERT_FILE is always parsed whole)")
    args = ap.parse_args()
    dropped = [] if args.keep_ssl_env else [k for k in ("SSL_CERT_FILE", "SSL_CERT_DIR") if os.environ.pop(k, None)]
    tmp = e2e_tmpdir("idle-bench-")
    key, _ = make_agent_key()
    with Simulator(tmp, agents={"agt_1": key}, http=False, extra_args=["--log-level", "warn"]) as sim:
        cfg = write_config(tmp, sim, log_level="warn", heartbeat_interval_seconds=60, sync_interval_seconds=60,
                           connector={"scan_interval_seconds": 30})
        t0 = time.time()
        agent = Agent(cfg, key=key).start()
        try:
            beats = wait_until(lambda: [h for h in sim.heartbeats() if h.get("status") == 200], 30,
                               interval=0.002, what="the first accepted heartbeat")
            first = beats[0].get("received_unix")
            start_ms = (first - t0) * 1000 if first else float("nan")
            time.sleep(3)  # settle: the first status refresh and the connector's first scan are done
            pid = agent.pid
            cs0, cpu0, w0 = context_switches(pid), cpu_seconds(pid), time.monotonic()
            time.sleep(args.window)
            cs1, cpu1, w1 = context_switches(pid), cpu_seconds(pid), time.monotonic()
            rss = int(status_field("/proc/%d/status" % pid, "VmRSS"))
            hwm = int(status_field("/proc/%d/status" % pid, "VmHWM"))
            names = threads(pid)
            where = smaps_breakdown(pid) if args.smaps else []
        finally:
            agent.stop()
        # A restart on the same outbox and folder: what a reboot or an upgrade costs (no outbox to create).
        seen = len([h for h in sim.heartbeats() if h.get("status") == 200])
        t0 = time.time()
        again = Agent(cfg, key=key).start()
        try:
            beats = wait_until(lambda: [h for h in sim.heartbeats() if h.get("status") == 200][seen:], 30,
                               interval=0.002, what="the first accepted heartbeat after the restart")
            first = beats[0].get("received_unix")
            restart_ms = (first - t0) * 1000 if first else float("nan")
        finally:
            again.stop()
    ref = reference_rss_kb(os.environ.get("OB_AGENT", "opescare-bridge"))
    seconds = w1 - w0
    print("idle agent, %.0f s window, load average %s" % (seconds, open("/proc/loadavg").read().split()[0]))
    if dropped:
        print("  (%s removed from the agent's environment, as under systemd)" % " and ".join(dropped))
    print("  threads: %d (%s)" % (len(names), ", ".join(names)))
    row("start to first heartbeat", start_ms, "ms", 20)
    row("  the same, restarted on its outbox", restart_ms, "ms", 20)
    row("idle RSS (VmRSS)", rss / 1024, "MB", 10)
    for line in where:
        print(line)
    print("  %-34s %10.2f MB" % ("peak RSS (VmHWM)", hwm / 1024))
    print("  %-34s %10.2f MB   idle RSS / reference %.2f" % ("reference: `version` VmHWM", ref / 1024, rss / ref))
    row("wakeups per second", (cs1 - cs0) / seconds, "/s", 1)
    print("  %-34s %10.3f %%" % ("CPU while idle", 100 * (cpu1 - cpu0) / seconds))


if __name__ == "__main__":
    main()
