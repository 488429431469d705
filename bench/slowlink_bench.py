#!/usr/bin/env python3
"""Slow link benchmark (issue 11): the agent's drain over an emulated clinic link against a bulk upload of the
same bytes over the same link. Run as root: it makes network namespaces obsl-agent (10.77.0.1), obsl-link (the
rate: tbf; the added round trip: netem, or where the kernel has none a packet relay in this script) and
obsl-server (10.77.0.2), with nftables dropping --loss % of the frames at each end, and removes them on exit.
The simulator (loopback only) runs in obsl-server behind a counting forwarder on 10.77.0.2:8443 with a
certificate for that IP; the agent verifies it. The figure is records/s from agent start until the simulator
holds every record; the reference POSTs as many bytes as the agent sent up, over the same link, to a sink.
Prints both, their ratio and bytes per record. bench/README.md says more. Not a test; builds nothing.

  OB_AGENT=build/rel/agent/app/opescare-bridge OB_SIMULATOR=build/rel/tools/simulator/opescare-simulator \\
      python3 bench/slowlink_bench.py [--records 20000] [--rate 256] [--loss 5] [--rtt 300] [--queue-ms MS]
"""

import argparse
import collections
import ctypes
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from wire_bench import CountingRelay, write_patients  # noqa: E402

AGENT_NS, LINK_NS, SERVER_NS = "obsl-agent", "obsl-link", "obsl-server"
AGENT_IP, SERVER_IP = "10.77.0.1", "10.77.0.2"
SIM_PORT, SINK_PORT = 8443, 9000
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def sh(*cmd, ns=None, check=True):
    """Runs a command (inside namespace ns when given) to completion: its CompletedProcess (text)."""
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(full), r.returncode, r.stderr.strip()))
    return r


class netns:
    """Moves the calling thread into a named network namespace for the block. Sockets made and processes
    started inside it stay there; threads started inside it are born there."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open("/run/netns/" + self.name, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns(%s)" % self.name)
        finally:
            os.close(fd)

    def __exit__(self, *exc):
        _libc.setns(self._home, CLONE_NEWNET)
        os.close(self._home)


# ---- the link ------------------------------------------------------------------------------------------------

def netem_error():
    """None if this kernel has netem (`tc qdisc add ... netem delay` works), else tc's message."""
    probe = "obsl-probe"
    sh("ip", "netns", "add", probe)
    try:
        r = sh("tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms", ns=probe, check=False)
        return None if r.returncode == 0 else (r.stderr.strip() or "exit %d" % r.returncode)
    finally:
        sh("ip", "netns", "del", probe, check=False)


def remove_link():
    for ns in (AGENT_NS, LINK_NS, SERVER_NS, "obsl-probe"):
        sh("ip", "netns", "del", ns, check=False)


def make_link(args, use_netem):
    """The three namespaces, the veth pairs, the rate (tbf), the loss (nftables), and netem if use_netem."""
    remove_link()
    for ns in (AGENT_NS, LINK_NS, SERVER_NS):
        sh("ip", "netns", "add", ns)
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", ns=ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "add", "veth-a", "netns", AGENT_NS, "type", "veth", "peer", "name", "veth-la", "netns", LINK_NS)
    sh("ip", "link", "add", "veth-s", "netns", SERVER_NS, "type", "veth", "peer", "name", "veth-ls", "netns", LINK_NS)
    sh("ip", "addr", "add", AGENT_IP + "/30", "dev", "veth-a", ns=AGENT_NS)
    sh("ip", "addr", "add", SERVER_IP + "/30", "dev", "veth-s", ns=SERVER_NS)
    for ns, dev in ((AGENT_NS, "veth-a"), (SERVER_NS, "veth-s"), (LINK_NS, "veth-la"), (LINK_NS, "veth-ls")):
        sh("ip", "link", "set", dev, "up", *(("promisc", "on") if ns == LINK_NS else ()), ns=ns)
    rate_bytes = args.rate * 1000 / 8
    # A burst under two frames: tbf cuts every GSO frame into single frames, so the loss drops frames one by one.
    tbf = ["tbf", "rate", "%dkbit" % args.rate, "burst", "1600", "limit", str(max(3200, int(rate_bytes * args.queue_ms
                                                                                          / 1000)))]
    for dev in ("veth-ls", "veth-la"):  # upstream leaves obsl-link by veth-ls, downstream by veth-la
        if use_netem:
            sh("tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "netem", "delay", "%gms" % (args.rtt / 2),
               ns=LINK_NS)
            sh("tc", "qdisc", "add", "dev", dev, "parent", "1:1", "handle", "10:", *tbf, ns=LINK_NS)
        else:
            sh("tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", *tbf, ns=LINK_NS)
    for ns, dev in ((SERVER_NS, "veth-s"), (AGENT_NS, "veth-a")):
        sh("nft", "add table netdev obsl; add chain netdev obsl loss { type filter hook ingress device \"%s\" "
           "priority 0; }; add rule netdev obsl loss counter; add rule netdev obsl loss numgen random mod 100 < %d "
           "counter drop" % (dev, args.loss), ns=ns)


