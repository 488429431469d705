#!/usr/bin/env python3
"""Drain benchmark (issue 4): N queued records of ~200 bytes delivered by the agent to the simulator over TLS on
loopback, with gzip and without. Prints records/s (agent start to the simulator holding every record), bytes on
the wire per record, the agent's peak RSS (VmHWM) and the CPU time of the agent and of the simulator. Not a test;
targets: >= 50,000 records/s, peak RSS <= 64 MB. Builds nothing: point it at a RelWithDebInfo build.

  OB_AGENT=build/rel/agent/app/opescare-bridge OB_SIMULATOR=build/rel/tools/simulator/opescare-simulator \\
      python3 bench/drain_bench.py [--records 200000] [--batch 500] [--compression gzip none]
"""

import argparse
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_status_kb(pid, field):
    """A `field: N kB` line of /proc/<pid>/status, in kB (0 once the process is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def proc_cpu_seconds(pid):
    """(user, system) CPU seconds of a live process, from /proc/<pid>/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def run_once(args, compression, ndjson, n):
    from agentproc import Agent, run_cli, write_config
    from simulator import Simulator, e2e_tmpdir, make_agent_key

    tmp = e2e_tmpdir("drain-%s-" % compression) if os.environ.get("OB_BUILD_DIR") else None
    if tmp is None:
        import tempfile
        tmp = tempfile.mkdtemp(prefix="drain-%s-" % compression, dir=args.workdir)
    key, _ = make_agent_key()
    result = {"compression": compression}
    try:
        with Simulator(tmp, agents={"agt_1": key}, http=False, extra_args=["--log-level", "warn"]) as sim:
            cfg = write_config(tmp, sim, log_level="warn", sync_interval_seconds=5,
                               batch={"max_records": args.batch, "max_bytes": args.batch_bytes},
                               http={"compression": compression},
                               delivery={"max_in_flight": args.max_in_flight})
            t = time.monotonic()
            r = run_cli(["enqueue", ndjson], cfg, key=key, timeout=600)
            if r.returncode != 0:
                raise RuntimeError("enqueue failed: %s%s" % (r.stdout, r.stderr))
            result["enqueue_s"] = time.monotonic() - t

            sim_cpu0 = proc_cpu_seconds(sim.proc.pid)
            agent = Agent(cfg, key=key)
            t0 = time.monotonic()
            agent.start()
            first_at, peak_rss, samples = None, 0, 0
            deadline = t0 + args.timeout
            while True:
                unique = sim.stats()["records_unique"]
                peak_rss = max(peak_rss, proc_status_kb(agent.pid, "VmRSS"))
                samples += 1
                if unique and first_at is None:
                    first_at = time.monotonic()
                if unique >= n:
                    break
                if not agent.alive():
                    raise RuntimeError("agent exited (code %s):\n%s" % (agent.proc.returncode, agent.log_text()[-3000:]))
                if time.monotonic() > deadline:
                    raise RuntimeError("only %d of %d records after %d s" % (unique, n, args.timeout))
                time.sleep(0.02)
            t1 = time.monotonic()
            agent_cpu = proc_cpu_seconds(agent.pid)
            sim_cpu1 = proc_cpu_seconds(sim.proc.pid)
            hwm = proc_status_kb(agent.pid, "VmHWM")
            code = agent.stop()
            stats = sim.stats()
            result.update(
                seconds=t1 - t0, drain_seconds=t1 - (first_at or t0), rate=n / (t1 - t0),
                wire_per_record=stats["bytes_received"] / max(1, stats["records_total"]),
                inflated_per_record=(stats["bytes_inflated"] or stats["bytes_received"]) / max(1, stats["records_total"]),
                hwm_mb=max(hwm, peak_rss) / 1024.0, agent_user=agent_cpu[0], agent_sys=agent_cpu[1],
                sim_cpu=(sim_cpu1[0] - sim_cpu0[0]) + (sim_cpu1[1] - sim_cpu0[1]), exit_code=code,
                batches=stats["batches"], duplicates=stats["records_duplicate"], handshakes=stats["tls_handshakes"],
                unique=stats["records_unique"])
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def ceiling_once(args, compression, records):
    """The sink's own ceiling: the same records as pre-built sync bodies (gzipped beforehand when compression is
    gzip), POSTed back to back over one kept-alive TLS connection to a fresh simulator. No agent work at all."""
    import gzip as gzip_module
    import http.client
    import json
    import tempfile
    import uuid
    from simulator import LOOPBACK, SYNC_PATH, Simulator, make_agent_key

    tmp = tempfile.mkdtemp(prefix="drain-ceiling-", dir=args.workdir)
    key, _ = make_agent_key()
    bodies = []
    for start in range(0, len(records), args.batch):
        batch_id = str(uuid.uuid4())
        recs = [dict(r, source={"file": "bench.ndjson", "row": start + i + 1})
                for i, r in enumerate(records[start:start + args.batch])]
        raw = json.dumps({"agent_id": "agt_1", "facility_id": "fac-1", "batch_id": batch_id,
                          "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "records": recs}).encode()
        if compression == "gzip":
            raw = gzip_module.compress(raw, compresslevel=4)
        bodies.append((batch_id, raw))
    try:
        with Simulator(tmp, agents={"agt_1": key}, http=False, extra_args=["--log-level", "warn"]) as sim:
            conn = http.client.HTTPSConnection(LOOPBACK, sim.https_port, timeout=60, context=sim.ssl_context())
            t0 = time.monotonic()
            for batch_id, raw in bodies:
                hdrs = {"X-Bridge-Agent-ID": "agt_1", "X-Bridge-Agent-Key": key, "Idempotency-Key": batch_id,
                        "X-Bridge-Timestamp": str(int(time.time())), "Content-Type": "application/json",
                        "Accept": "application/json"}
                if compression == "gzip":
                    hdrs["Content-Encoding"] = "gzip"
                conn.request("POST", SYNC_PATH, body=raw, headers=hdrs)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    raise RuntimeError("ceiling: the simulator answered %d" % resp.status)
            t1 = time.monotonic()
            conn.close()
            unique = sim.stats()["records_unique"]
            if unique != len(records):
                raise RuntimeError("ceiling: %d of %d records arrived" % (unique, len(records)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return len(records) / (t1 - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agent", default=os.environ.get("OB_AGENT"), help="opescare-bridge binary (or OB_AGENT)")
    p.add_argument("--simulator", default=os.environ.get("OB_SIMULATOR"), help="opescare-simulator (or OB_SIMULATOR)")
    p.add_argument("--records", type=int, default=200000)
    p.add_argument("--record-bytes", type=int, default=200, help="approximate size of one record's JSON")
    p.add_argument("--batch", type=int, default=500, help="batch.max_records")
    p.add_argument("--max-in-flight", type=int, default=2, help="delivery.max_in_flight")
    p.add_argument("--batch-bytes", type=int, default=1 << 20, help="batch.max_bytes")
    p.add_argument("--compression", nargs="+", default=["gzip", "none"], choices=["gzip", "none", "auto"])
    p.add_argument("--workdir", default=None, help="where the temporary folders go (default: OB_BUILD_DIR/e2e-tmp or TMPDIR)")
    p.add_argument("--timeout", type=int, default=600, help="give up after this many seconds per run")
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (logs, outbox)")
    p.add_argument("--no-ceiling", action="store_true", help="skip the sink's ceiling (pre-built bodies)")
    args = p.parse_args()
    if not args.agent or not args.simulator:
        p.error("give --agent and --simulator (or OB_AGENT / OB_SIMULATOR)")
    os.environ["OB_AGENT"] = os.path.abspath(args.agent)
    os.environ["OB_SIMULATOR"] = os.path.abspath(args.simulator)

    from test_delivery import make_records, write_ndjson
    import tempfile
    data_dir = tempfile.mkdtemp(prefix="drain-data-", dir=args.workdir)
    try:
        ndjson = os.path.join(data_dir, "bench.ndjson")
        records = make_records(args.records, seed=42, id_prefix="r_bench_", size=args.record_bytes)
        write_ndjson(ndjson, records)
        line_bytes = os.path.getsize(ndjson) / args.records
        print("drain benchmark: %d records (~%.0f bytes of NDJSON each), batches of %d, agent %s, load average %s"
              % (args.records, line_bytes, args.batch, args.agent, open("/proc/loadavg").read().split()[0]))
        results = [run_once(args, c, ndjson, args.records) for c in args.compression]
        if not args.no_ceiling:
            for r in results:
                r["ceiling"] = ceiling_once(args, r["compression"], records)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    print()
    print("%-6s %10s %9s %9s %10s %10s %9s %10s %9s %9s" % (
        "mode", "records/s", "total s", "drain s", "wire B/rec", "json B/rec", "peak RSS", "agent CPU", "sim CPU",
        "enqueue s"))
    for r in results:
        print("%-6s %10.0f %9.2f %9.2f %10.1f %10.1f %7.1f MB %8.2f s %7.2f s %9.2f" % (
            r["compression"], r["rate"], r["seconds"], r["drain_seconds"], r["wire_per_record"],
            r["inflated_per_record"], r["hwm_mb"], r["agent_user"] + r["agent_sys"], r["sim_cpu"], r["enqueue_s"]))
    print()
    for r in results:
        if "ceiling" in r:
            print("%s: agent %.0f records/s, reference (the simulator's ceiling: pre-built bodies, one kept-alive "
                  "connection) %.0f records/s, ratio %.2f" % (r["compression"], r["rate"], r["ceiling"],
                                                              r["rate"] / r["ceiling"]))
    for r in results:
        ok_rate = "OK" if r["rate"] >= 50000 else "MISSED"
        ok_rss = "OK" if r["hwm_mb"] <= 64 else "MISSED"
        print("%s: %.0f records/s (target 50,000: %s), peak RSS %.1f MB (target 64: %s); agent CPU %.2f s user + "
              "%.2f s sys; %d batches, %d TLS handshakes, %d duplicates, exit %s"
              % (r["compression"], r["rate"], ok_rate, r["hwm_mb"], ok_rss, r["agent_user"], r["agent_sys"],
                 r["batches"], r["handshakes"], r["duplicates"], r["exit_code"]))


if __name__ == "__main__":
    main()
