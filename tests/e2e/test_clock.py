"""End to end (issue 10 point 6, PROTOCOL.md "Clock"): a dead CMOS battery and a clock far ahead, with
libfaketime (Debian's faketime) preloaded into the real agent, against the simulator on the real clock.

(a) The agent talks to the simulator with a correct clock, so the newest verified server time is stored in the
    outbox; restarted a year in the past it still accepts the certificate (checked at that stored time) and says
    the clock is 364 (365 less the seconds since) days behind. A fresh outbox at that clock is the control: "not yet valid", the clock named.
(b) Two years ahead, the certificate looks expired: the `heartbeat` command and `doctor` name the clock.

The server certificate is issued seconds before the test, so the agent's build-time floor cannot be what
rescues (a): only the stored server time can.
"""

import datetime
import json
import os
import re
import shutil
import sqlite3
import unittest
import urllib.request

from agentproc import Agent, run_cli, write_config
from certs import make_ca
from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
BEHIND = r"the clock is 36[45] days behind the last known server time \(CMOS battery\?\)"


def faketime_env(offset):
    # Only the wall clock moves: a monotonic clock a year back would be negative, and timers rely on it.
    # Under AddressSanitizer a preloaded library comes before its runtime: allowed explicitly.
    return {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "FAKETIME_NO_CACHE": "1", "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}


def stored_floor(outbox_path):
    if not os.path.exists(outbox_path):
        return None
    con = sqlite3.connect("file:%s?mode=ro" % outbox_path, uri=True, timeout=5)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'verified_server_time'").fetchone()
        return int(row[0]) if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()


@unittest.skipUnless(os.path.exists(LIBFAKETIME), "faketime (libfaketime) is not installed")
class ClockTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("clock-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.key, _ = make_agent_key()
        now = datetime.datetime.now(datetime.timezone.utc)
        ca = make_ca(self.tmp, "clock-root", cn="OB Clock Root", days=3650)
        self.ca_file = ca.cert
        # Valid from a few seconds ago for 30 days: after the agent's build time.
        self.cert, self.cert_key = ca.issue("clock-server", not_before=now - datetime.timedelta(seconds=5),
                                            not_after=now + datetime.timedelta(days=30))
        self.sim = Simulator(self.tmp, agents={"agt_1": self.key}, http=False,
                             extra_args=["--cert", self.cert, "--key", self.cert_key]).start()
        self.addCleanup(self.sim.stop)

    def config(self, name="config.yaml", outbox="outbox.db"):
        return write_config(self.tmp, None, name=name, server_url=self.sim.https_url, heartbeat_interval_seconds=5,
                            outbox={"path": os.path.join(self.tmp, outbox)}, http={"ca_file": self.ca_file})

    def accepted(self):
        return self.sim.stats()["heartbeats"]

    def test_a_clock_a_year_behind_is_rescued_by_the_stored_server_time(self):
        cfg = self.config()
        outbox = os.path.join(self.tmp, "outbox.db")
        with Agent(cfg, key=self.key) as agent:
            wait_until(lambda: self.accepted() >= 1 or not agent.alive(), 30, what="a heartbeat with the real clock")
            wait_until(lambda: stored_floor(outbox) is not None or not agent.alive(), 30,
                       what="verified_server_time in the outbox")
            self.assertEqual(agent.stop(), 0, agent.log_text()[-3000:])
        floor = stored_floor(outbox)
        self.assertLess(abs(floor - datetime.datetime.now().timestamp()), 120, floor)

        # The control: the same clock with no stored floor refuses the certificate and names the clock.
        r = run_cli(["heartbeat"], self.config("fresh.yaml", "fresh.db"), key=self.key, env=faketime_env("-365d"))
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("not yet valid", r.stdout)
        self.assertRegex(r.stdout, r"clock is behind \(CMOS battery\?\)")

        before = self.accepted()
        with Agent(cfg, key=self.key, env=faketime_env("-365d"), log_path=cfg + ".behind.log") as agent:
            # The first beat's timestamp is a year off (401); the offset from its Date corrects the next one.
            wait_until(lambda: self.accepted() > before or not agent.alive(), 60,
                       what="a heartbeat accepted with the clock a year behind")
            agent.wait_log(BEHIND, timeout=30)
            # status.json shows it as a fault (the status contract's clock_behind).
            with urllib.request.urlopen(agent.status_url(timeout=20) + "/status.json", timeout=10) as resp:
                status = json.loads(resp.read())
            behind = [f for f in status.get("faults", []) if f["kind"] == "clock_behind"]
            self.assertEqual(len(behind), 1, status.get("faults"))
            self.assertRegex(behind[0]["message"], BEHIND)
            self.assertNotIn("not yet valid", agent.log_text())
            self.assertEqual(agent.stop(), 0, agent.log_text()[-3000:])
        self.assertNotIn(self.key, agent.log_text())

    def test_b_a_clock_two_years_ahead_is_named_in_the_tls_error(self):
        cfg = self.config()
        outbox = os.path.join(self.tmp, "outbox.db")
        with Agent(cfg, key=self.key) as agent:
            wait_until(lambda: stored_floor(outbox) is not None or not agent.alive(), 30,
                       what="verified_server_time in the outbox")
            self.assertEqual(agent.stop(), 0)
        before = self.accepted()
        ahead = faketime_env("+730d")
        r = run_cli(["heartbeat"], cfg, key=self.key, env=ahead)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^outcome:  tls_error")
        self.assertIn("certificate has expired", r.stdout)
        self.assertRegex(r.stdout, r"the clock is likely ahead|the clock is the likely cause")
        # doctor reads the stored server time: the clock is ahead of it, by about two years.
        d = run_cli(["doctor"], cfg, key=self.key, env=ahead)
        self.assertNotEqual(d.returncode, 0, d.stdout)
        self.assertRegex(d.stdout, r"(?m)^✗ tls: .*ahead of the last known server time .*the clock is the likely cause")
        self.assertRegex(d.stdout, r"(?m)^✗ clock: this computer's clock \(20\d\d-.*\) is likely far ahead")
        self.assertRegex(d.stdout, r"(?m)^    fix: set the correct time")
        self.assertEqual(self.accepted(), before)  # nothing was sent to a certificate refused
        self.assertNotIn(self.key, r.stdout + r.stderr + d.stdout + d.stderr)


if __name__ == "__main__":
    unittest.main()