def link_counters():
    """Bytes/packets the tbf sent each way, and packets that arrived / were dropped at each end."""
    out = {}
    for direction, dev in (("up", "veth-ls"), ("down", "veth-la")):
        qdiscs = json.loads(sh("tc", "-s", "-j", "qdisc", "show", "dev", dev, ns=LINK_NS).stdout)
        q = [q for q in qdiscs if q["kind"] == "tbf"][0]
        out[direction + "_bytes"], out[direction + "_packets"] = q["bytes"], q["packets"]
        out[direction + "_queue_drops"] = q["drops"]
    for direction, ns in (("up", SERVER_NS), ("down", AGENT_NS)):
        rules = [x["rule"] for x in json.loads(sh("nft", "-j", "list", "chain", "netdev", "obsl", "loss",
                                                  ns=ns).stdout)["nftables"] if "rule" in x]
        counts = [next(e["counter"]["packets"] for e in r["expr"] if "counter" in e) for r in rules]
        out[direction + "_arrived"], out[direction + "_lost"] = counts[0], counts[1]
    return out


def delta(after, before):
    return {k: after[k] - before[k] for k in after}


class DelayBridge:
    """Joins veth-la and veth-ls in obsl-link as a hub that holds every frame `delay` seconds (AF_PACKET with
    virtio-net headers, so checksum offload and GSO frames pass as they came). Frames sent on an interface go
    through its tbf, whose full queue drops them (ENOBUFS), as a router's would."""

    def __init__(self, delay):
        self.delay = delay
        self.socks = {}
        for dev in ("veth-la", "veth-ls"):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
            s.setsockopt(263, 15, 1)  # SOL_PACKET, PACKET_VNET_HDR
            s.bind((dev, 3))
            self.socks[dev] = s
        for src, dst in (("veth-la", "veth-ls"), ("veth-ls", "veth-la")):
            queue, cond = collections.deque(), threading.Condition()
            threading.Thread(target=self._receive, args=(self.socks[src], queue, cond), daemon=True).start()
            threading.Thread(target=self._send, args=(self.socks[dst], queue, cond), daemon=True).start()

    def _receive(self, sock, queue, cond):
        while True:
            try:
                frame, addr = sock.recvfrom(1 << 17)
            except OSError:
                return
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            with cond:
                queue.append((time.monotonic() + self.delay, frame))
                cond.notify()

    def _send(self, sock, queue, cond):
        while True:
            with cond:
                while not queue:
                    cond.wait()
                due, frame = queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    cond.wait(wait)
                    continue
                queue.popleft()
            try:
                sock.send(frame)
            except OSError:  # ENOBUFS: the tbf queue is full, the frame is lost
                pass


class Forwarder(CountingRelay):
    """wire_bench's counting relay, listening on (host, port) in the namespace it is made in, to that
    namespace's 127.0.0.1:upstream_port."""

    def __init__(self, host, port, upstream_port):  # noqa: super().__init__ would bind loopback
        self.upstream_port = upstream_port
        self.up = self.down = self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(16)
        self.port = port
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()


# ---- the reference: one bulk upload ----------------------------------------------------------------------------

class SinkHandler(http.server.BaseHTTPRequestHandler):
    """Reads a POST's whole body and answers 200 with the count of bytes read."""

    def do_POST(self):
        length, got, chunk = int(self.headers["Content-Length"]), 0, b"-"
        while got < length and chunk:
            chunk = self.rfile.read(min(1 << 16, length - got))
            got += len(chunk)
        body = b"%d" % got
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


def bulk_upload(total_bytes):
    """From the calling thread's namespace: one POST whose request (headers + body) is total_bytes; seconds."""
    head = b"POST /bulk HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: " % (
        SERVER_IP.encode())
    body_len = max(0, total_bytes - len(head) - 12)
    request = head + b"%d\r\n\r\n" % body_len + os.urandom(body_len)
    t0 = time.monotonic()
    with socket.create_connection((SERVER_IP, SINK_PORT), timeout=600) as s:
        s.sendall(request)
        reply = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    seconds = time.monotonic() - t0
    if not reply.startswith(b"HTTP/1.0 200") or not reply.endswith(b"\r\n\r\n%d" % body_len):
        raise RuntimeError("bulk upload: the sink answered %r" % reply[:200])
    return seconds


