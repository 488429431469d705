"""End to end: an outbox written by 0.1.0 (tests/data/outbox_v1/outbox_v010.db, schema v1, see its README)
opens in this agent, which migrates it and delivers everything it held exactly once: the batches 0.1.0 had
formed (one in flight, one waiting after a 503, one split half) go out under their own Idempotency-Keys with
their same records, the pending records in new batches, and the dead letters stay dead letters.
"""

import os
import shutil
import sqlite3
import unittest

from agentproc import Agent
from simulator import Simulator, e2e_tmpdir, make_agent_key
from test_delivery import dead_letters, fast_config, outbox_status, sync_requests

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "outbox_v1", "outbox_v010.db")


def read_v1(db_path):
    """What the v1 file holds, through v1's own tables: records {id: (file, row)}, batches {batch_id: [ids]},
    dead letter ids."""
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 1
        records = {rid: (f, row) for rid, f, row in
                   con.execute("SELECT id, source_file, source_row FROM records ORDER BY seq")}
        batches = {}
        for bid, rid in con.execute("SELECT batch_id, id FROM records WHERE batch_id IS NOT NULL ORDER BY seq"):
            batches.setdefault(bid, []).append(rid)
        dead = {rid for (rid,) in con.execute("SELECT id FROM dead_letters")}
    finally:
        con.close()
    return records, batches, dead


class OutboxMigrationTest(unittest.TestCase):
    def test_a_010_outbox_is_migrated_and_delivered_exactly_once(self):
        tmp = e2e_tmpdir("migr-")
        key, _ = make_agent_key()
        db = os.path.join(tmp, "outbox.db")
        shutil.copyfile(FIXTURE, db)
        os.chmod(db, 0o600)
        records, batches, dead = read_v1(db)
        self.assertEqual((len(records), len(batches), len(dead)), (59, 3, 3))

        with Simulator(tmp, agents={"agt_1": key}, http=False) as sim:
            cfg = fast_config(tmp, sim, batch={"max_records": 10})
            agent = Agent(cfg, key=key).start()
            try:
                sim.wait_stats(timeout=60, records_unique=len(records))
            finally:
                self.assertEqual(agent.stop(), 0, agent.log_text()[-3000:])

            stats = sim.stats()
            self.assertEqual(stats["records_unique"], len(records), stats)
            self.assertEqual(stats["records_total"], len(records), stats)  # none sent twice
            self.assertEqual(stats["records_duplicate"], 0, stats)
            got = sim.records()
            self.assertEqual(set(got), set(records))
            for rid, (source_file, row) in records.items():
                source = got[rid].get("source") or {}
                self.assertEqual((source.get("file", ""), source.get("row", 0)), (source_file, row), rid)
            # 0.1.0's batches went out under their own keys, each with exactly its records.
            for bid, ids in batches.items():
                self.assertEqual(sorted(r for r in got if got[r]["batch_id"] == bid), sorted(ids), bid)
            keys = [q["idempotency_key"] for q in sync_requests(sim) if "records" in q]
            for bid in batches:
                self.assertIn(bid, keys)
            self.assertEqual(len(keys), len(set(keys)), "a batch was sent twice")

        st = outbox_status(self, cfg, key)
        self.assertEqual((st["queued"], st["pending"], st["in_batches"], st["dead"]), (0, 0, 0, 3), st)
        self.assertEqual(set(dead_letters(self, cfg, key)), dead)
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            self.assertEqual(con.execute("SELECT count(*) FROM records").fetchone()[0], 0)
            self.assertEqual(con.execute("PRAGMA user_version").fetchone()[0], 3)
        finally:
            con.close()


if __name__ == "__main__":
    unittest.main()
