"""The portable build's own checks (issue 13), run only by scripts/ci-package.sh (not by ctest: the ci build is dynamic), with OB_PACKAGE_DIR and
OB_AGENT set: the binary is fully static and reports its libraries, and the tarball's install.sh,
really run into a folder root, installs the expected files with their modes, is idempotent, keeps
an edited config.yaml, and leaves a binary that runs `version`; the cold components are compiled for
size and the per-record code for speed (compile_commands.json)."""

import glob
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import unittest

PACKAGE_DIR = os.environ.get("OB_PACKAGE_DIR", "")
AGENT = os.environ.get("OB_AGENT", "")


def run(args, timeout=120, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


def tmpdir(prefix):
    root = os.path.join(os.environ["OB_BUILD_DIR"], "e2e-tmp") if os.environ.get("OB_BUILD_DIR") else None
    if root:
        os.makedirs(root, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=root)


@unittest.skipUnless(AGENT, "OB_AGENT not set: run scripts/ci-package.sh")
class StaticBinaryTest(unittest.TestCase):
    def test_file_and_ldd_say_static(self):
        self.assertIn("statically linked", run(["file", "-L", AGENT]).stdout)
        r = run(["ldd", AGENT])
        self.assertIn("not a dynamic executable", r.stdout + r.stderr)

    def test_version_names_the_linked_libraries(self):
        r = run([AGENT, "version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for lib in ("OpenSSL OpenSSL 3.", "SQLite  3.", "Boost ", "spdlog ", "zlib "):
            self.assertIn(lib, r.stdout)

    def test_doctor_names_the_system_bundle_found_by_path(self):
        # Not OpenSSL's compiled-in OPENSSLDIR: the known-path search, with SSL_CERT_* unset.
        if not os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
            self.skipTest("no /etc/ssl/certs/ca-certificates.crt on this machine")
        config = os.path.join(os.environ.get("OB_BUILD_DIR", ""), "packaging", "config.yaml")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSL_CERT_")}
        env["OPESCARE_AGENT_KEY"] = "doctor-test-key-0123456789abcdef"
        r = run([AGENT, "doctor", "--config", config], env=env)
        # The bundle parsed whole, or (where /etc/ssl/certs is c_rehash'ed) read on demand from the directory.
        self.assertRegex(r.stdout, r"(?m)^✓ trust: system CAs: (/etc/ssl/certs/ca-certificates.crt \(known path, "
                                   r"[1-9]\d* certificates\)|/etc/ssl/certs \(known path, [1-9]\d* certificates, "
                                   r"read on demand; /etc/ssl/certs/ca-certificates.crt not loaded\))")


@unittest.skipUnless(os.environ.get("OB_BUILD_DIR"), "OB_BUILD_DIR not set: run scripts/ci-package.sh")
class SizeOptimisedComponentsTest(unittest.TestCase):
    """The static build (cmake/ObPortable.cmake) compiles the cold components at -Os, since its text is idle
    RSS, and the per-record code at -O2. The last -O on a file's command line is the one the compiler uses."""

    COLD = ("agent/app/cli.cpp", "agent/app/doctor.cpp", "agent/config/config_load.cpp", "agent/status/server.cpp")
    HOT = ("agent/app/wiring.cpp", "agent/app/ingest_driver.cpp", "agent/outbox/sqlite_outbox_batches.cpp",
           "agent/http/connection.cpp", "agent/connectors/csv_folder/csv_reader.cpp")

    def last_optimisation(self, relative):
        with open(os.path.join(os.environ["OB_BUILD_DIR"], "compile_commands.json")) as f:
            entries = json.load(f)
        for e in entries:
            if e["file"].endswith("/" + relative):
                flags = re.findall(r"(?:^|\s)(-O[0-9sz]?)(?=\s|$)", e.get("command") or " ".join(e["arguments"]))
                self.assertTrue(flags, "no -O flag for %s" % relative)
                return flags[-1]
        self.fail("%s is not in compile_commands.json" % relative)

    def test_cold_components_for_size(self):
        for f in self.COLD:
            self.assertEqual(self.last_optimisation(f), "-Os", f)

    def test_per_record_code_for_speed(self):
        for f in self.HOT:
            self.assertEqual(self.last_optimisation(f), "-O2", f)


@unittest.skipUnless(PACKAGE_DIR, "OB_PACKAGE_DIR not set: run scripts/ci-package.sh")
class TarballInstallTest(unittest.TestCase):
    def setUp(self):
        found = sorted(glob.glob(os.path.join(PACKAGE_DIR, "opescare-bridge-*-linux-x86_64.tar.gz")))
        self.assertTrue(found, "no tarball in " + PACKAGE_DIR)
        self.work = tmpdir("tarball-")
        self.addCleanup(shutil.rmtree, self.work, True)
        with tarfile.open(found[-1]) as tar:
            tar.extractall(self.work, filter="data")
        top = os.listdir(self.work)
        self.assertEqual(len(top), 1, top)
        self.script = os.path.join(self.work, top[0], "install.sh")
        self.root = os.path.join(self.work, "root")

    def install(self):
        r = run(["sh", self.script, "--root", self.root])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def mode(self, path):
        return stat.S_IMODE(os.stat(os.path.join(self.root, path.lstrip("/"))).st_mode)

    def test_installs_files_with_modes_and_a_runnable_binary(self):
        self.install()
        expected = {"/usr/bin/opescare-bridge": 0o755, "/usr/lib/systemd/system/opescare-bridge.service": 0o644,
                    "/usr/lib/sysusers.d/opescare-bridge.conf": 0o644,
                    "/usr/lib/tmpfiles.d/opescare-bridge.conf": 0o644,
                    "/etc/opescare-bridge": 0o750, "/etc/opescare-bridge/config.yaml": 0o640}
        for path, mode in expected.items():
            self.assertEqual(oct(self.mode(path)), oct(mode), path)
        if shutil.which("systemd-sysusers") and shutil.which("systemd-tmpfiles"):
            # The user and the folders, in the target root's own /etc/passwd and /var.
            with open(os.path.join(self.root, "etc/passwd"), encoding="utf-8") as f:
                self.assertRegex(f.read(), r"(?m)^opescare-bridge:x:\d+:\d+:[^:]*:/var/lib/opescare-bridge:/usr/sbin/nologin$")
            self.assertEqual(oct(self.mode("/var/lib/opescare-bridge")), oct(0o700))
            self.assertEqual(oct(self.mode("/var/spool/opescare-bridge/incoming")), oct(0o2770))
        r = run([os.path.join(self.root, "usr/bin/opescare-bridge"), "version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("opescare-bridge "), r.stdout)
        with open(os.path.join(self.root, "usr/lib/systemd/system/opescare-bridge.service"), encoding="utf-8") as f:
            self.assertIn("ExecReload=/bin/sh -c 'kill -HUP $$MAINPID'", f.read())

    def test_second_run_upgrades_and_keeps_the_config(self):
        self.install()
        config = os.path.join(self.root, "etc/opescare-bridge/config.yaml")
        with open(config, "a", encoding="utf-8") as f:
            f.write("# edited by the admin\n")
        out = self.install()
        self.assertIn("config.yaml kept", out)
        with open(config, encoding="utf-8") as f:
            self.assertTrue(f.read().endswith("# edited by the admin\n"))

    def test_unknown_argument_is_refused(self):
        r = run(["sh", self.script, "--prefix", self.root])
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown argument '--prefix'", r.stderr)
        self.assertFalse(os.path.exists(self.root))


if __name__ == "__main__":
    unittest.main()