def handshake_ms(n=3):
    """Median TCP connect time from the calling thread's namespace to the sink's forwarder: about one RTT."""
    times = []
    for _ in range(n):  # odd n: the median is the middle one
        t0 = time.monotonic()
        socket.create_connection((SERVER_IP, SINK_PORT), timeout=30).close()
        times.append((time.monotonic() - t0) * 1000)
        time.sleep(0.2)
    return sorted(times)[n // 2]


# ---- the agent's run -------------------------------------------------------------------------------------------

def run_agent(args, tmp, csv_path):
    from agentproc import Agent, write_config
    from certs import make_self_signed
    from drain_bench import proc_cpu_seconds
    from simulator import SYNC_PATH, Simulator, make_agent_key

    key, _ = make_agent_key()
    cert, cert_key = make_self_signed(tmp, name="link-server", hosts=(SERVER_IP,))
    with netns(SERVER_NS):
        sim = Simulator(tmp, agents={"agt_1": key}, http=False, cert_file=cert, key_file=cert_key,
                        extra_args=["--log-level", "warn"]).start()
    try:
        with netns(SERVER_NS):
            fwd = Forwarder(SERVER_IP, SIM_PORT, sim.https_port)

        def stats():
            with netns(SERVER_NS):
                return sim.stats()

        cfg = write_config(tmp, sim, log_level="warn", sync_interval_seconds=300, heartbeat_interval_seconds=60,
                           server_url="https://%s:%d" % (SERVER_IP, SIM_PORT),
                           retry={"initial_backoff_seconds": 1, "max_backoff_seconds": 300},
                           connector={"settle_seconds": 0.5},
                           http={"connect_timeout_seconds": 10, "request_timeout_seconds": 60})
        incoming = os.path.join(tmp, "incoming")
        os.makedirs(incoming, exist_ok=True)
        shutil.copy(csv_path, os.path.join(incoming, "patients_20261202.csv"))
        before = link_counters()
        agent = Agent(cfg, key=key)
        with netns(AGENT_NS):
            agent.start()
        t0 = time.monotonic()
        try:
            deadline, last_print = t0 + args.timeout, t0
            while True:
                unique = stats()["records_unique"]
                now = time.monotonic()
                if unique >= args.records:
                    break
                if not agent.alive():
                    raise RuntimeError("agent exited (%s):\n%s" % (agent.proc.returncode, agent.log_text()[-3000:]))
                if now > deadline:
                    raise RuntimeError("only %d of %d records after %d s" % (unique, args.records, args.timeout))
                if now - last_print >= 15:
                    print("  ... %d records after %.0f s" % (unique, now - t0), flush=True)
                    last_print = now
                time.sleep(0.2)
            seconds = time.monotonic() - t0
            cpu = proc_cpu_seconds(agent.pid)
            time.sleep(1.0)  # the last receipt reaches the forwarder's counter
            link = delta(link_counters(), before)
        finally:
            code = agent.stop()
        with netns(SERVER_NS):
            st, syncs = sim.stats(), sum(1 for q in sim.requests() if q["path"] == SYNC_PATH)
        fwd.close()
    finally:
        with netns(SERVER_NS):
            sim.stop()
    if st["records_duplicate"] or st["records_unique"] != args.records:
        raise RuntimeError("records not delivered exactly once: %r" % st)
    return dict(seconds=seconds, tcp_up=fwd.up, tcp_down=fwd.down, body_up=st["bytes_received"],
                body_down=st["bytes_sent"], batches=st["batches"], syncs=syncs, handshakes=st["tls_handshakes"],
                connections=fwd.connections, cpu=sum(cpu), exit_code=code, link=link)


def run_reference(total_bytes):
    with netns(SERVER_NS):
        sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SinkHandler)
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        fwd = Forwarder(SERVER_IP, SINK_PORT, sink.server_address[1])
    try:
        with netns(AGENT_NS):
            rtt = handshake_ms()
        before = link_counters()
        with netns(AGENT_NS):
            seconds = bulk_upload(total_bytes)
        return dict(seconds=seconds, rtt_ms=rtt, tcp_up=fwd.up, link=delta(link_counters(), before))
    finally:
        fwd.close()
        sink.shutdown()


