"""End to end: `opescare-bridge doctor` (issue 6) against the simulator — every check passes on a good set-up,
and each broken set-up (bad key, certificate for another host, closed port, skewed clock, unwritable folder,
corrupted outbox, key file readable by others) fails the right line with the right fix.

Output contract: one line per check, "✓ <check>: <detail>" or "✗ <check>: <detail>" followed by
"    fix: <fix>", or "- <check>: skipped (<why>)"; then "all checks passed" (exit 0) or
"some checks failed: see the fixes above" (exit 1); a configuration that does not load exits 2.
"""

import hashlib
import json
import os
import pwd
import random
import re
import shutil
import subprocess
import unittest

from agentproc import agent_binary, agent_env, run_cli, write_config
from certs import make_self_signed
from simulator import Simulator, e2e_tmpdir, free_port, make_agent_key


def write_records(path, n, seed):
    """An NDJSON file of n valid patient records, for `enqueue`."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": "r_doc_%d_%05d" % (seed, i), "type": "patient",
                                "data": {"first_name": "Marie", "last_name": "Fouda-%d" % i, "dob": "1990-07-22",
                                         "sex": "female", "notes": "n" * 120}}) + "\n")
    return path

ALL_CHECKS = ["config", "key", "dns", "tcp", "trust", "tls", "clock", "heartbeat", "outbox", "watch folder",
              "processed folder", "failed folder", "disk"]
_LINE = re.compile(r"^(✓|✗|-) ([a-z][a-z ]*?): (.*)$")


def parse(stdout):
    """[(check, mark, detail, fix or None)] in output order; raises on a line that fits no form."""
    out = []
    for line in stdout.splitlines():
        if line.startswith("    fix: "):
            assert out and out[-1][1] == "✗", "a fix line not after a failed check: %r" % line
            out[-1] = out[-1][:3] + (line[len("    fix: "):],)
            continue
        m = _LINE.match(line)
        if m:
            out.append((m.group(2), m.group(1), m.group(3), None))
        elif line.startswith("    "):  # configuration problems listed above the config line
            continue
        else:
            assert line in ("all checks passed", "some checks failed: see the fixes above"), "odd line %r" % line
    return out


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class DoctorTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("doctor-")
        self.key, _ = make_agent_key()
        self.key_file = os.path.join(self.tmp, "agent.key")
        with open(self.key_file, "w") as f:
            f.write(self.key + "\n")
        os.chmod(self.key_file, 0o600)

    # ---- helpers ------------------------------------------------------------------------------------------

    def doctor(self, cfg, key=None, expect_code=None, user=None):
        """Runs doctor; returns (code, {check: (mark, detail, fix)}, stdout) after checking the format."""
        if user is None:
            r = run_cli(["doctor"], cfg, key=key)
        else:
            r = subprocess.run([agent_binary(), "doctor", "--config", cfg], env=agent_env(key), user=user,
                               capture_output=True, text=True, timeout=60)
        text = r.stdout + r.stderr
        if expect_code is not None:
            self.assertEqual(r.returncode, expect_code, text)
        lines = parse(r.stdout)
        names = [c for c, _, _, _ in lines]
        self.assertEqual(len(names), len(set(names)), r.stdout)
        for check, mark, detail, fix in lines:
            if mark == "✗":
                self.assertTrue(fix, "failed check %r without a fix:\n%s" % (check, r.stdout))
            else:
                self.assertIsNone(fix, r.stdout)
        self.assertNotIn(self.key, text)  # the key never shows
        if r.returncode == 0:
            self.assertEqual(r.stdout.splitlines()[-1], "all checks passed")
        elif r.returncode == 1:
            self.assertEqual(r.stdout.splitlines()[-1], "some checks failed: see the fixes above")
        return r.returncode, {c: (m, d, f) for c, m, d, f in lines}, r.stdout

    def assert_only_failures(self, checks, failing, stdout):
        """Every check in `failing` failed (✗) and every other one listed passed (✓)."""
        for name in failing:
            self.assertIn(name, checks, stdout)
            self.assertEqual(checks[name][0], "✗", "%s should fail:\n%s" % (name, stdout))
        for name, (mark, _, _) in checks.items():
            if name not in failing:
                self.assertEqual(mark, "✓", "%s should pass:\n%s" % (name, stdout))

    def make_outbox(self, cfg, n=5, seed=71):
        """Creates the configured outbox with n queued records, through the `enqueue` command."""
        path = write_records(os.path.join(self.tmp, "r%d.ndjson" % seed), n, seed)
        r = run_cli(["enqueue", path], cfg, key=self.key)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def folders(self, root=None):
        root = root or self.tmp
        watch = os.path.join(root, "incoming")
        for d in (watch, os.path.join(watch, "processed"), os.path.join(watch, "failed")):
            os.makedirs(d, exist_ok=True)
        return watch

    # ---- a good set-up ------------------------------------------------------------------------------------

    def test_passes_against_the_simulator(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            watch = self.folders()
            cfg = write_config(self.tmp, sim, agent_key_file=self.key_file, connector={"watch_folder": watch})
            self.make_outbox(cfg, n=5)
            code, checks, out = self.doctor(cfg, expect_code=0)
            self.assertEqual(list(checks), ALL_CHECKS, out)
            self.assert_only_failures(checks, [], out)
            self.assertIn("(mode 0600)", checks["key"][1])
            self.assertIn("agent.key", checks["key"][1])
            # The trust the agent uses: the system bundle found where Go looks, and the configured CA file.
            # A bundle parsed whole, or a hashed directory read on demand standing for it (issue 11).
            self.assertRegex(checks["trust"][1], r"^system CAs: (/\S+ \((known path|SSL_CERT_FILE), "
                                                 r"\d+ certificates\)|/\S+(, /\S+)* \((known path|SSL_CERT_DIR), "
                                                 r"\d+ certificates, read on demand; /\S+ not loaded\)|none found)")
            self.assertIn("; http.ca_file: " + sim.ca_file, checks["trust"][1])
            self.assertRegex(checks["tls"][1],
                             r"^TLSv1\.[23], certificate for 127\.0\.0\.1 valid until \d{4}-\d\d-\d\d, issued by ")
            self.assertRegex(checks["clock"][1], r"^within [0-2] s of the server")
            self.assertEqual(checks["heartbeat"][1], "accepted by " + sim.url)
            self.assertRegex(checks["outbox"][1], r"^integrity ok, \d+ KiB, 5 queued, 0 dead, oldest \d+ s$")
            self.assertEqual(checks["watch folder"][1], watch + " writable")
            self.assertEqual(sim.stats()["heartbeats"], 1)  # exactly one real heartbeat, accepted
            self.assertEqual(sorted(os.listdir(watch)), ["failed", "processed"])  # no probe file left behind

    # ---- broken set-ups -----------------------------------------------------------------------------------

    def test_bad_key_fails_the_heartbeat_with_a_new_key_fix(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            cfg = write_config(self.tmp, sim)
            wrong, _ = make_agent_key()
            code, checks, out = self.doctor(cfg, key=wrong, expect_code=1)
            self.assertNotIn(wrong, out)
            self.assert_only_failures(checks, ["heartbeat"], out)
            self.assertIn("unauthorized", checks["heartbeat"][1])
            self.assertIn("bridge_token_invalid", checks["heartbeat"][1])
            self.assertIn("re-generate the agent key", checks["heartbeat"][2])

    def test_certificate_for_another_host_fails_tls(self):
        cert, key = make_self_signed(self.tmp, "otherhost", hosts=("other.example",))
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False, cert_file=cert, key_file=key) as sim:
            cfg = write_config(self.tmp, sim)  # trusts that certificate, which names another host
            code, checks, out = self.doctor(cfg, key=self.key, expect_code=1)
            self.assertEqual(checks["tcp"][0], "✓", out)
            self.assertEqual(checks["tls"][0], "✗", out)
            self.assertIn("not trusted for 127.0.0.1", checks["tls"][2])
            self.assertIn("http.ca_file", checks["tls"][2])
            self.assertEqual(checks["heartbeat"][0], "✗", out)
            self.assertIn("tls_error", checks["heartbeat"][1])
            self.assertIn("- clock: skipped (no answer from the server)", out)
            self.assertEqual(sim.stats()["heartbeats"], 0)

    def test_closed_port_fails_tcp(self):
        port = free_port()  # nothing listens there
        cfg = write_config(self.tmp, None, server_url="https://127.0.0.1:%d" % port)
        code, checks, out = self.doctor(cfg, key=self.key, expect_code=1)
        self.assertEqual(checks["dns"][0], "✓", out)
        self.assertEqual(checks["tcp"][0], "✗", out)
        self.assertIn("cannot connect to 127.0.0.1:%d" % port, checks["tcp"][1])
        self.assertIn("refused", checks["tcp"][1].lower())
        self.assertIn("port %d" % port, checks["tcp"][2])
        self.assertIn("firewall", checks["tcp"][2])
        self.assertIn("- tls: skipped (no connection)", out)
        self.assertIn("- heartbeat: skipped (no connection)", out)
        self.assertNotIn("clock", checks)

    def test_skewed_clock_fails_the_clock_line_with_the_ntp_fix(self):
        # The simulator's clock runs 15 minutes ahead: this computer's is 900 s behind it.
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False, clock_offset=900) as sim:
            cfg = write_config(self.tmp, sim)
            code, checks, out = self.doctor(cfg, key=self.key, expect_code=1)
            self.assertEqual(checks["clock"][0], "✗", out)
            self.assertRegex(checks["clock"][1], r"^this computer's clock is (89\d|90\d) s behind the server's$")
            self.assertIn("NTP", checks["clock"][2])
            self.assertIn("timedatectl set-ntp true", checks["clock"][2])
            # doctor retried the heartbeat with the measured offset, as the agent would.
            self.assertEqual(checks["heartbeat"][0], "✓", out)
            self.assert_only_failures(checks, ["clock"], out)

    def test_unwritable_watch_folder_fails_with_a_chown_fix(self):
        as_root = os.geteuid() == 0
        user = None
        if as_root:
            # Run doctor as `nobody` on a root-owned 0755 watch folder. What nobody must read (config, CA, outbox)
            # sits in 0755 directories as 0644 files; the key comes from the environment; the state folder and the
            # processed/failed folders belong to nobody, as a service user's would.
            try:
                nobody = pwd.getpwnam("nobody")
            except KeyError:
                self.skipTest("no user nobody")
            user = "nobody"
            os.chmod(self.tmp, 0o755)
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            watch = os.path.join(self.tmp, "incoming")
            os.makedirs(watch)
            processed, failed = os.path.join(self.tmp, "processed"), os.path.join(self.tmp, "failed")
            state = os.path.join(self.tmp, "state")
            for d in (processed, failed, state):
                os.makedirs(d)
            cfg = write_config(self.tmp, sim, outbox={"path": os.path.join(state, "outbox.db")},
                               connector={"watch_folder": watch, "processed_folder": processed,
                                          "failed_folder": failed})
            self.make_outbox(cfg, n=2)
            if as_root:
                os.chmod(watch, 0o755)
                for d in (processed, failed, state):
                    os.chown(d, nobody.pw_uid, nobody.pw_gid)
                for f in os.listdir(state):
                    os.chown(os.path.join(state, f), nobody.pw_uid, nobody.pw_gid)
                for f in (cfg, sim.ca_file):
                    os.chmod(f, 0o644)
            else:
                os.chmod(watch, 0o555)
            try:
                code, checks, out = self.doctor(cfg, key=self.key, expect_code=1, user=user)
            finally:
                os.chmod(watch, 0o755)
            self.assert_only_failures(checks, ["watch folder"], out)
            mark, detail, fix = checks["watch folder"]
            self.assertEqual(detail, watch + " is not writable (Permission denied)")
            self.assertIn("chown <service user> " + watch, fix)
            self.assertIn("chmod", fix)
            self.assertEqual(sorted(os.listdir(watch)), [])  # no probe file left behind

    def test_corrupted_outbox_fails_with_keep_the_file_fix_and_is_left_unchanged(self):
        cfg = write_config(self.tmp, None, server_url="https://127.0.0.1:%d" % free_port())
        good = os.path.join(self.tmp, "outbox.db")
        self.make_outbox(cfg, n=400, seed=72)
        self.assertFalse(os.path.exists(good + "-wal") and os.path.getsize(good + "-wal") > 0,
                         "the outbox was not checkpointed on close")
        size = os.path.getsize(good)
        self.assertGreater(size, 16 * 4096)
        rnd = random.Random(73)

        def garbage_in_the_middle(path):
            with open(path, "r+b") as f:
                f.seek(size // 2 - 6000)
                f.write(bytes(rnd.randrange(256) for _ in range(12000)))

        def middle_cut_out(path):
            with open(path, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(data[:size // 3] + data[2 * size // 3:])

        def not_a_database(path):
            with open(path, "wb") as f:
                f.write(bytes(rnd.randrange(256) for _ in range(8192)))

        for name, damage in (("garbage", garbage_in_the_middle), ("cut", middle_cut_out),
                             ("foreign", not_a_database)):
            with self.subTest(name):
                broken = os.path.join(self.tmp, "broken-%s.db" % name)
                shutil.copyfile(good, broken)
                damage(broken)
                digest, length = sha256_file(broken), os.path.getsize(broken)
                cfg2 = write_config(self.tmp, None, name="config-%s.yaml" % name,
                                    server_url="https://127.0.0.1:%d" % free_port(), outbox={"path": broken})
                code, checks, out = self.doctor(cfg2, key=self.key, expect_code=1)
                self.assertEqual(checks["outbox"][0], "✗", out)
                self.assertIn(broken, checks["outbox"][1] + checks["outbox"][2])
                self.assertRegex(checks["outbox"][2], r"keep the (file|original)")
                self.assertEqual(checks["tcp"][0], "✗")  # no server here; the rest is about the outbox
                for other in ("config", "key", "watch folder", "processed folder", "failed folder", "disk"):
                    self.assertEqual(checks[other][0], "✓", out)
                # doctor never changes the file it examined.
                self.assertTrue(os.path.exists(broken))
                self.assertEqual((sha256_file(broken), os.path.getsize(broken)), (digest, length))

    def test_key_file_readable_by_others_fails_with_chmod_600(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            cfg = write_config(self.tmp, sim, agent_key_file=self.key_file)
            os.chmod(self.key_file, 0o644)
            code, checks, out = self.doctor(cfg, expect_code=2)
            self.assertEqual(list(checks), ["key"], out)
            mark, detail, fix = checks["key"]
            self.assertEqual(mark, "✗")
            self.assertIn("mode 0644", detail)
            self.assertEqual(fix, "chmod 600 " + self.key_file)
            self.assertEqual(sim.stats()["heartbeat_requests"], 0)  # nothing was sent with an exposed key
            os.chmod(self.key_file, 0o600)
            code, checks, out = self.doctor(cfg, expect_code=0)
            self.assertIn("(mode 0600)", checks["key"][1])


if __name__ == "__main__":
    unittest.main()
