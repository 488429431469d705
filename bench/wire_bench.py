#!/usr/bin/env python3
"""Wire bytes benchmark (issue 11): bytes per record up and down for a whole drain, gzip against none.

A patients export of N rows (~150 bytes a row, the issue's file) is dropped into the agent's watch folder;
the agent ingests it and delivers every record to the simulator over TLS on loopback, through a counting TCP
relay. Per mode (http.compression gzip, then none) it prints, per record:
  - TCP bytes up (agent -> server) and down, counted by the relay: TLS records, HTTP headers, bodies,
    handshakes and the heartbeat included, i.e. what a clinic's link carries;
  - sync body bytes up and down as the simulator read and wrote them (GET /_sim/requests);
and the ratio none / gzip of each. Every record must arrive exactly once. Not a test; builds nothing.

  OB_AGENT=build/dev/agent/app/opescare-bridge OB_SIMULATOR=build/dev/tools/simulator/opescare-simulator \\
      python3 bench/wire_bench.py [--rows 100000] [--batch 500] [--compression gzip none]

Byte counts do not depend on the build type; a Debug build only makes the run longer.
"""

import argparse
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

FIRST = ["Marie", "Hélène", "Jean-Pierre", "Aïssatou", "Thérèse", "Paul", "Cécile", "Noël"]
LAST = ["Fouda", "Nkoulou", "Mbarga", "Bello", "Essomba", "Ngo Bikoko", "Atangana", "Owona"]
CITY = ["Douala", "Yaoundé", "Bafoussam", "Garoua"]


def write_patients(path, rows):
    """The patients export of bench/ingest_bench.cpp and bench/gzip_bench.cpp, row for row."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("first_name,last_name,dob,sex,phone,city,district,address,health_id,notes\n")
        for i in range(rows):
            f.write('%s,%s-%06d,19%02d-%02d-%02d,%s,+2376900%05d,%s,Quartier %d,"Rue %d, porte %d",OC-%08d,'
                    '"Suivi prénatal, contrôle à 3 mois"\n'
                    % (FIRST[i % 8], LAST[(i // 8) % 8], i % 1000000, 50 + i % 50, 1 + i % 12, 1 + i % 28,
                       "male" if i % 2 else "female", i % 100000, CITY[i % 4], i % 97, i % 1234, i % 89, i))


class CountingRelay:
    """A TCP relay on 127.0.0.1 to one upstream port, counting the bytes each way (thread per direction)."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.up = 0
        self.down = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "down"), daemon=True).start()

    def _pump(self, src, dst, direction):
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                dst.sendall(data)
                with self._lock:
                    setattr(self, direction, getattr(self, direction) + len(data))
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self._stop = True
        self._listener.close()