def report(args, method, a, ref):
    n = args.records
    rate, ref_rate = n / a["seconds"], n / ref["seconds"]
    print("\nlink: %d kbit/s each way (tbf, queue %d ms), %d %% loss each way (nftables), +%d ms round trip (%s); "
          "TCP connect %.0f ms\n" % (args.rate, args.queue_ms, args.loss, args.rtt, method, ref["rtt_ms"]))
    row = "%-22s %10s %9s %13s %13s %14s %15s"
    print(row % ("", "records/s", "seconds", "TCP up B/rec", "link up B/rec", "TCP down B/rec", "link down B/rec"))
    for name, r, r_rate in (("agent", a, rate), ("bulk upload (ceiling)", ref, ref_rate)):
        print(row % (name, "%.1f" % r_rate, "%.1f" % r["seconds"], "%.1f" % (r["tcp_up"] / n),
                     "%.1f" % (r["link"]["up_bytes"] / n), "%.1f" % (r["tcp_down"] / n) if "tcp_down" in r else "-",
                     "%.1f" % (r["link"]["down_bytes"] / n)))
    print("\nagent / bulk upload = %.1f %% (target >= 80 %%): %s" % (100 * rate / ref_rate,
                                                                      "OK" if rate >= 0.8 * ref_rate else "MISSED"))
    print("agent: sync bodies %.1f B/rec up, %.1f B/rec down (simulator); %d batches in %d sync requests, %d TLS "
          "handshakes, %d TCP connections, %.2f s CPU, exit %s" % (
              a["body_up"] / n, a["body_down"] / n, a["batches"], a["syncs"], a["handshakes"], a["connections"],
              a["cpu"], a["exit_code"]))
    for name, r in (("agent", a), ("bulk upload", ref)):
        ln = r["link"]
        lost = ["%d of %d (%.1f %%)" % (ln[d + "_lost"], ln[d + "_arrived"], 100 * ln[d + "_lost"] /
                                         max(1, ln[d + "_arrived"])) for d in ("up", "down")]
        print("%s: goodput up %.1f kbit/s; frames lost up %s, down %s; tbf queue drops up %d, down %d" % (
            name, r["tcp_up"] * 8 / 1000 / r["seconds"], lost[0], lost[1], ln["up_queue_drops"],
            ln["down_queue_drops"]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agent", default=os.environ.get("OB_AGENT"), help="opescare-bridge binary (or OB_AGENT)")
    p.add_argument("--simulator", default=os.environ.get("OB_SIMULATOR"), help="opescare-simulator (or OB_SIMULATOR)")
    p.add_argument("--records", type=int, default=20000, help="patients rows in the export")
    p.add_argument("--rate", type=int, default=256, help="link rate each way, kbit/s")
    p.add_argument("--loss", type=int, default=5, help="percent of frames dropped each way")
    p.add_argument("--rtt", type=int, default=300, help="added round trip, ms")
    p.add_argument("--queue-ms", type=int, default=None,
                   help="tbf queue, in ms at the rate (default: --rtt, at least 100)")
    p.add_argument("--timeout", type=int, default=900, help="give up on the agent after this many seconds")
    p.add_argument("--workdir", default=None, help="where the temporary folder goes (default TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, outbox)")
    args = p.parse_args()
    if not args.agent or not args.simulator:
        p.error("give --agent and --simulator (or OB_AGENT / OB_SIMULATOR)")
    if os.geteuid() != 0:
        p.error("run as root: the link is made of network namespaces")
    if not shutil.which("nft"):
        p.error("nft not found: apt-get install nftables")
    args.queue_ms = max(100, args.rtt) if args.queue_ms is None else args.queue_ms
    os.environ["OB_AGENT"] = os.path.abspath(args.agent)
    os.environ["OB_SIMULATOR"] = os.path.abspath(args.simulator)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: the namespaces go
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background

    tmp = tempfile.mkdtemp(prefix="slowlink-", dir=args.workdir)
    try:
        reason = netem_error()
        method = "netem" if reason is None else "packet relay in %s" % LINK_NS
        make_link(args, use_netem=reason is None)
        with netns(LINK_NS):  # the only way across; with netem it holds nothing
            DelayBridge(0 if reason is None else args.rtt / 2000)
        csv_path = os.path.join(tmp, "patients.csv")
        write_patients(csv_path, args.records)
        print("slow link benchmark: %d patients rows (%.0f bytes of CSV each), agent %s" % (
            args.records, os.path.getsize(csv_path) / args.records, args.agent))
        print("delay: %s" % ("netem, %g ms each way" % (args.rtt / 2) if reason is None else
                             "packet relay in %s holding every frame %g ms each way (netem: %s)"
                             % (LINK_NS, args.rtt / 2, reason)))
        print("simulator on %s's 127.0.0.1 (it listens on loopback only) behind a forwarder on %s:%d; TLS verified "
              "against a certificate made for IP %s" % (SERVER_NS, SERVER_IP, SIM_PORT, SERVER_IP), flush=True)
        agent = run_agent(args, tmp, csv_path)
        print("agent done in %.1f s; bulk upload of %d bytes ..." % (agent["seconds"], agent["tcp_up"]), flush=True)
        ref = run_reference(agent["tcp_up"])
        report(args, method, agent, ref)
    finally:
        remove_link()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
