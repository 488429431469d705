"""The systemd unit, sysusers.d and tmpfiles.d files (issue 6): systemd-analyze verify passes, the
offline security score is at most 2.5, and the sysusers/tmpfiles entries create the user and the
folders with the intended owners and modes in a throwaway root."""

import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.environ.get("OB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNIT = os.path.join(SOURCE_DIR, "systemd", "opescare-bridge.service")
SYSUSERS = os.path.join(SOURCE_DIR, "systemd", "opescare-bridge.sysusers")
TMPFILES = os.path.join(SOURCE_DIR, "systemd", "opescare-bridge.tmpfiles")
MAX_EXPOSURE = 2.5


def tmpdir(prefix):
    root = os.path.join(os.environ["OB_BUILD_DIR"], "e2e-tmp") if os.environ.get("OB_BUILD_DIR") else None
    if root:
        os.makedirs(root, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=root)


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)


def unit_settings(path):
    """[Service]-and-all key -> list of values, comments dropped."""
    settings = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";", "[")):
                continue
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def systemd_tool_works(tool):
    path = shutil.which(tool)
    return path is not None and run([path, "--version"]).returncode == 0


@unittest.skipUnless(systemd_tool_works("systemd-analyze"), "systemd-analyze is not installed")
class SystemdAnalyzeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tmpdir("unit-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def unit_copy_with_built_binary(self):
        """verify checks that ExecStart's binary exists; point it at the one just built."""
        agent = os.environ.get("OB_AGENT")
        binary = agent if agent and os.access(agent, os.X_OK) else shutil.which("true")
        with open(UNIT, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/bin/opescare-bridge run --config /etc/opescare-bridge/config.yaml", text)
        copy = os.path.join(self.tmp, "opescare-bridge.service")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(text.replace("ExecStart=/usr/bin/opescare-bridge ", "ExecStart=%s " % binary))
        return copy

    def test_verify_passes_without_a_word_about_the_unit(self):
        copy = self.unit_copy_with_built_binary()
        r = run(["systemd-analyze", "verify", "--man=no", copy])
        about_unit = [l for l in (r.stdout + r.stderr).splitlines() if "opescare-bridge" in l]
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(about_unit, [], "systemd-analyze verify complained about the unit")

    def test_verify_catches_a_broken_unit(self):
        # The check above would be worthless if verify accepted anything.
        copy = self.unit_copy_with_built_binary()
        with open(copy, "a", encoding="utf-8") as f:
            f.write("\n[Service]\nExecStart=relative/path --bogus\nRestart=sometimes\n")
        r = run(["systemd-analyze", "verify", "--man=no", copy])
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_offline_security_score_is_ok(self):
        r = run(["systemd-analyze", "security", "--offline=true", "--no-pager", UNIT])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = re.search(r"Overall exposure level for opescare-bridge\.service: (\d+\.\d+) (\S+)", r.stdout)
        self.assertIsNotNone(m, r.stdout[-2000:])
        score = float(m.group(1))
        print("systemd-analyze security: %.1f %s" % (score, m.group(2)))
        self.assertLessEqual(score, MAX_EXPOSURE, r.stdout)


class UnitContentTest(unittest.TestCase):
    """What the unit must say for the agent and the package to work together."""

    def setUp(self):
        self.s = unit_settings(UNIT)

    def one(self, key):
        self.assertIn(key, self.s)
        return self.s[key][-1]

    def test_notify_watchdog_and_restart(self):
        self.assertEqual(self.one("Type"), "notify")
        self.assertEqual(self.one("NotifyAccess"), "main")
        self.assertEqual(self.one("WatchdogSec"), "30")
        self.assertEqual(self.one("Restart"), "on-failure")
        # No /bin/kill (procps is in no minimal system): the shell's builtin, $$ quoting a literal $ for systemd.
        self.assertEqual(self.one("ExecReload"), "/bin/sh -c 'kill -HUP $$MAINPID'")
        self.assertEqual(self.one("TimeoutStopSec"), "15")  # > the agent's 1.5 s drain + database close

    def test_fixed_user_and_directories(self):
        self.assertEqual(self.one("User"), "opescare-bridge")
        self.assertEqual(self.one("Group"), "opescare-bridge")
        self.assertNotIn("DynamicUser", self.s)
        self.assertEqual(self.one("StateDirectory"), "opescare-bridge")
        self.assertEqual(self.one("StateDirectoryMode"), "0700")
        self.assertEqual(self.one("LogsDirectory"), "opescare-bridge")
        self.assertEqual(self.one("ConfigurationDirectory"), "opescare-bridge")
        self.assertEqual(self.one("LoadCredential"), "agent_key:/etc/opescare-bridge/agent.key")
        self.assertEqual(self.one("UMask"), "0077")

    def test_watch_folder_is_writable_and_created_by_tmpfiles(self):
        writable = [p.lstrip("-") for v in self.s.get("ReadWritePaths", []) for p in v.split()]
        self.assertIn("/var/spool/opescare-bridge", writable)
        with open(TMPFILES, encoding="utf-8") as f:
            self.assertRegex(f.read(), r"(?m)^d /var/spool/opescare-bridge/incoming\s+2770 opescare-bridge")

    def test_sandboxing_directives(self):
        for key, value in [("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                           ("PrivateDevices", "yes"), ("NoNewPrivileges", "yes"), ("ProtectProc", "invisible"),
                           ("ProcSubset", "pid"), ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
                           ("SystemCallArchitectures", "native"), ("CapabilityBoundingSet", ""),
                           ("MemoryDenyWriteExecute", "yes"), ("RestrictNamespaces", "yes")]:
            self.assertEqual(self.one(key), value, key)
        self.assertIn("@system-service", self.s["SystemCallFilter"])
        self.assertNotIn("IPAddressDeny", self.s)  # the agent must reach OpesCare wherever it is


@unittest.skipUnless(systemd_tool_works("systemd-sysusers") and systemd_tool_works("systemd-tmpfiles"),
                     "systemd-sysusers/systemd-tmpfiles are not installed")
@unittest.skipUnless(os.geteuid() == 0, "creating files owned by the service user needs root")
class SysusersTmpfilesTest(unittest.TestCase):
    def test_user_and_folders_in_a_throwaway_root(self):
        root = tmpdir("sysroot-")
        self.addCleanup(shutil.rmtree, root, True)
        os.makedirs(os.path.join(root, "etc"))
        # Paths given to these tools are resolved inside --root, so the entries go in on stdin.
        with open(SYSUSERS, encoding="utf-8") as f:
            r = run(["systemd-sysusers", "--root=" + root, "-"], stdin=f)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(root, "etc", "passwd"), encoding="utf-8") as f:
            entry = [l.split(":") for l in f if l.startswith("opescare-bridge:")]
        self.assertEqual(len(entry), 1)
        uid, gid, home, shell = int(entry[0][2]), int(entry[0][3]), entry[0][5], entry[0][6].strip()
        self.assertLess(uid, 1000, "a system user")
        self.assertEqual(home, "/var/lib/opescare-bridge")
        self.assertEqual(shell, "/usr/sbin/nologin")

        with open(TMPFILES, encoding="utf-8") as f:
            r = run(["systemd-tmpfiles", "--root=" + root, "--create", "-"], stdin=f)
        self.assertEqual(r.returncode, 0, r.stderr)
        expected = {
            "var/lib/opescare-bridge": 0o700,
            "var/log/opescare-bridge": 0o750,
            "var/spool/opescare-bridge": 0o750,
            "var/spool/opescare-bridge/incoming": 0o2770,
            "var/spool/opescare-bridge/incoming/processed": 0o750,
            "var/spool/opescare-bridge/incoming/failed": 0o750,
        }
        for rel, mode in expected.items():
            st = os.stat(os.path.join(root, rel))
            self.assertTrue(stat.S_ISDIR(st.st_mode), rel)
            self.assertEqual(stat.S_IMODE(st.st_mode), mode, "%s is %o" % (rel, stat.S_IMODE(st.st_mode)))
            self.assertEqual((st.st_uid, st.st_gid), (uid, gid), rel)

    def test_tmpfiles_never_ages_out_patient_data(self):
        with open(TMPFILES, encoding="utf-8") as f:
            lines = [l.split() for l in f if l.strip() and not l.startswith("#")]
        self.assertTrue(lines)
        for fields in lines:
            self.assertEqual(fields[5], "-", "age field of %s must be '-'" % fields[1])


if __name__ == "__main__":
    unittest.main()