def run_once(args, compression, csv_path, rows):
    from agentproc import Agent, write_config
    from simulator import SYNC_PATH, Simulator, make_agent_key

    tmp = tempfile.mkdtemp(prefix="wire-%s-" % compression, dir=args.workdir)
    key, _ = make_agent_key()
    try:
        extra = ["--log-level", "warn", "--keep-requests", str(max(10000, 4 * rows // max(1, args.batch)))]
        with Simulator(tmp, agents={"agt_1": key}, http=False, extra_args=extra) as sim:
            relay = CountingRelay(sim.https_port)
            try:
                cfg = write_config(tmp, sim, log_level="warn", sync_interval_seconds=5, heartbeat_interval_seconds=60,
                                   server_url="https://127.0.0.1:%d" % relay.port,
                                   batch={"max_records": args.batch, "max_bytes": args.batch_bytes},
                                   http={"compression": compression, "compression_level": args.level})
                incoming = os.path.join(tmp, "incoming")
                os.makedirs(incoming, exist_ok=True)
                shutil.copy(csv_path, os.path.join(incoming, "patients_20261129.csv"))
                agent = Agent(cfg, key=key)
                agent.start()
                deadline = time.monotonic() + args.timeout
                while sim.stats()["records_unique"] < rows:
                    if not agent.alive():
                        raise RuntimeError("agent exited (%s):\n%s" % (agent.proc.returncode, agent.log_text()[-3000:]))
                    if time.monotonic() > deadline:
                        raise RuntimeError("only %d of %d records after %d s" % (sim.stats()["records_unique"], rows,
                                                                                 args.timeout))
                    time.sleep(0.1)
                time.sleep(0.5)  # the last receipt's bytes reach the relay's counter
                code = agent.stop()
                stats = sim.stats()
                syncs = [q for q in sim.requests() if q["path"] == SYNC_PATH]
            finally:
                relay.close()
        if stats["records_duplicate"] or stats["records_unique"] != rows:
            raise RuntimeError("records not delivered exactly once: %r" % stats)
        return dict(compression=compression, exit_code=code, up=relay.up / rows, down=relay.down / rows,
                    body_up=sum(q["body_bytes"] for q in syncs) / rows,
                    body_down=sum(q["response_bytes"] for q in syncs) / rows,
                    requests=len(syncs), gzip_requests=sum(1 for q in syncs if q["gzip"]),
                    gzip_responses=sum(1 for q in syncs if q.get("response_gzip")), connections=relay.connections,
                    handshakes=stats["tls_handshakes"])
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agent", default=os.environ.get("OB_AGENT"), help="opescare-bridge binary (or OB_AGENT)")
    p.add_argument("--simulator", default=os.environ.get("OB_SIMULATOR"), help="opescare-simulator (or OB_SIMULATOR)")
    p.add_argument("--rows", type=int, default=100000)
    p.add_argument("--batch", type=int, default=500, help="batch.max_records (the default)")
    p.add_argument("--batch-bytes", type=int, default=1 << 20, help="batch.max_bytes (the default)")
    p.add_argument("--level", type=int, default=4, help="http.compression_level")
    p.add_argument("--compression", nargs="+", default=["gzip", "none"], choices=["gzip", "none", "auto"])
    p.add_argument("--workdir", default=None, help="where the temporary folders go (default TMPDIR)")
    p.add_argument("--timeout", type=int, default=900, help="give up after this many seconds per run")
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (logs, outbox)")
    args = p.parse_args()
    if not args.agent or not args.simulator:
        p.error("give --agent and --simulator (or OB_AGENT / OB_SIMULATOR)")
    os.environ["OB_AGENT"] = os.path.abspath(args.agent)
    os.environ["OB_SIMULATOR"] = os.path.abspath(args.simulator)

    data_dir = tempfile.mkdtemp(prefix="wire-data-", dir=args.workdir)
    try:
        csv_path = os.path.join(data_dir, "patients.csv")
        write_patients(csv_path, args.rows)
        print("wire benchmark: %d patients rows (%.0f bytes of CSV each), batches of %d, level %d, agent %s"
              % (args.rows, os.path.getsize(csv_path) / args.rows, args.batch, args.level, args.agent))
        results = [run_once(args, c, csv_path, args.rows) for c in args.compression]
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    print()
    print("%-6s %11s %11s %12s %12s %9s %13s %14s %6s" % ("mode", "TCP up B/r", "TCP down B/r", "body up B/r",
                                                        "body down B/r", "requests", "gzip req/resp", "connections",
                                                        "exit"))
    for r in results:
        print("%-6s %11.1f %11.1f %12.1f %12.1f %9d %6d/%-6d %14d %6s" % (
            r["compression"], r["up"], r["down"], r["body_up"], r["body_down"], r["requests"], r["gzip_requests"],
            r["gzip_responses"], r["connections"], r["exit_code"]))
    by_mode = {r["compression"]: r for r in results}
    if "gzip" in by_mode and "none" in by_mode:
        g, n = by_mode["gzip"], by_mode["none"]
        print()
        for what, label in (("up", "TCP up"), ("down", "TCP down"), ("body_up", "body up"),
                            ("body_down", "body down")):
            print("%-10s none/gzip = %5.2fx  (%.1f -> %.1f bytes/record)" % (label, n[what] / g[what], n[what],
                                                                                g[what]))
        print("%-10s none/gzip = %5.2fx  (%.1f -> %.1f bytes/record)" % (
            "TCP total", (n["up"] + n["down"]) / (g["up"] + g["down"]), n["up"] + n["down"], g["up"] + g["down"]))


if __name__ == "__main__":
    main()
