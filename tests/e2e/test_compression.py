"""End to end: gzip on the wire (issue 11 part 2) against the real agent and simulator. http.compression_level
changes the bytes the agent sends on SIGHUP, without a restart, and every record still arrives once;
http.compression: none neither compresses requests nor asks for gzip answers.
"""

import os
import signal
import unittest

from agentproc import Agent
from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until
from test_delivery import (enqueue, expected_payloads, fast_config, make_records, outbox_idle, received_payloads,
                           sync_requests, write_ndjson)


class CompressionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("gz-")
        self.key, _ = make_agent_key()

    def start_sim(self):
        sim = Simulator(self.tmp, agents={"agt_1": self.key}, http=False).start()
        self.addCleanup(sim.stop)
        return sim

    def start_agent(self, cfg):
        agent = Agent(cfg, key=self.key).start()
        self.addCleanup(lambda: agent.stop() if agent.alive() else None)
        return agent

    def test_compression_level_applies_on_reload(self):
        # The same records (but their ids) before and after: only the level differs between the two halves.
        first = make_records(400, seed=201, id_prefix="r_lvl1_", size=120)
        second = make_records(400, seed=201, id_prefix="r_lvl12_", size=120)
        sim = self.start_sim()
        cfg = fast_config(self.tmp, sim, http={"compression": "gzip", "compression_level": 1})
        enqueue(self, cfg, self.key, write_ndjson(os.path.join(self.tmp, "a.ndjson"), first), 400)
        agent = self.start_agent(cfg)
        sim.wait_stats(timeout=60, records_unique=400)
        wait_until(lambda: outbox_idle(agent), 15, what="the agent to ack the first records")

        fast_config(self.tmp, sim, http={"compression": "gzip", "compression_level": 12})
        agent.send_signal(signal.SIGHUP)
        agent.wait_log(r"reload: configuration re-read from \S+ \(applied: http\.compression_level;", timeout=10)
        self.assertNotRegex(agent.log_text(), r"reload: .*compression_level.* keep their old value")
        enqueue(self, cfg, self.key, write_ndjson(os.path.join(self.tmp, "b.ndjson"), second), 400)
        sim.wait_stats(timeout=60, records_unique=800)
        wait_until(lambda: outbox_idle(agent), 15, what="the agent to ack the second records")
        self.assertTrue(agent.alive(), "a reload, not a restart")
        self.assertEqual(agent.stop(), 0)

        reqs = sync_requests(sim)
        self.assertTrue(all(q["status"] == 200 and q["gzip"] for q in reqs), reqs)
        got = sim.records()
        after_reload = {r["batch_id"] for rid, r in got.items() if rid.startswith("r_lvl12_")}
        by_level = {1: [], 12: []}
        for q in reqs:
            by_level[12 if q["idempotency_key"] in after_reload else 1].append(q)
        bytes_1 = sum(q["body_bytes"] for q in by_level[1])
        bytes_12 = sum(q["body_bytes"] for q in by_level[12])
        self.assertEqual(sum(q["records"] for q in by_level[12]), 400)
        # gzip_bench: level 12 sends about a quarter fewer bytes than level 1 on sync bodies.
        self.assertLess(bytes_12, 0.9 * bytes_1, (bytes_1, bytes_12))
        self.assertEqual(received_payloads(got), expected_payloads(first + second))
        self.assertEqual(sim.stats()["records_duplicate"], 0)

    def test_none_neither_compresses_nor_asks_for_gzip(self):
        records = make_records(300, seed=202)
        sim = self.start_sim()
        cfg = fast_config(self.tmp, sim, http={"compression": "none"})
        enqueue(self, cfg, self.key, write_ndjson(os.path.join(self.tmp, "n.ndjson"), records), 300)
        agent = self.start_agent(cfg)
        sim.wait_stats(timeout=60, records_unique=300)
        wait_until(lambda: outbox_idle(agent), 15, what="the agent to ack the last batch")
        self.assertEqual(agent.stop(), 0)
        reqs = sync_requests(sim)
        self.assertTrue(reqs)
        self.assertEqual({(q["status"], q["gzip"], q["response_gzip"]) for q in reqs}, {(200, False, False)})
        self.assertEqual(sim.stats()["gzip_responses"], 0)
        self.assertEqual(received_payloads(sim.records()), expected_payloads(records))


if __name__ == "__main__":
    unittest.main()
