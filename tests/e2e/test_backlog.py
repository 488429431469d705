"""End to end: a backlog waiting at start (issue 10 point 3). Ingest works in slices, so the watchdog keeps
being told the agent is alive, batches are delivered while files are still being queued, and SIGTERM in the
middle of the backlog exits promptly, leaving the rest in the folder; a restart queues every row exactly once.
Events are checked by their order, never by the machine's speed."""

import os
import re
import signal
import time
import unittest

from agentproc import Agent, write_config
from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until
from test_service_signals import NotifyListener, notify_env

FILES = 40
ROWS = 25000
WATCHDOG_USEC = 2000000  # pings every 1 s; the gate withholds them after 2 s without the disk thread


def write_backlog(folder):
    os.makedirs(folder, exist_ok=True)
    for f in range(FILES):
        lines = ["first_name,last_name,dob,sex"]
        lines += ["B%d_%d,Backlog,1990-07-22,female" % (f, i) for i in range(ROWS)]
        path = os.path.join(folder, "patients_backlog_%02d.csv" % f)
        with open(path, "w") as out:
            out.write("\n".join(lines) + "\n")
        old = time.time() - 3600  # settled long ago: all of them are ready at start
        os.utime(path, (old, old))


def waiting(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".csv"))


class BacklogTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("backlog-")
        self.key, _ = make_agent_key()

    def test_a_backlog_is_ingested_in_slices_and_a_stop_is_obeyed_between_them(self):
        incoming = os.path.join(self.tmp, "incoming")
        write_backlog(incoming)
        sock = os.path.join(self.tmp, "notify.sock")
        with Simulator(self.tmp, agents={"agt_1": self.key}) as sim, NotifyListener(sock) as n:
            cfg = write_config(self.tmp, sim, log_level="info", sync_interval_seconds=1,
                               batch={"max_records": 2000, "max_bytes": 4 << 20})
            agent = Agent(cfg, key=self.key, env=notify_env(sock, WATCHDOG_USEC)).start()
            try:
                n.wait_for("READY", "1", timeout=30)
                agent.wait_log(r"connector: patients_backlog_\d+\.csv: queued", timeout=120)
                # Batches go out while files are still waiting in the folder.
                wait_until(lambda: sim.stats()["records_unique"] > 0 and waiting(incoming), 120,
                           what="a delivered batch while files still wait")
                self.assertTrue(waiting(incoming), "the backlog ended before a batch was delivered")
                t_term = time.monotonic()
                agent.send_signal(signal.SIGTERM)
                code = agent.proc.wait(timeout=30)
                stop_seconds = time.monotonic() - t_term
            finally:
                if agent.alive():
                    agent.kill()
            log = agent.log_text()
            self.assertEqual(code, 0, log[-3000:])
            left = waiting(incoming)
            self.assertTrue(left, "every file was queued before the stop took effect")
            self.assertNotIn("not telling systemd we are alive", log)
            pings = [t for t, _, _ in n.assignments("WATCHDOG", since=0)]
            self.assertGreaterEqual(len(pings), 1, "no WATCHDOG=1 ping during the ingest")
            queued_before_stop = len(re.findall(r"connector: patients_backlog_\d+\.csv: queued", log))
            print("\nbacklog: %d of %d files queued before SIGTERM; exit %.2f s after it; %d pings; longest gap "
                  "between pings %.2f s" % (queued_before_stop, FILES, stop_seconds, len(pings),
                                            max([b - a for a, b in zip(pings, pings[1:])] or [0])))

            # Restarted, it resumes and queues every row exactly once (ids derive from file and row).
            again = Agent(cfg, key=self.key, log_path=cfg + ".again.log").start()
            try:
                wait_until(lambda: not waiting(incoming), 300, what="the rest of the backlog queued")
                sim.wait_stats(timeout=300, records_unique=FILES * ROWS)
            finally:
                self.assertEqual(again.stop(), 0)
            stats = sim.stats()
            self.assertEqual(stats["records_unique"], FILES * ROWS)
            self.assertEqual(stats["records_duplicate_mismatch"], 0, stats)
            self.assertEqual(len(os.listdir(os.path.join(incoming, "processed"))), FILES)


if __name__ == "__main__":
    unittest.main()
