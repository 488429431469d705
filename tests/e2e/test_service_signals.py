"""End to end: the agent as a service (issue 6) — sd_notify over a NOTIFY_SOCKET the test listens on (READY,
STATUS, WATCHDOG at half of WATCHDOG_USEC, STOPPING, RELOADING), a stalled disk worker withholding the watchdog
pings, SIGHUP reloads (good and broken files) and SIGTERM during a delivery (exit 0 after at most a 1.5 s grace, nothing lost).
"""

import json
import os
import re
import signal
import socket
import threading
import time
import unittest
import urllib.request
import uuid

from agentproc import Agent, run_cli, write_config
from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until

# ---- records --------------------------------------------------------------------------------------------------


def make_records(n, seed):
    """n valid patient records with ids, for `enqueue` (NDJSON)."""
    return [{"id": "r_svc_%d_%04d" % (seed, i), "type": "patient",
             "data": {"first_name": "Aïcha", "last_name": "Fouda-%d" % i, "dob": "1990-07-22", "sex": "female",
                      "notes": "seed %d, \"quoted\", ligne 1\nligne 2" % seed}} for i in range(n)]


def write_ndjson(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def expected_payloads(records):
    return sorted(json.dumps([r["type"], r["data"]], sort_keys=True, ensure_ascii=False) for r in records)


def received_payloads(sim_records):
    return sorted(json.dumps([r["type"], r["data"]], sort_keys=True, ensure_ascii=False) for r in sim_records.values())

WATCHDOG_USEC = 4000000  # systemd's WatchdogSec=4: the agent pings every 2 s, its gate allows 4 s of silence


class NotifyListener:
    """An AF_UNIX datagram socket standing in for systemd's notify socket. `address` is a path or "@name"
    (abstract). Every datagram is kept as (monotonic time, text, probe()) by a background thread, which ends
    on close() or after `max_seconds`."""

    def __init__(self, address, probe=None, max_seconds=300):
        self.address = address
        self.probe = probe or (lambda: None)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.1)
        self.messages = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append((time.monotonic(), data.decode("utf-8", "replace"), self.probe()))

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        if not self.address.startswith("@"):
            try:
                os.unlink(self.address)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def snapshot(self):
        with self._lock:
            return list(self.messages)

    def assignments(self, name, since=0.0):
        """[(t, value, probe)] of every `name=value` line received at or after monotonic time `since`."""
        out = []
        for t, text, probe in self.snapshot():
            if t < since:
                continue
            for line in text.split("\n"):
                if line.startswith(name + "="):
                    out.append((t, line[len(name) + 1:], probe))
        return out

    def wait_for(self, name, value=None, since=0.0, timeout=15.0, pattern=None):
        """Waits for a `name=value` line (or one whose value matches the regex `pattern`); returns (t, value, probe)."""

        def found():
            for item in self.assignments(name, since):
                if (value is None or item[1] == value) and (pattern is None or re.search(pattern, item[1])):
                    return item
            return None

        return wait_until(found, timeout, what="notify %s=%s (got %r)" % (name, value or pattern or "*",
                                                                        [m[1] for m in self.snapshot()][-20:]))

    def names(self):
        """The first assignment's name of every datagram, in order (READY, STATUS, WATCHDOG, ...)."""
        return [text.split("=", 1)[0] for _, text, _ in self.snapshot()]


