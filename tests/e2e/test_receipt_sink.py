"""bench/receipt_sink, the drain benchmark's fast sink: its receipts name every record of a batch, it counts
each record once, refuses what a receipt cannot be made for, and the agent delivers a folder's records to it
exactly once. Skipped where the benchmarks are not built (OB_RECEIPT_SINK unset: the asan preset)."""

import gzip
import http.client
import json
import os
import sys
import unittest
import uuid

from agentproc import Agent, write_config
from simulator import LOOPBACK, SYNC_PATH, e2e_tmpdir, make_agent_key, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from drain_bench import FastSink  # noqa: E402

SINK = os.environ.get("OB_RECEIPT_SINK")


def batch(ids, batch_id=None):
    return {"agent_id": "agt_1", "facility_id": "fac-1", "batch_id": batch_id or str(uuid.uuid4()),
            "sent_at": "2026-12-03T10:00:00Z",
            "records": [{"id": i, "type": "patient", "data": {"id": "a column named id"}} for i in ids]}


@unittest.skipUnless(SINK, "the benchmarks are not built here (OB_RECEIPT_SINK unset)")
class ReceiptSinkTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("sink-")

    def post(self, sink, body, key=None, gzip_body=False):
        conn = http.client.HTTPSConnection(LOOPBACK, int(sink.url.rsplit(":", 1)[1]), timeout=10,
                                           context=sink.ssl_context())
        raw = json.dumps(body).encode()
        headers = {"Idempotency-Key": key or body["batch_id"], "Content-Type": "application/json"}
        if gzip_body:
            raw = gzip.compress(raw)
            headers["Content-Encoding"] = "gzip"
        conn.request("POST", SYNC_PATH, body=raw, headers=headers)
        resp = conn.getresponse()
        answer = (resp.status, json.loads(resp.read()))
        conn.close()
        return answer

    def test_receipts_name_every_record_and_count_it_once(self):
        with FastSink(self.tmp, SINK, expect=4) as sink:
            first = batch(["r_1", "r_2", "r_3"])
            self.assertEqual(self.post(sink, first, gzip_body=True),
                             (200, {"batch_id": first["batch_id"], "accepted": ["r_1", "r_2", "r_3"]}))
            self.assertIsNone(sink.done(0.2), "three of four records: not done")
            again = batch(["r_3", "r_4"])
            self.assertEqual(self.post(sink, again)[1]["accepted"], ["r_3", "r_4"])
            stats = sink.done(10)
        self.assertIsNotNone(stats)
        self.assertEqual((stats["event"], stats["batches"], stats["records_total"], stats["records_unique"],
                          stats["records_duplicate"]), ("done", 2, 5, 4, 1))
        self.assertGreater(stats["bytes_inflated"], stats["bytes_received"] / 2)

    def test_refuses_what_no_receipt_can_be_made_for(self):
        with FastSink(self.tmp, SINK, expect=1) as sink:
            status, body = self.post(sink, batch(["r_1"]), key=str(uuid.uuid4()))
            self.assertEqual(status, 400)
            self.assertIn("Idempotency-Key", body["message"])
            no_id = batch(["r_2"])
            del no_id["records"][0]["id"]
            self.assertEqual(self.post(sink, no_id)[0], 400)
            self.assertIsNone(sink.done(0.2), "a refused batch counts no record")

    def test_the_agent_delivers_a_queue_to_it_exactly_once(self):
        from test_delivery import make_records, write_ndjson
        key, _ = make_agent_key()
        records = make_records(1200, seed=7, id_prefix="r_sink_")
        ndjson = os.path.join(self.tmp, "records.ndjson")
        write_ndjson(ndjson, records)
        with FastSink(self.tmp, SINK, expect=len(records)) as sink:
            cfg = write_config(self.tmp, sink, sync_interval_seconds=1, batch={"max_records": 100},
                               http={"compression": "gzip"})
            from agentproc import run_cli
            self.assertEqual(run_cli(["enqueue", ndjson], cfg, key=key).returncode, 0)
            with Agent(cfg, key=key):
                stats = wait_until(lambda: sink.done(0.1), timeout=60, what="every record at the sink")
        self.assertEqual((stats["records_unique"], stats["records_duplicate"], stats["batches"]), (1200, 0, 12))


if __name__ == "__main__":
    unittest.main()
