"""End to end: the agent killed with SIGKILL at 20 random moments during delivery (issue 4's crash test).
After a final clean run nothing is lost, nothing is counted twice by id (a batch cut short is resent under its
own Idempotency-Key and answered duplicate_batch), and the outbox passes PRAGMA integrity_check.

The seed is printed; set OB_CRASH_SEED to replay a run.
"""

import os
import random
import sqlite3
import time
import unittest

from agentproc import Agent, write_config
from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until
from test_delivery import (dead_letters, enqueue, expected_payloads, make_records, outbox_status, received_payloads,
                           sync_requests, write_ndjson)

RECORDS = 20000
KILLS = 20


def records_in_outbox(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    try:
        return db.execute("SELECT count(*) FROM records").fetchone()[0]
    finally:
        db.close()


class CrashTest(unittest.TestCase):
    def test_sigkill_at_20_random_moments_loses_nothing_and_duplicates_nothing(self):
        seed = int(os.environ.get("OB_CRASH_SEED") or time.time_ns() % 1_000_000)
        print("\ncrash test seed: OB_CRASH_SEED=%d" % seed)
        rnd = random.Random(seed)
        tmp = e2e_tmpdir("crash-")
        key, _ = make_agent_key()
        records = make_records(RECORDS, seed=seed)
        # Small batches and a short server delay make delivery about 1,000 requests long, so kills land
        # while batches are formed, in flight, and being acknowledged.
        with Simulator(tmp, agents={"agt_1": key}, http=False,
                       faults={"delay_ms": 15, "delay_count": -1, "path": "sync"}) as sim:
            cfg = write_config(tmp, sim, sync_interval_seconds=1, log_level="info", batch={"max_records": 20},
                               retry={"initial_backoff_seconds": 0.2, "max_backoff_seconds": 2})
            enqueue(self, cfg, key, write_ndjson(os.path.join(tmp, "crash.ndjson"), records), RECORDS)

            # Most kills are placed by progress, not by time, so that they land during delivery whatever the
            # machine's speed: each waits for a random number of further records to arrive (about 90 % of all
            # over the run), then a random few milliseconds more. Every fourth is at a random moment soon
            # after start instead (opening the outbox, forming the first batches, the first requests).
            mid_delivery = 0
            step = 2 * (RECORDS * 9 // 10) // KILLS
            for i in range(KILLS):
                agent = Agent(cfg, key=key).start()
                try:
                    if i % 4 == 3:
                        time.sleep(rnd.uniform(0.05, 0.4))
                    else:
                        target = min(sim.stats()["records_unique"] + rnd.randint(1, step), RECORDS - 1)
                        wait_until(lambda: sim.stats()["records_unique"] >= target or not agent.alive(), 60,
                                   interval=0.01, what="%d records in (run %d)" % (target, i))
                        time.sleep(rnd.uniform(0, 0.05))
                    self.assertTrue(agent.alive(), "agent exited on its own (run %d):\n%s"
                                    % (i, agent.log_text()[-3000:]))
                finally:
                    agent.kill()
                if 0 < sim.stats()["records_unique"] < RECORDS:
                    mid_delivery += 1
            unique_after_kills = sim.stats()["records_unique"]
            print("after %d kills: %d of %d records in, %d kills mid-delivery"
                  % (KILLS, unique_after_kills, RECORDS, mid_delivery))
            self.assertGreaterEqual(mid_delivery, KILLS // 2, "too few kills landed during delivery")

            # The final, clean run delivers the rest.
            sim.clear_faults()
            agent = Agent(cfg, key=key, log_path=cfg + ".final.log").start()
            try:
                # Pipelined delivery may have brought every record in before the last kill: the final run
                # then only acknowledges what the kills cut short. Wait until it is up (its SIGTERM handler
                # is installed by then) and its outbox is empty, not merely until the server has everything.
                agent.wait_log(r"opescare-bridge \S+ starting", timeout=15)
                sim.wait_stats(timeout=120, records_unique=RECORDS)
                wait_until(lambda: records_in_outbox(os.path.join(tmp, "outbox.db")) == 0, 60,
                           what="the final run to acknowledge every batch")
            finally:
                self.assertEqual(agent.stop(), 0)

            stats = sim.stats()
            self.assertEqual(stats["records_unique"], RECORDS, stats)
            # Every re-send was of an already-processed batch under its own key: answered 409, never a record
            # counted again under another key, never a different payload for an id.
            self.assertEqual(stats["records_duplicate"], 0, stats)
            self.assertEqual(stats["records_duplicate_mismatch"], 0, stats)
            self.assertEqual(stats["records_total"], RECORDS, stats)
            self.assertEqual(received_payloads(sim.records()), expected_payloads(records))
            sizes = {}
            for q in sync_requests(sim):
                if "records" in q:
                    sizes.setdefault(q["idempotency_key"], set()).add(q["records"])
            self.assertTrue(all(len(v) == 1 for v in sizes.values()), "a batch changed between sends")
            print("batches %d, re-sent as duplicate_batch %d, sync requests %d"
                  % (stats["batches"], stats["batches_duplicate"], stats["sync_requests"]))

        st = outbox_status(self, cfg, key)
        self.assertEqual((st["queued"], st["pending"], st["in_batches"], st["dead"]), (0, 0, 0, 0), st)
        self.assertEqual(dead_letters(self, cfg, key), {})
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(tmp, "outbox.db"), uri=True)
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            self.assertEqual(db.execute("SELECT count(*) FROM records").fetchone()[0], 0)
        finally:
            db.close()


if __name__ == "__main__":
    unittest.main()
