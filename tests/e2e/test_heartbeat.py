"""End to end: the agent's heartbeat against the simulator over real TLS on loopback (issue 3)."""

import json
import os
import signal
import time
import unittest
import urllib.request

from agentproc import Agent, run_cli, write_config
from certs import make_self_signed
from simulator import Simulator, e2e_tmpdir, free_port, make_agent_key, wait_until


class HeartbeatTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("hb-")
        self.key, _ = make_agent_key()

    def test_accepted_with_the_three_headers_and_documented_body(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}) as sim:
            cfg = write_config(self.tmp, sim, log_level="trace")
            with Agent(cfg, key=self.key) as agent:
                agent.wait_log(r"connection: connected", timeout=15)
                sim.wait_stats(heartbeats=1, timeout=10)
                self.assertEqual(agent.stop(), 0)
            beat = sim.heartbeats()[-1]
            self.assertEqual(beat["status"], 200)
            headers = beat["headers"]
            self.assertEqual(headers["x-bridge-agent-id"], "agt_1")
            self.assertEqual(headers["x-bridge-agent-key"], "REDACTED")  # the simulator checked and hid it
            self.assertLessEqual(abs(int(headers["x-bridge-timestamp"]) - beat["sim_unix"]), 2)
            self.assertTrue(headers["user-agent"].startswith("opescare-bridge/"))
            body = beat["body"] if isinstance(beat["body"], dict) else json.loads(beat["body"])
            self.assertEqual(body["agent_id"], "agt_1")
            self.assertEqual(body["facility_id"], "fac-1")
            self.assertRegex(body["version"], r"^\d+\.\d+\.\d+$")
            self.assertEqual(body["status"]["queue"]["pending"], 0)
            self.assertIn("uptime_seconds", body["status"])
            self.assertTrue(beat["tls"])
            # Trace logging of everything above never shows the key.
            self.assertNotIn(self.key, agent.log_text())
            self.assertIn("***", run_cli(["check-config", "--print"], cfg, key=self.key).stdout)

    def test_heartbeat_command_reports_success_and_hides_the_key(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}) as sim:
            cfg = write_config(self.tmp, sim)
            r = run_cli(["heartbeat"], cfg, key=self.key)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("X-Bridge-Agent-Key: ***", r.stdout)
            self.assertIn("outcome:  connected (HTTP 200)", r.stdout)
            self.assertNotIn(self.key, r.stdout + r.stderr)

    def test_wrong_key_is_unauthorized_and_the_agent_keeps_beating_at_its_interval(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}) as sim:
            cfg = write_config(self.tmp, sim, heartbeat_interval_seconds=5)
            r = run_cli(["heartbeat"], cfg, key="wrong-key-000")
            self.assertEqual(r.returncode, 3)
            self.assertIn("bridge_token_invalid", r.stdout)
            self.assertIn("re-generate the agent key", r.stdout)
            before = sim.stats()["heartbeat_requests"]  # the command's own
            with Agent(cfg, key="wrong-key-000") as agent:
                agent.wait_log(r"connection: unauthorized", timeout=15)
                started = time.monotonic()
                sim.wait_stats(timeout=20, heartbeat_requests=before + 3)
                elapsed = time.monotonic() - started
                self.assertTrue(agent.alive())
                # Three beats at 5 s ±10 %: the first at once, then two intervals (no tight loop, no stall).
                self.assertGreaterEqual(elapsed, 2 * 4.5 - 0.5)
                self.assertLess(sim.stats()["heartbeat_requests"], before + 5)
                # The state change is logged once, not once per beat.
                self.assertEqual(agent.log_text().count("connection: unauthorized"), 1)
                self.assertEqual(agent.stop(), 0)
            self.assertEqual(sim.stats()["heartbeats"], 0)

    def test_simulator_down_at_start_then_up_recovers_without_restart(self):
        port = free_port()
        cert, key = make_self_signed(self.tmp)
        sim = Simulator(self.tmp, agents={"agt_1": self.key}, https_port=port, http=False,
                        extra_args=["--cert", cert, "--key", key])
        cfg = write_config(self.tmp, None, server_url="https://127.0.0.1:%d" % port, heartbeat_interval_seconds=5,
                           http={"ca_file": cert})
        with Agent(cfg, key=self.key) as agent:
            agent.wait_log(r"connection: unreachable", timeout=15)
            sim.start()
            try:
                agent.wait_log(r"connection: connected", timeout=20)
                self.assertTrue(agent.alive())
            finally:
                agent.stop()
                sim.stop()

    def test_local_clock_an_hour_off_is_corrected_after_the_first_date_header(self):
        # The simulator's clock runs an hour ahead: to it, the agent's clock is an hour behind.
        with Simulator(self.tmp, agents={"agt_1": self.key}, clock_offset=3600) as sim:
            cfg = write_config(self.tmp, sim, heartbeat_interval_seconds=5)
            with Agent(cfg, key=self.key) as agent:
                agent.wait_log(r"connection: connected", timeout=20)
                agent.wait_log(r"clock: this computer's clock is 3[56]\d\d s behind", timeout=5)
                self.assertEqual(agent.stop(), 0)
            accepted = [b for b in sim.heartbeats() if b["status"] == 200]
            self.assertTrue(accepted)
            self.assertLessEqual(abs(accepted[-1]["timestamp_skew_seconds"]), 2)
            # The `heartbeat` command retries once with the offset it measured.
            r = run_cli(["heartbeat"], cfg, key=self.key)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("retrying once with the measured clock offset", r.stdout)

    def test_a_sync_accepted_after_a_refused_heartbeat_says_connected_at_once(self):
        # The simulator's clock runs an hour ahead: the first heartbeat is refused (timestamp out of its
        # window) and teaches the agent the offset. The next heartbeat is an hour away; a sync with the
        # corrected timestamp is accepted meanwhile, and status must say "connected" from then on, not
        # "unauthorized" until the next beat (issue 10 point 7).
        with Simulator(self.tmp, agents={"agt_1": self.key}, clock_offset=3600) as sim:
            cfg = write_config(self.tmp, sim, heartbeat_interval_seconds=3600, sync_interval_seconds=1)
            with Agent(cfg, key=self.key) as agent:
                base = agent.status_url()
                agent.wait_log(r"connection: unauthorized", timeout=20)
                state = json.loads(urllib.request.urlopen(base + "/status.json", timeout=5).read())
                self.assertEqual(state["connection"]["state"], "unauthorized")
                incoming = os.path.join(self.tmp, "incoming")
                with open(os.path.join(incoming, "patients_clock.csv"), "w") as f:
                    f.write("first_name,last_name,dob,sex\nMarie,Fouda,1990-07-22,female\n")
                sim.wait_stats(timeout=30, records_unique=1)
                state = wait_until(lambda: (lambda s: s if s["connection"]["state"] == "connected" else None)(
                    json.loads(urllib.request.urlopen(base + "/status.json", timeout=5).read())), 10,
                    what="status connected after the accepted sync")
                self.assertEqual(len(sim.heartbeats()), 1, "a second heartbeat would make this check vacuous")
                self.assertEqual(state["connection"]["last_error_message"], "")
                self.assertEqual(agent.stop(), 0)

    def test_run_stops_within_two_seconds_of_sigint(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}) as sim:
            cfg = write_config(self.tmp, sim)
            with Agent(cfg, key=self.key) as agent:
                agent.wait_log(r"connection: connected", timeout=15)
                t = time.monotonic()
                self.assertEqual(agent.stop(signal.SIGINT, timeout=10), 0)
                self.assertLess(time.monotonic() - t, 2.0)

    def test_corrupt_outbox_keeps_the_agent_running_and_the_heartbeat_reports_the_fault(self):
        outbox = os.path.join(self.tmp, "outbox.db")
        with open(outbox, "wb") as f:
            f.write(b"this is not an SQLite database, but it may hold someone's records" * 100)
        with open(outbox, "rb") as f:
            before = f.read()
        with Simulator(self.tmp, agents={"agt_1": self.key}) as sim:
            cfg = write_config(self.tmp, sim)
            with Agent(cfg, key=self.key) as agent:
                agent.wait_log(r"outbox .* cannot be opened", timeout=15)
                agent.wait_log(r"connection: connected", timeout=15)
                self.assertTrue(agent.alive())
                self.assertEqual(agent.stop(), 0)
            beat = sim.heartbeats()[-1]
            body = beat["body"] if isinstance(beat["body"], dict) else json.loads(beat["body"])
            faults = body["status"].get("faults", [])
            unavailable = [f for f in faults if f["kind"] == "outbox_unavailable"]
            self.assertEqual(len(unavailable), 1, faults)
            self.assertIn("cannot be opened", unavailable[0]["message"])
            self.assertIn("doctor", unavailable[0]["fix"])
        with open(outbox, "rb") as f:
            self.assertEqual(f.read(), before, "the agent must never delete or rewrite a database it cannot read")

    def test_python_agent_invocation_runs_the_agent(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}) as sim:
            cfg = write_config(self.tmp, sim)
            with Agent(cfg, key=self.key, args=()) as agent:  # `opescare-bridge --config F`
                agent.wait_log(r"connection: connected", timeout=15)
                self.assertEqual(agent.stop(), 0)


if __name__ == "__main__":
    unittest.main()
