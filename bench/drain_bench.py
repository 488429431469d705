#!/usr/bin/env python3
"""Drain benchmark (issues 4 and 11): N queued records of ~200 bytes delivered by the agent over TLS on loopback,
with gzip and without, to each sink: `fast` (bench/receipt_sink: HTTPS, a receipt naming every record, no other
check) and `simulator` (the strict simulator). Prints records/s (agent start to the sink holding every record),
bytes on the wire per record, the agent's peak RSS (VmHWM), the CPU time of the agent and of the sink, and the
sink's own ceiling (pre-built bodies on one kept-alive connection) with the ratio. Not a test; targets:
>= 50,000 records/s, peak RSS <= 64 MB (issue 4); >= 300,000 records/s with gzip (issue 11). Builds nothing:
point it at a RelWithDebInfo build.

  OB_AGENT=build/rel/agent/app/opescare-bridge OB_SIMULATOR=build/rel/tools/simulator/opescare-simulator \\
      python3 bench/drain_bench.py [--records 200000] [--batch 500] [--compression gzip none] [--sink fast simulator]
"""

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
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


class FastSink:
    """bench/receipt_sink as a context manager, with what run_once needs of a sink: url, ca_file, proc, done()."""

    def __init__(self, tmpdir, binary, expect):
        self.ca_file = os.path.join(tmpdir, "sink-ca.pem")
        self.ready_file = os.path.join(tmpdir, "sink.ready.json")
        self.args = [binary, "--ca-out", self.ca_file, "--ready-file", self.ready_file, "--expect", str(expect)]
        self.lines = queue.Queue()

    def __enter__(self):
        import json
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=lambda: [self.lines.put(json.loads(line)) for line in self.proc.stdout],
                                       daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 20
        while not os.path.exists(self.ready_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("receipt_sink did not start (exit %s)" % self.proc.poll())
            time.sleep(0.01)
        with open(self.ready_file) as f:
            self.url = "https://127.0.0.1:%d" % json.load(f)["https_port"]
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        self.reader.join(timeout=10)  # it ends at the end of the sink's output
        self.proc.stdout.close()

    def done(self, timeout):
        """The sink's counters once it holds every expected record (done_monotonic: when), else None."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def ssl_context(self):
        import ssl
        return ssl.create_default_context(cafile=self.ca_file)


class SimulatorSink:
    """The simulator as a sink, with FastSink's interface: done() polls its counters."""

    def __init__(self, tmpdir, key, expect):
        from simulator import Simulator
        self.sim = Simulator(tmpdir, agents={"agt_1": key}, http=False, extra_args=["--log-level", "warn"])
        self.expect = expect
        self.first_batch = 0  # when polling first saw a batch

    def __enter__(self):
        self.sim.start()
        self.url, self.ca_file, self.proc = self.sim.url, self.sim.ca_file, self.sim.proc
        return self

    def __exit__(self, *exc):
        self.sim.stop()

    def done(self, timeout):
        time.sleep(timeout)
        stats = self.sim.stats()
        if stats["batches"] and not self.first_batch:
            self.first_batch = time.monotonic()
        if stats["records_unique"] < self.expect:
            return None
        return dict(stats, done_monotonic=time.monotonic(), first_batch_monotonic=self.first_batch)

    def ssl_context(self):
        return self.sim.ssl_context()


def make_sink(args, name, tmpdir, key, expect):
    return FastSink(tmpdir, args.sink_binary, expect) if name == "fast" else SimulatorSink(tmpdir, key, expect)


def run_once(args, sink_name, compression, ndjson, n):
    from agentproc import Agent, run_cli, write_config
    from simulator import make_agent_key

    import tempfile
    tmp = tempfile.mkdtemp(prefix="drain-%s-%s-" % (sink_name, compression), dir=args.workdir)
    key, _ = make_agent_key()
    result = {"sink": sink_name, "compression": compression}
    try:
        with make_sink(args, sink_name, tmp, key, n) as sink:
            cfg = write_config(tmp, sink, log_level="warn", sync_interval_seconds=5,
                               batch={"max_records": args.batch, "max_bytes": args.batch_bytes},
                               http={"compression": compression},
                               delivery={"max_in_flight": args.max_in_flight})
            t = time.monotonic()
            r = run_cli(["enqueue", ndjson], cfg, key=key, timeout=600)
            if r.returncode != 0:
                raise RuntimeError("enqueue failed: %s%s" % (r.stdout, r.stderr))
            result["enqueue_s"] = time.monotonic() - t

            sink_cpu0 = proc_cpu_seconds(sink.proc.pid)
            agent = Agent(cfg, key=key)
            t0 = time.monotonic()
            agent.start()
            peak_rss, deadline = 0, t0 + args.timeout
            while True:
                stats = sink.done(0.02)
                peak_rss = max(peak_rss, proc_status_kb(agent.pid, "VmRSS"))
                if stats:
                    break
                if not agent.alive():
                    raise RuntimeError("agent exited (code %s):\n%s" % (agent.proc.returncode, agent.log_text()[-3000:]))
                if time.monotonic() > deadline:
                    raise RuntimeError("not every record arrived after %d s" % args.timeout)
            t1 = stats["done_monotonic"]
            agent_cpu = proc_cpu_seconds(agent.pid)
            sink_cpu1 = proc_cpu_seconds(sink.proc.pid)
            hwm = proc_status_kb(agent.pid, "VmHWM")
            code = agent.stop()
            result.update(
                seconds=t1 - t0, rate=n / (t1 - t0), drain_seconds=t1 - (stats["first_batch_monotonic"] or t0),
                wire_per_record=stats["bytes_received"] / max(1, stats["records_total"]),
                inflated_per_record=(stats["bytes_inflated"] or stats["bytes_received"]) / max(1, stats["records_total"]),
                hwm_mb=max(hwm, peak_rss) / 1024.0, agent_user=agent_cpu[0], agent_sys=agent_cpu[1],
                sink_cpu=(sink_cpu1[0] - sink_cpu0[0]) + (sink_cpu1[1] - sink_cpu0[1]), exit_code=code,
                batches=stats["batches"], duplicates=stats["records_duplicate"], handshakes=stats["tls_handshakes"])
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def ceiling_once(args, sink_name, compression, records):
    """The sink's own ceiling: the same records as pre-built sync bodies (gzipped beforehand when compression is
    gzip), POSTed back to back over one kept-alive TLS connection to a fresh sink. No agent work at all."""
    import gzip as gzip_module
    import http.client
    import json
    import tempfile
    import uuid
    from simulator import LOOPBACK, SYNC_PATH, make_agent_key

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
        with make_sink(args, sink_name, tmp, key, len(records)) as sink:
            port = int(sink.url.rsplit(":", 1)[1])
            conn = http.client.HTTPSConnection(LOOPBACK, port, timeout=60, context=sink.ssl_context())
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
                    raise RuntimeError("ceiling: the %s sink answered %d" % (sink_name, resp.status))
            t1 = time.monotonic()
            conn.close()
            stats = sink.done(10)
            if not stats or stats["records_unique"] != len(records):
                raise RuntimeError("ceiling: not every record reached the %s sink: %s" % (sink_name, stats))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return len(records) / (t1 - t0)


def report(results):
    print()
    print("%-9s %-6s %10s %9s %9s %10s %10s %9s %10s %9s %9s" % (
        "sink", "mode", "records/s", "total s", "drain s", "wire B/rec", "json B/rec", "peak RSS", "agent CPU", "sink CPU",
        "enqueue s"))
    for r in results:
        print("%-9s %-6s %10.0f %9.2f %9.2f %10.1f %10.1f %7.1f MB %8.2f s %7.2f s %9.2f" % (
            r["sink"], r["compression"], r["rate"], r["seconds"], r["drain_seconds"], r["wire_per_record"], r["inflated_per_record"],
            r["hwm_mb"], r["agent_user"] + r["agent_sys"], r["sink_cpu"], r["enqueue_s"]))
    print()
    for r in results:
        if "ceiling" in r:
            print("%s sink, %s: agent %.0f records/s, reference (the sink's ceiling: pre-built bodies, one kept-alive "
                  "connection) %.0f records/s, ratio %.2f" % (r["sink"], r["compression"], r["rate"], r["ceiling"],
                                                              r["rate"] / r["ceiling"]))
    for r in results:
        ok_rate = "OK" if r["rate"] >= 50000 else "MISSED"
        ok_rss = "OK" if r["hwm_mb"] <= 64 else "MISSED"
        print("%s sink, %s: %.0f records/s (target 50,000: %s), peak RSS %.1f MB (target 64: %s); agent CPU %.2f s "
              "user + %.2f s sys; %d batches, %d TLS handshakes, %d duplicates, exit %s"
              % (r["sink"], r["compression"], r["rate"], ok_rate, r["hwm_mb"], ok_rss, r["agent_user"],
                 r["agent_sys"], r["batches"], r["handshakes"], r["duplicates"], r["exit_code"]))
    for r in results:
        if r["sink"] == "fast" and r["compression"] == "gzip":
            print("fast sink, gzip: %.0f records/s against the issue 11 target of 300,000: %.2f (%s)"
                  % (r["rate"], r["rate"] / 300000, "OK" if r["rate"] >= 300000 else "MISSED"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agent", default=os.environ.get("OB_AGENT"), help="opescare-bridge binary (or OB_AGENT)")
    p.add_argument("--simulator", default=os.environ.get("OB_SIMULATOR"), help="opescare-simulator (or OB_SIMULATOR)")
    p.add_argument("--sink-binary", default=os.environ.get("OB_RECEIPT_SINK"),
                   help="bench/receipt_sink (or OB_RECEIPT_SINK; default: beside the simulator's build)")
    p.add_argument("--sink", nargs="+", default=["fast", "simulator"], choices=["fast", "simulator"])
    p.add_argument("--records", type=int, default=200000)
    p.add_argument("--record-bytes", type=int, default=200, help="approximate size of one record's JSON")
    p.add_argument("--batch", type=int, default=500, help="batch.max_records")
    p.add_argument("--max-in-flight", type=int, default=2, help="delivery.max_in_flight")
    p.add_argument("--batch-bytes", type=int, default=1 << 20, help="batch.max_bytes")
    p.add_argument("--compression", nargs="+", default=["gzip", "none"], choices=["gzip", "none", "auto"])
    p.add_argument("--workdir", default=None, help="where the temporary folders go (default: TMPDIR)")
    p.add_argument("--timeout", type=int, default=600, help="give up after this many seconds per run")
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (logs, outbox)")
    p.add_argument("--no-ceiling", action="store_true", help="skip the sinks' ceilings (pre-built bodies)")
    args = p.parse_args()
    if not args.agent or not args.simulator:
        p.error("give --agent and --simulator (or OB_AGENT / OB_SIMULATOR)")
    os.environ["OB_AGENT"] = os.path.abspath(args.agent)
    os.environ["OB_SIMULATOR"] = os.path.abspath(args.simulator)
    if not args.sink_binary:  # <build>/tools/simulator/opescare-simulator -> <build>/bench/receipt_sink
        build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(args.simulator))))
        args.sink_binary = os.path.join(build, "bench", "receipt_sink")
    if "fast" in args.sink and not os.access(args.sink_binary, os.X_OK):
        p.error("%s is not built: cmake --build <dir> --target receipt_sink (or give --sink simulator)"
                % args.sink_binary)

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
        results = [run_once(args, s, c, ndjson, args.records) for s in args.sink for c in args.compression]
        if not args.no_ceiling:
            for r in results:
                r["ceiling"] = ceiling_once(args, r["sink"], r["compression"], records)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    report(results)


if __name__ == "__main__":
    main()