def notify_env(address, watchdog_usec=WATCHDOG_USEC, extra=None):
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": str(watchdog_usec)}
    env.update(extra or {})
    return env


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("svc-")
        self.key, _ = make_agent_key()

    def test_ready_status_watchdog_and_stopping_over_a_socket_path(self):
        outbox = os.path.join(self.tmp, "outbox.db")
        records = make_records(7, seed=61)
        # Sync answers 503 until cleared, so the queue figures in STATUS= are seen first at 7, then at 0.
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False,
                       faults={"status": 503, "count": -1, "path": "sync"}) as sim:
            cfg = write_config(self.tmp, sim, outbox={"path": outbox}, sync_interval_seconds=1,
                               retry={"initial_backoff_seconds": 0.2, "max_backoff_seconds": 1})
            r = run_cli(["enqueue", write_ndjson(os.path.join(self.tmp, "seven.ndjson"), records)], cfg, key=self.key)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wal = outbox + "-wal"
            with NotifyListener(os.path.join(self.tmp, "notify.sock"),
                                probe=lambda: os.path.exists(outbox)) as n:
                with Agent(cfg, key=self.key, env=notify_env(n.address)) as agent:
                    t_ready, _, outbox_there = n.wait_for("READY", "1", timeout=15)
                    self.assertTrue(outbox_there, "READY=1 before the outbox file existed")
                    # Start-up happened in order: the outbox was opened before READY was sent.
                    self.assertIn("connector: watching", agent.log_text())
                    n.wait_for("STATUS", pattern=r"^connected; 7 queued, 0 dead$", timeout=15)
                    sim.clear_faults()
                    n.wait_for("STATUS", pattern=r"^connected; 0 queued, 0 dead$", timeout=20)
                    sim.wait_stats(timeout=5, records_unique=7)

                    # WATCHDOG=1 every 2 s: over 8 s, 3 to 6 pings (the machine is loaded: loose bounds).
                    window_start = max(time.monotonic(), t_ready + 1)
                    time.sleep(8.0)
                    pings = n.assignments("WATCHDOG", since=window_start)
                    self.assertTrue(all(v == "1" for _, v, _ in pings), pings)
                    self.assertGreaterEqual(len(pings), 3, pings)
                    self.assertLessEqual(len(pings), 6, pings)
                    gaps = [b[0] - a[0] for a, b in zip(pings, pings[1:])]
                    self.assertTrue(all(g > 1.0 for g in gaps), gaps)  # no burst: about one per interval

                    t_term = time.monotonic()
                    self.assertEqual(agent.stop(signal.SIGTERM, timeout=10), 0)
                    n.wait_for("STOPPING", "1", since=t_term, timeout=5)
                    t_stopping = n.assignments("STOPPING")[0][0]
                    self.assertEqual(n.assignments("WATCHDOG", since=t_stopping + 0.01), [])
                log = agent.log_text()
            self.assertNotIn("watchdog: not telling systemd", log)  # a healthy agent never withholds a ping
            self.assertNotIn("systemd notify:", log)  # the socket opened
            self.assertEqual(n.names()[0], "STATUS")  # the first status line precedes READY
            self.assertEqual(len(n.assignments("READY")), 1)
            statuses = [v for _, v, _ in n.assignments("STATUS")]
            self.assertTrue(all(re.match(r"^\w+; \d+ queued, \d+ dead", s) for s in statuses), statuses)
            self.assertTrue(all(a != b for a, b in zip(statuses, statuses[1:])), statuses)  # sent on change only
            self.assertFalse(os.path.exists(wal) and os.path.getsize(wal) > 0, "outbox not closed cleanly")

    def test_abstract_socket(self):
        name = "@ob-e2e-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            cfg = write_config(self.tmp, sim)
            with NotifyListener(name) as n:
                with Agent(cfg, key=self.key, env=notify_env(name)) as agent:
                    t_ready, _, _ = n.wait_for("READY", "1", timeout=15)
                    n.wait_for("WATCHDOG", "1", since=t_ready, timeout=6)
                    n.wait_for("STATUS", pattern=r"^connected; 0 queued, 0 dead$", timeout=10)
                    self.assertEqual(agent.stop(), 0)
                n.wait_for("STOPPING", "1", timeout=5)
                self.assertNotIn("systemd notify:", agent.log_text())

    def test_stalled_disk_worker_stops_the_watchdog_pings(self):
        stall = 20
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            cfg = write_config(self.tmp, sim)
            with NotifyListener(os.path.join(self.tmp, "notify.sock")) as n:
                env = notify_env(n.address, extra={"OB_TEST_STALL_DISK_WORKER_SECONDS": str(stall)})
                with Agent(cfg, key=self.key, env=env) as agent:
                    t_ready, _, _ = n.wait_for("READY", "1", timeout=15)
                    # The gate allows WATCHDOG_USEC (4 s) of silence from the disk worker, which last reported
                    # just before the stall began (at start): a ping or two may go out in the first ~4 s, then
                    # none until the worker is back. Look at a 12 s window, three times the watchdog timeout.
                    quiet_from, quiet_to = t_ready + 5.0, t_ready + 17.0
                    time.sleep(max(0.0, quiet_to - time.monotonic()))
                    self.assertTrue(agent.alive())
                    in_window = [p for p in n.assignments("WATCHDOG", since=quiet_from) if p[0] < quiet_to]
                    self.assertEqual(in_window, [], "watchdog pings while the disk worker was stalled")
                    self.assertRegex(agent.log_text(),
                                     r"watchdog: not telling systemd we are alive: disk worker silent for \d+ s")
                    # The network thread was healthy all along: heartbeats went on.
                    self.assertGreaterEqual(sim.stats()["heartbeats"], 1)
                    # Once the worker answers again (at ~20 s), the pings resume.
                    n.wait_for("WATCHDOG", "1", since=t_ready + stall - 1, timeout=stall + 10 - (time.monotonic() -
                                                                                              t_ready))
                    self.assertEqual(agent.stop(), 0)
                log = agent.log_text()
            self.assertNotRegex(log, r"event loop silent")


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("reload-")
        self.key, _ = make_agent_key()

    def beats_after(self, sim, t_unix):
        return [b["received_unix"] for b in sim.heartbeats() if b["received_unix"] > t_unix and b["status"] == 200]

    def test_sighup_applies_log_level_and_interval_and_keeps_the_old_config_on_errors(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            cfg = write_config(self.tmp, sim, log_level="info", heartbeat_interval_seconds=60)
            with NotifyListener(os.path.join(self.tmp, "notify.sock")) as n:
                with Agent(cfg, key=self.key, env=notify_env(n.address)) as agent:
                    n.wait_for("READY", "1", timeout=15)
                    agent.wait_log(r"connection: connected", timeout=15)
                    sim.wait_stats(timeout=5, heartbeats=1)
                    self.assertNotRegex(agent.log_text(), r"Z debug ")  # info: no debug line yet

                    # 1. A good file: debug logging and 5 s heartbeats, without a restart.
                    write_config(self.tmp, sim, log_level="debug", heartbeat_interval_seconds=60 // 12)
                    t_hup, t_hup_unix = time.monotonic(), time.time()
                    agent.send_signal(signal.SIGHUP)
                    agent.wait_log(r"reload: configuration re-read from \S+ \(applied: heartbeat_interval_seconds, log_level; "
                                   r"log level debug, heartbeat every 5 s\)",
                                   timeout=10)
                    t_reloading, value, _ = n.wait_for("RELOADING", "1", since=t_hup, timeout=5)
                    monotonic = [v for _, v, _ in n.assignments("MONOTONIC_USEC", since=t_hup)]
                    self.assertTrue(monotonic and monotonic[0].isdigit(), monotonic)
                    t_ready2, _, _ = n.wait_for("READY", "1", since=t_reloading, timeout=5)
                    self.assertGreaterEqual(t_ready2, t_reloading)
                    wait_until(lambda: len(self.beats_after(sim, t_hup_unix)) >= 3, 25,
                               what="three heartbeats after the reload")
                    beats = self.beats_after(sim, t_hup_unix)
                    gaps = [b - a for a, b in zip(beats, beats[1:])]
                    # 5 s with ±10 % jitter; loose upper bound for a loaded machine.
                    self.assertTrue(all(4.0 <= g <= 8.0 for g in gaps), gaps)
                    self.assertLess(beats[0] - t_hup_unix, 8.0)  # the 60 s wait in progress was not kept
                    agent.wait_log(r"heartbeat: connected", timeout=5)  # debug lines now show
                    self.assertTrue(agent.alive())

                    # 2. Invalid YAML: the error is logged, the old configuration keeps running.
                    with open(cfg, "w") as f:
                        f.write("agent_id: \"agt_1\"\nlog_level: [info\nheartbeat_interval_seconds: 3600\n")
                    t_hup, t_hup_unix = time.monotonic(), time.time()
                    agent.send_signal(signal.SIGHUP)
                    agent.wait_log(r"reload: \S+ has errors; the previous configuration keeps running", timeout=10)
                    n.wait_for("RELOADING", "1", since=t_hup, timeout=5)
                    n.wait_for("READY", "1", since=t_hup, timeout=5)
                    self.assertGreaterEqual(len(re.findall(r"Z error [^:]*: reload: ", agent.log_text())), 2,
                                            agent.log_text()[-3000:])
                    wait_until(lambda: len(self.beats_after(sim, t_hup_unix)) >= 1, 10, what="a heartbeat")
                    self.assertTrue(agent.alive())

                    # 3. Valid YAML, values out of range: every error is logged, nothing changes.
                    write_config(self.tmp, sim, log_level="chatty", heartbeat_interval_seconds=2,
                                 retry={"initial_backoff_seconds": 0.2, "max_backoff_seconds": -1})
                    before = agent.log_text().count("has errors; the previous configuration keeps running")
                    t_hup, t_hup_unix = time.monotonic(), time.time()
                    agent.send_signal(signal.SIGHUP)
                    agent.wait_log(r"has errors; the previous configuration keeps running", timeout=10,
                                   count=before + 1)
                    log = agent.log_text()
                    for field in ("log_level", "heartbeat_interval_seconds", "retry.max_backoff_seconds"):
                        self.assertRegex(log, r"reload: .*%s" % re.escape(field))
                    wait_until(lambda: len(self.beats_after(sim, t_hup_unix)) >= 2, 15, what="two heartbeats")
                    beats = self.beats_after(sim, t_hup_unix)
                    self.assertGreaterEqual(beats[1] - beats[0], 4.0)  # still 5 s, not the refused 2 s
                    agent.wait_log(r"heartbeat: connected", timeout=5, count=3)  # still at debug
                    self.assertTrue(agent.alive())

                    # 4. Keys that cannot change in place keep their old value, and the log names them.
                    page = agent.status_url()
                    write_config(self.tmp, sim, log_level="debug", heartbeat_interval_seconds=60 // 12,
                                 sync_interval_seconds=30, status={"listen": "127.0.0.1:1"},
                                 http={"connect_timeout_seconds": 3, "request_timeout_seconds": 7})
                    agent.send_signal(signal.SIGHUP)
                    agent.wait_log(r"reload: http\.request_timeout_seconds, status\.listen changed; they keep their "
                                   r"old value until a restart", timeout=10)
                    agent.wait_log(r"reload: configuration re-read from \S+ \(applied: sync_interval_seconds;",
                                   timeout=10)
                    with urllib.request.urlopen(page + "/healthz", timeout=5) as r:  # the old address still
                        self.assertEqual(r.status, 200)
                    self.assertEqual(agent.stop(), 0)
            self.assertNotIn(self.key, agent.log_text())


class StopDuringDeliveryTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("term-")
        self.key, _ = make_agent_key()

    def run_case(self, delay_ms):
        records = make_records(60, seed=62 + delay_ms)
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False,
                       faults={"delay_ms": delay_ms, "delay_count": -1, "path": "sync"}) as sim:
            cfg = write_config(self.tmp, sim, sync_interval_seconds=1, batch={"max_records": 10})
            r = run_cli(["enqueue", write_ndjson(os.path.join(self.tmp, "sixty.ndjson"), records)], cfg, key=self.key)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            agent = Agent(cfg, key=self.key).start()
            try:
                # The simulator takes (and processes) a batch, then holds its answer: a request in flight.
                wait_until(lambda: sim.stats().get("faults_applied", {}).get("delay", 0) >= 1, 20,
                           what="a sync request in flight")
                agent.wait_log(r"delivery: sending batch", timeout=5)
                t = time.monotonic()
                code = agent.stop(signal.SIGTERM, timeout=15)
                elapsed = time.monotonic() - t
            finally:
                if agent.alive():
                    agent.kill()
            self.assertEqual(code, 0, agent.log_text()[-3000:])
            self.assertIn("received SIGTERM: stopping", agent.log_text())
            self.assertLess(sim.stats()["records_unique"], 60)  # it was stopped mid-delivery

            # Restarted with the fault cleared, every record arrives, exactly once by id.
            sim.clear_faults()
            agent2 = Agent(cfg, key=self.key, log_path=cfg + ".agent2.log").start()
            try:
                sim.wait_stats(timeout=30, records_unique=60)
            finally:
                self.assertEqual(agent2.stop(), 0)
            stats = sim.stats()
            self.assertEqual(received_payloads(sim.records()), expected_payloads(records))
            self.assertEqual(stats["records_duplicate_mismatch"], 0, stats)
            return agent.log_text(), stats, elapsed

    def test_sigterm_waits_for_the_answer_in_flight(self):
        # The answer comes 0.3 s after the request: within the 1.5 s grace, so the batch is recorded as
        # delivered and never sent again.
        log, stats, elapsed = self.run_case(300)
        self.assertNotIn("did not finish within", log)
        self.assertEqual(stats["batches_duplicate"], 0, stats)
        self.assertEqual(stats["records_duplicate"], 0, stats)

    def test_sigterm_abandons_a_request_after_its_grace_and_loses_nothing(self):
        # The answer would take 10 min: the agent gives it 1.5 s (a stop is obeyed within 2 s, ARCHITECTURE.md
        # "Threads"), then exits (within the 15 s stop timeout, far from the answer's time, whatever the
        # machine's speed); the batch (processed by the server) is resent under its own Idempotency-Key after the
        # restart.
        log, stats, elapsed = self.run_case(600000)
        self.assertGreaterEqual(elapsed, 1.0)
        self.assertIn("did not finish within", log)
        self.assertGreaterEqual(stats["batches_duplicate"], 1, stats)


if __name__ == "__main__":
    unittest.main()
