"""End to end: a record leaves the outbox only when a receipt names it (issue 10 point 1, PROTOCOL.md "The
receipt"). Against the real agent and simulator: for a 200 that is an HTML page, an empty body, invalid JSON
or another batch's receipt, nothing is deleted while it lasts, the same batch is retried under the same key,
the log says why once; after it clears every record arrives exactly once, field for field. A receipt that
leaves ids out sends the rest again under a new batch_id with the same record ids. The agent asks for gzip
receipts (Accept-Encoding: gzip) and acts on them; a gzip answer that inflates beyond http.max_response_bytes
is not a receipt, however small it is on the wire.
"""

import os
import re
import sqlite3
import unittest

from agentproc import Agent
from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until
from test_delivery import (MAX_IN_FLIGHT, enqueue, expected_payloads, fast_config, make_records, outbox_idle, outbox_status,
                           received_payloads, sync_requests, write_ndjson)

NO_RECEIPT_LINE = r"delivery: the server answered 2xx without a receipt: "


def queued_in_file(db_path):
    """Records still in the outbox file (read-only, beside the running agent: WAL allows it)."""
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        return con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    finally:
        con.close()


class ReceiptTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("rcpt-")
        self.key, _ = make_agent_key()
        self.db = os.path.join(self.tmp, "outbox.db")

    def start_sim(self, **kw):
        sim = Simulator(self.tmp, agents={"agt_1": self.key}, http=False, **kw).start()
        self.addCleanup(sim.stop)
        return sim

    def start_agent(self, cfg):
        agent = Agent(cfg, key=self.key).start()
        self.addCleanup(lambda: agent.stop() if agent.alive() else None)
        return agent

    def assert_delivered_once(self, sim, cfg, records):
        stats = sim.stats()
        self.assertEqual(stats["records_unique"], len(records), stats)
        self.assertEqual(stats["records_duplicate"], 0, stats)
        self.assertEqual(stats["records_duplicate_mismatch"], 0, stats)
        got = sim.records()
        self.assertEqual(sorted(got), sorted(r["id"] for r in records))
        self.assertEqual(received_payloads(got), expected_payloads(records))
        st = outbox_status(self, cfg, self.key)
        self.assertEqual((st["queued"], st["dead"]), (0, 0), st)
        return got

    def check_not_receipt(self, kind, seed):
        n = 600
        records = make_records(n, seed=seed)
        sim = self.start_sim(faults={"not_receipt": kind, "not_receipt_count": -1})
        cfg = fast_config(self.tmp, sim)
        enqueue(self, cfg, self.key, write_ndjson(os.path.join(self.tmp, kind + ".ndjson"), records), n)
        agent = self.start_agent(cfg)

        fault = "not_receipt_" + kind
        # Or until records left the file: then the assertion below names the fault instead of a timeout.
        wait_until(lambda: sim.stats()["faults_applied"].get(fault, 0) >= 4 or queued_in_file(self.db) < n, 60,
                   what="4 answers that are not receipts")
        self.assertEqual(queued_in_file(self.db), n, "records left the outbox on a 2xx that was not a receipt")
        agent.wait_log(NO_RECEIPT_LINE, timeout=10)
        self.assertEqual(len(re.findall(NO_RECEIPT_LINE, agent.log_text())), 1, "said once per change, not per retry")
        reqs = sync_requests(sim)
        self.assertGreaterEqual(len(reqs), 4)
        # The same batches under the same keys: those on the wire and the one formed ahead, no more.
        self.assertLessEqual(len({q["idempotency_key"] for q in reqs}), MAX_IN_FLIGHT + 1, reqs)
        self.assertEqual(sim.stats()["records_unique"], 0)

        sim.clear_faults()
        sim.wait_stats(timeout=60, records_unique=n)
        wait_until(lambda: outbox_idle(agent), 15, what="the agent to ack the last batch")
        agent.wait_log(r"delivery: the server answers with receipts again", timeout=5)
        self.assertEqual(agent.stop(), 0)
        got = self.assert_delivered_once(sim, cfg, records)
        # The batch that waited went through under its original key once the fault cleared.
        self.assertIn(reqs[0]["idempotency_key"], {r["batch_id"] for r in got.values()})

    def test_html_page_deletes_nothing(self):
        self.check_not_receipt("html", seed=101)

    def test_empty_body_deletes_nothing(self):
        self.check_not_receipt("empty", seed=102)

    def test_invalid_json_deletes_nothing(self):
        self.check_not_receipt("invalid_json", seed=103)

    def test_another_batchs_receipt_deletes_nothing(self):
        self.check_not_receipt("other_batch", seed=104)

    def test_ids_left_out_travel_again_under_a_new_batch_id(self):
        n = 800
        records = make_records(n, seed=105)
        sim = self.start_sim(faults={"not_receipt": "omit_ids", "not_receipt_count": 2})
        cfg = fast_config(self.tmp, sim)
        enqueue(self, cfg, self.key, write_ndjson(os.path.join(self.tmp, "omit.ndjson"), records), n)
        agent = self.start_agent(cfg)
        wait_until(lambda: queued_in_file(self.db) == 0, 60, what="the outbox to empty")
        self.assertEqual(sim.stats()["records_unique"], n, "records left the outbox without a receipt naming them")
        wait_until(lambda: outbox_idle(agent), 15, what="the agent to ack the last batch")
        self.assertEqual(agent.stop(), 0)
        got = self.assert_delivered_once(sim, cfg, records)

        reqs = sync_requests(sim)
        omitted = [q for q in reqs[:2]]
        self.assertEqual([(q["records"], q["accepted"]) for q in omitted], [(200, 100), (200, 100)], reqs[:3])
        self.assertEqual(len(re.findall(r"leaves 100 of its 200 records unnamed", agent.log_text())), 2)
        # Two batches are on the wire at once, so the first batch formed (records 0..199) may reach the
        # simulator second; it is the omitted request whose key records[0] arrived under.
        omitted_keys = [q["idempotency_key"] for q in omitted]
        for key in omitted_keys:
            self.assertEqual(sum(1 for v in got.values() if v["batch_id"] == key), 100, key)
        first_key = got[records[0]["id"]]["batch_id"]
        self.assertIn(first_key, omitted_keys)
        # Records 100..199 were in the first batch but left out of its receipt: they arrived under another key.
        for rec in records[:100]:
            self.assertEqual(got[rec["id"]]["batch_id"], first_key)
        for rec in records[100:200]:
            self.assertNotEqual(got[rec["id"]]["batch_id"], first_key, rec["id"])
        # Every key was used for one set of records: no batch was re-formed under an old key.
        by_key = {}
        for q in reqs:
            by_key.setdefault(q["idempotency_key"], set()).add(q["records"])
        self.assertTrue(all(len(v) == 1 for v in by_key.values()), by_key)


    def test_gzip_receipts_acknowledge_every_record_once(self):
        n = 700
        records = make_records(n, seed=106)
        sim = self.start_sim()
        cfg = fast_config(self.tmp, sim)
        enqueue(self, cfg, self.key, write_ndjson(os.path.join(self.tmp, "gz.ndjson"), records), n)
        agent = self.start_agent(cfg)
        sim.wait_stats(timeout=60, records_unique=n)
        wait_until(lambda: outbox_idle(agent), 15, what="the agent to ack the last batch")
        self.assertEqual(agent.stop(), 0)
        self.assert_delivered_once(sim, cfg, records)
        reqs = sync_requests(sim)
        self.assertEqual([(q["status"], q["response_gzip"]) for q in reqs], [(200, True)] * len(reqs))
        self.assertEqual(len(reqs), 4, "one request per batch of 200: nothing was sent twice")
        stats = sim.stats()
        self.assertEqual(stats["batches_duplicate"], 0)
        self.assertNotIn(NO_RECEIPT_LINE, agent.log_text())

    def test_gzip_answer_over_the_limit_once_inflated_deletes_nothing(self):
        n = 300
        limit = 64 * 1024
        records = make_records(n, seed=107)
        sim = self.start_sim(faults={"path": "sync", "oversized_body_bytes": 2 * 1024 * 1024, "oversized_count": -1})
        cfg = fast_config(self.tmp, sim, http={"max_response_bytes": limit})
        enqueue(self, cfg, self.key, write_ndjson(os.path.join(self.tmp, "bomb.ndjson"), records), n)
        agent = self.start_agent(cfg)
        wait_until(lambda: sim.stats()["faults_applied"].get("oversized", 0) >= 3 or queued_in_file(self.db) < n, 60,
                   what="3 oversized gzip answers")
        self.assertEqual(queued_in_file(self.db), n, "records left the outbox on an answer over the limit")
        agent.wait_log(r"is larger than %d bytes after gzip decoding" % limit, timeout=10)
        reqs = sync_requests(sim)
        self.assertTrue(all(q["response_gzip"] and q["response_bytes"] < limit for q in reqs), reqs)
        # The same batches under the same keys: those on the wire and the one formed ahead, no more.
        keys = [q["idempotency_key"] for q in reqs]
        self.assertLessEqual(len(set(keys)), MAX_IN_FLIGHT + 1, reqs)
        self.assertGreater(len(keys), len(set(keys)), "no batch was sent again under its key")
        self.assertEqual(sim.stats()["records_unique"], 0)

        sim.clear_faults()
        sim.wait_stats(timeout=60, records_unique=n)
        wait_until(lambda: outbox_idle(agent), 15, what="the agent to ack the last batch")
        self.assertEqual(agent.stop(), 0)
        got = self.assert_delivered_once(sim, cfg, records)
        self.assertIn(reqs[0]["idempotency_key"], {r["batch_id"] for r in got.values()})


if __name__ == "__main__":
    unittest.main()
