"""End to end: system-call fault injection with libfiu (issue 10 "Tests"). The real agent runs under
`fiu-run -x` (the POSIX preload); once it watches its folder, fiu-ctrl makes write, pwrite, fsync,
fdatasync, rename or open fail at random with ENOSPC or EIO while files are ingested and batches delivered,
then turns the faults off. The same process must still be running, must have said what failed, and every
row must reach the simulator exactly once. Lost, unexpected and re-sent rows are counted and printed for each
run. SQLite's own I/O-error tests are the method's anchor: fail a call, then check that nothing was lost.

Skipped with the reason when fiu-run is not installed (Debian: fiu-utils, libfiu-dev).
"""

import os
import shutil
import subprocess
import time
import unittest

from agentproc import Agent, write_config
from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until
from test_connector import csv_names, drop, expected_records, patients_csv

ENOSPC, EIO = 28, 5
# (fault point, errno, probability, must the log say something): each one a run. write and open also hit
# sockets, the log itself and files read once, so a run may pass without a warning to show.
RUNS = [
    ("posix/io/rw/pwrite", ENOSPC, 0.05, False),  # SQLite writes its pages and WAL frames with pwrite
    ("posix/io/rw/pwrite", EIO, 0.05, True),
    ("posix/io/rw/write", ENOSPC, 0.2, False),    # error reports, logs, sockets
    ("posix/io/sync/fsync", EIO, 0.2, False),     # a random fault may miss the few syncs of a run
    ("posix/io/sync/fdatasync", EIO, 0.2, False),
    ("posix/io/dir/rename", EIO, 1.0, True),      # every move to processed/ fails while on: queued, not moved
    ("posix/io/oc/open", EIO, 0.3, False),
]
FILES = 4
ROWS = 1500


class FiuAgent(Agent):
    """The agent started through fiu-run with the POSIX preload and a control FIFO (no fault enabled yet)."""

    def __init__(self, config, fifo_prefix, **kw):
        super().__init__(config, **kw)
        self.fifo_prefix = fifo_prefix

    def start(self):
        self._log = open(self.log_path, "ab")
        cmd = ["fiu-run", "-x", "-f", self.fifo_prefix, self.binary(), *self.args, "--config", self.config]
        env = dict(self.env)  # under AddressSanitizer the preload comes before its runtime: allowed explicitly
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        return self

    @staticmethod
    def binary():
        return os.environ["OB_AGENT"]

    def fiu(self, command):
        subprocess.run(["fiu-ctrl", "-f", self.fifo_prefix, "-c", command, str(self.pid)], check=True,
                       capture_output=True, timeout=30)


# libfiu's preload and AddressSanitizer's interceptors do not mix (the agent segfaults at start): the
# injection runs in the optimised build of the same suite, and is skipped, saying so, in the sanitizer build.
@unittest.skipIf(os.path.basename(os.environ.get("OB_BUILD_DIR", "").rstrip("/")) == "asan",
                 "libfiu's preload cannot run under AddressSanitizer; covered by the optimised build's run")
class FaultInjectionTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("fiu-run") is None or shutil.which("fiu-ctrl") is None:
            self.skipTest("fiu-run/fiu-ctrl not installed (Debian packages fiu-utils and libfiu-dev)")
        self.key, _ = make_agent_key()

    def run_with_fault(self, index, point, errno_value, probability, must_say):
        tmp = e2e_tmpdir("fiu-")
        incoming = os.path.join(tmp, "incoming")
        processed = os.path.join(incoming, "processed")
        names = ["patients_f%d_%d_20261201.csv" % (index, i) for i in range(FILES)]
        contents = {n: patients_csv(ROWS, seed=index * 100 + i, first_row=i * ROWS) for i, n in enumerate(names)}
        expected = {}
        for n in names:  # what each file must yield, from a copy outside the watch folder
            path = os.path.join(tmp, n)
            with open(path, "wb") as f:
                f.write(contents[n])
            expected.update(expected_records(path))
        enable = "enable_random name=%s,probability=%s,failinfo=%d" % (point, probability, errno_value)
        with Simulator(tmp, agents={"agt_1": self.key}, http=False, faults={"delay_ms": 50}) as sim:
            cfg = write_config(tmp, sim, sync_interval_seconds=1, batch={"max_records": 100}, log_level="info")
            agent = FiuAgent(cfg, os.path.join(tmp, "fiu-ctrl"), key=self.key)
            with agent:
                agent.wait_log(r"connector: watching", timeout=30)
                agent.fiu(enable)
                for n in names:
                    drop(incoming, n, content=contents[n])
                time.sleep(8)  # ingest and delivery under faults
                alive_under_faults = agent.alive()
                if alive_under_faults:
                    agent.fiu("disable name=%s" % point)
                self.assertTrue(alive_under_faults, "the agent died under %s:\n%s" % (enable, agent.log_text()[-3000:]))
                try:
                    sim.wait_stats(timeout=180, records_unique=len(expected))
                    wait_until(lambda: not csv_names(incoming), 60, what="every file taken from the folder")
                finally:
                    got = sim.records()
                    stats = sim.stats()
                    log = agent.log_text()
                self.assertTrue(agent.alive())
                self.assertEqual(agent.stop(), 0)
        lost = set(expected) - set(got)
        unexpected = set(got) - set(expected)
        # What the agent said about a failed call: a warning or error, or an info line naming a retry (a move
        # to processed/ that failed after the file was queued is logged at info today).
        said = [ln for ln in log.splitlines()
                if " warning " in ln or " error " in ln or "will retry" in ln or "failed:" in ln]
        print("%-26s errno %-2d p=%.2f: rows %d, lost %d, unexpected %d, re-sent (server de-duplicated) %d, "
              "lines saying what failed %d%s" % (point, errno_value, probability, len(expected), len(lost),
                                               len(unexpected), stats["records_duplicate"], len(said),
                                               ("; first: " + said[0][25:220]) if said else ""))
        if must_say:
            self.assertTrue(said, "nothing in the log says what failed under " + enable)
        self.assertEqual((len(lost), len(unexpected)), (0, 0))
        self.assertEqual(stats["records_duplicate_mismatch"], 0)
        self.assertEqual(sorted(n for n in os.listdir(processed) if n in names), sorted(names))
        return said

    def test_agent_survives_syscall_faults_and_delivers_every_row_once(self):
        for index, (point, errno_value, probability, must_say) in enumerate(RUNS):
            with self.subTest(point=point, errno=errno_value):
                self.run_with_fault(index, point, errno_value, probability, must_say)


if __name__ == "__main__":
    unittest.main()
