"""End to end: the built binary's command line on good and bad configuration files (issue 2)."""

import os
import re
import shutil
import stat
import unittest

import subprocess

from agentproc import agent_binary, agent_env, run_cli
from simulator import e2e_tmpdir

SOURCE = os.environ.get("OB_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC = os.environ.get("OB_SPEC_DIR", os.path.join(SOURCE, "..", "shared", "spec"))
KEY = "test-key-Zq81-never-printed"


class CliConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("cli-")

    def write(self, name, text, mode=0o600):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_example_config_is_valid(self):
        r = run_cli(["check-config"], os.path.join(SOURCE, "config.example.yaml"), key=KEY)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration is valid", r.stdout)

    def test_python_agent_bridge_config_json_loads_unchanged(self):
        fixture = os.path.join(SOURCE, "tests", "data", "config", "bridge_config.json")
        with open(fixture, "rb") as a, open(os.path.join(SPEC, "fixtures", "bridge_config.json"), "rb") as b:
            self.assertEqual(a.read(), b.read(), "the test fixture must stay the published file, byte for byte")
        r = run_cli(["check-config", "--strict"], fixture, key=KEY)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Without the key in the environment the placeholder counts as unset.
        r = run_cli(["check-config"], fixture)
        self.assertEqual(r.returncode, 2)
        self.assertIn("agent key: not set (set OPESCARE_AGENT_KEY, agent_key_file, or agent_key)", r.stderr)

    def test_print_shows_the_effective_config_with_the_key_hidden(self):
        cfg = self.write("c.yaml", "server_url: https://api.opescare.com\nagent_id: a\nfacility_id: f\n"
                                   "agent_key: %s\nlog_level: WARN\n" % KEY)
        r = run_cli(["check-config", "--print"], cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("***", r.stdout)
        self.assertRegex(r.stdout, r"log_level: \"?warn")
        self.assertNotIn(KEY, r.stdout + r.stderr)

    def test_broken_file_lists_every_problem_with_positions_in_one_run(self):
        cfg = self.write("bad.yaml", "\n".join([
            "server_url: http://example.com",           # 1: plain http to a remote host
            "agent_id: agt",                             # 2
            "facility_id: fac",                          # 3
            "agent_key: %s" % KEY,                       # 4
            "heartbeat_interval_seconds: sixty",         # 5: not a number
            "sync_interval_seconds: 0",                  # 6: out of range
            "log_level: loud",                           # 7: unknown level
            "connector:",                                # 8
            "  typ: csv_folder",                         # 9: unknown key (did you mean "type"?)
            "batch:",                                    # 10
            "  max_records: 0",                          # 11
        ]) + "\n")
        r = run_cli(["check-config", "--strict"], cfg)
        self.assertEqual(r.returncode, 2)
        err = r.stderr
        self.assertRegex(err, r"bad\.yaml:1:\d+: server_url: .*http://")
        self.assertRegex(err, r"bad\.yaml:5:\d+: heartbeat_interval_seconds: \"sixty\" is not a number")
        self.assertRegex(err, r"bad\.yaml:6:\d+: sync_interval_seconds: ")
        self.assertRegex(err, r"bad\.yaml:7:\d+: log_level: ")
        self.assertRegex(err, r"bad\.yaml:9:3: connector\.typ: unknown key \(did you mean \"type\"\?\)")
        self.assertRegex(err, r"bad\.yaml:11:\d+: batch\.max_records: ")
        self.assertNotIn(KEY, r.stdout + err)
        self.assertNotIn("Traceback", err)
        self.assertNotIn("terminate called", err)
        # Without --strict the unknown key is a warning, but the errors still refuse the file.
        r = run_cli(["check-config"], cfg)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, r"warning: .*connector\.typ: unknown key")

    def test_each_bad_input_gets_one_clear_line_and_exit_2(self):
        cases = {
            "missing": (os.path.join(self.tmp, "nope.yaml"), r"nope\.yaml.*(no such file|not found|does not exist)"),
            "directory": (self.tmp, r"directory"),
            "invalid yaml": (self.write("y.yaml", "server_url: [unclosed\n"), r"y\.yaml:\d+:\d+: "),
            "empty key": (self.write("k.yaml", "server_url: https://a.example\nagent_id: a\nfacility_id: f\n"
                                               "agent_key: \"\"\n"), r"agent key: not set"),
        }
        for name, (path, pattern) in cases.items():
            with self.subTest(name):
                r = run_cli(["check-config"], path)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertRegex(r.stderr.lower(), pattern.lower())

    def test_key_file_readable_by_others_is_refused_with_the_chmod(self):
        keyfile = self.write("agent.key", KEY + "\n", mode=0o644)
        cfg = self.write("c.yaml", "server_url: https://a.example\nagent_id: a\nfacility_id: f\n"
                                   "agent_key_file: %s\n" % keyfile)
        r = run_cli(["check-config"], cfg)
        self.assertEqual(r.returncode, 2)
        self.assertIn("chmod 600 %s" % keyfile, r.stderr)
        os.chmod(keyfile, 0o600)
        r = run_cli(["check-config"], cfg)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unreadable_file_is_refused(self):
        path = self.write("c.yaml", "agent_id: a\n", mode=0o000)
        cmd = [agent_binary(), "check-config", "--config", path]
        # root reads any file: run the check as an unprivileged user, as the service would run.
        user = {"user": "nobody"} if os.geteuid() == 0 else {}
        os.chmod(self.tmp, 0o755)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=agent_env(), **user)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr.lower(), r"c\.yaml.*permission denied")

    def test_every_command_has_help_and_version_names_the_libraries(self):
        for cmd in ["run", "check-config", "doctor", "heartbeat", "status", "enqueue", "dead-letters", "service",
                    "version"]:
            with self.subTest(cmd):
                r = run_cli([cmd, "--help"])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("Usage", r.stdout)
        r = run_cli(["version"])
        self.assertEqual(r.returncode, 0)
        for lib in ["Boost", "OpenSSL", "SQLite"]:
            self.assertIn(lib, r.stdout)
        self.assertRegex(r.stdout, r"opescare-bridge \d+\.\d+\.\d+ \(\w+ build\)")

    def test_unknown_command_or_option_is_a_usage_error(self):
        self.assertEqual(run_cli(["frobnicate"]).returncode, 2)
        self.assertEqual(run_cli(["check-config", "--bogus"]).returncode, 2)


if __name__ == "__main__":
    unittest.main()
