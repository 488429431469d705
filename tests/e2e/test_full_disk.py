"""End to end: the outbox on a real small volume (tmpfs of 48 MiB mounted by the test) that a filler file fills
while files are ingested and batches delivered (issue 10 point 2). Delivery keeps acknowledging on the full
disk (the reserve beside the database gives the acks room), ingest waits with the files left in the folder;
once the filler is deleted the next batch is acknowledged and ingest resumes; every row arrives exactly once.

Needs root (mount); skipped with the reason otherwise. The time from freeing space to the first acknowledged
batch is printed, not asserted against a speed bound.
"""

import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from agentproc import Agent, write_config
from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until
from test_connector import csv_names, drop, expected_records, patients_csv, status_json

VOLUME_MB = 48


def mount_small_volume(path):
    """Mounts a tmpfs of VOLUME_MB at path; returns None, or why it cannot."""
    if os.geteuid() != 0:
        return "mounting a small filesystem needs root"
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % VOLUME_MB, "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "cannot mount a tmpfs here: " + (r.stderr.strip() or "mount exited %d" % r.returncode)
    return None


def unmount(path):
    if subprocess.run(["umount", path], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", path], capture_output=True)


def fill(path):
    """Writes path until the volume has no byte left (ENOSPC); returns its size."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 20, 64 << 10, 4 << 10, 512):
            block = b"\0" * chunk
            while True:
                try:
                    written += f.write(block)
                except OSError:
                    break
        try:
            os.fsync(f.fileno())
        except OSError:
            pass
    return written


def readyz_code(agent):
    try:
        return urllib.request.urlopen(agent.status_url() + "/readyz", timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code


def disk_full_faults(agent):
    try:
        return [f for f in status_json(agent).get("faults", []) if f.get("kind") == "disk_full"]
    except OSError:
        return []


class FullDiskTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("disk-")
        self.volume = os.path.join(self.tmp, "volume")
        reason = mount_small_volume(self.volume)
        if reason:
            self.skipTest(reason)
        self.addCleanup(unmount, self.volume)
        self.key, _ = make_agent_key()
        self.incoming = os.path.join(self.tmp, "incoming")
        self.processed = os.path.join(self.incoming, "processed")

    def test_delivery_acks_on_a_full_disk_and_ingest_resumes_once_space_returns(self):
        first = ["patients_a_20261201.csv", "patients_b_20261201.csv", "patients_c_20261201.csv"]
        waiting = ["patients_d_20261201.csv", "patients_e_20261201.csv"]
        contents = {name: patients_csv(4000, seed=i, first_row=i * 10000)
                    for i, name in enumerate(first + waiting)}
        expected = {}
        filler = os.path.join(self.volume, "filler")
        # Each answer waits 150 ms, so delivery is still busy when the disk fills.
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False, faults={"delay_ms": 150}) as sim:
            cfg = write_config(self.tmp, sim, sync_interval_seconds=1,
                               outbox={"path": os.path.join(self.volume, "outbox.db"), "min_free_mb": 4},
                               batch={"max_records": 100})
            with Agent(cfg, key=self.key) as agent:
                agent.wait_log(r"connector: watching", timeout=20)
                for name in first:
                    drop(self.incoming, name, content=contents[name])
                for name in first:
                    agent.wait_log(r"connector: %s: queued" % name, timeout=60)
                    expected.update(expected_records(os.path.join(self.processed, name)))
                sim.wait_stats(timeout=60, records_unique=200)

                filled = fill(filler)
                at_fill = sim.stats()["records_unique"]
                print("filled the volume with %.1f MiB at %d records delivered" % (filled / 2**20, at_fill))
                for name in waiting:
                    drop(self.incoming, name, content=contents[name])

                # Delivery keeps acknowledging on the full disk: the queued records all leave.
                sim.wait_stats(timeout=120, records_unique=len(expected))
                self.assertGreater(sim.stats()["records_unique"], at_fill)
                # Ingest waits: the files stay in the folder while the disk is full.
                time.sleep(4)
                self.assertEqual(csv_names(self.incoming), sorted(waiting))
                self.assertEqual(sim.stats()["records_unique"], len(expected))
                # The full disk is its own state, with the fix in words, in status.json and /readyz.
                faults = wait_until(lambda: disk_full_faults(agent), 20, what="disk_full in status.json")
                self.assertIn("outbox.min_free_mb", faults[0]["message"])
                self.assertTrue(faults[0].get("fix"), faults[0])
                self.assertEqual(readyz_code(agent), 503)

                os.remove(filler)
                freed_at = time.monotonic()
                sim.wait_stats(timeout=120, records_unique=len(expected) + 1)
                first_ack = time.monotonic() - freed_at
                print("first acknowledged batch %.2f s after freeing space" % first_ack)

                for name in waiting:
                    agent.wait_log(r"connector: %s: queued" % name, timeout=60)
                    expected.update(expected_records(os.path.join(self.processed, name)))
                sim.wait_stats(timeout=120, records_unique=len(expected))
                wait_until(lambda: not csv_names(self.incoming), 20, what="the waiting files taken")
                wait_until(lambda: not disk_full_faults(agent), 20, what="disk_full cleared")
                self.assertEqual(readyz_code(agent), 200)
                self.assertTrue(agent.alive())
                self.assertEqual(agent.stop(), 0)
            got = sim.records()
            stats = sim.stats()
        lost = set(expected) - set(got)
        extra = set(got) - set(expected)
        print("rows expected %d, lost %d, unexpected %d, duplicates at the simulator %d"
              % (len(expected), len(lost), len(extra), stats["records_duplicate"]))
        self.assertEqual((len(lost), len(extra)), (0, 0))
        self.assertEqual(stats["records_unique"], len(expected))
        self.assertEqual(stats["records_duplicate_mismatch"], 0)


if __name__ == "__main__":
    unittest.main()
