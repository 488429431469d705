"""The .deb and .rpm (issue 6), as built by scripts/ci-package.sh, which sets OB_PACKAGE_DIR: the
expected files with their modes and nothing else (no simulator), the conffile, a config pointing
at the service's folders, lintian without errors, and - as root, with OB_PACKAGE_INSTALL=1 - a real
install, upgrade, remove and purge on this machine that creates the user and folders, installs the
unit, and never touches the outbox or its -wal file."""

import glob
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

PACKAGE_DIR = os.environ.get("OB_PACKAGE_DIR", "")
SOURCE_DIR = os.environ.get("OB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
USER = "opescare-bridge"

# path -> (permission string as dpkg-deb -c shows it, owner/group)
DEB_FILES = {
    "./usr/bin/opescare-bridge": ("-rwxr-xr-x", "root/root"),
    "./lib/systemd/system/opescare-bridge.service": ("-rw-r--r--", "root/root"),
    "./usr/lib/sysusers.d/opescare-bridge.conf": ("-rw-r--r--", "root/root"),
    "./usr/lib/tmpfiles.d/opescare-bridge.conf": ("-rw-r--r--", "root/root"),
    "./etc/opescare-bridge/config.yaml": ("-rw-r-----", "root/root"),
    "./usr/share/doc/opescare-bridge/copyright": ("-rw-r--r--", "root/root"),
    "./usr/share/doc/opescare-bridge/changelog.gz": ("-rw-r--r--", "root/root"),
    "./usr/share/doc/opescare-bridge/README.md": ("-rw-r--r--", "root/root"),
    "./usr/share/lintian/overrides/opescare-bridge": ("-rw-r--r--", "root/root"),
}


def tmpdir(prefix):
    root = os.path.join(os.environ["OB_BUILD_DIR"], "e2e-tmp") if os.environ.get("OB_BUILD_DIR") else None
    if root:
        os.makedirs(root, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=root)


def run(args, timeout=300, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


def one(pattern):
    found = sorted(glob.glob(os.path.join(PACKAGE_DIR, pattern)))
    return found[-1] if found else None


def deb_listing(deb):
    """path -> (perms, owner) from dpkg-deb -c."""
    out = run(["dpkg-deb", "-c", deb]).stdout
    listing = {}
    for line in out.splitlines():
        fields = line.split(None, 5)
        path = fields[5].split(" -> ")[0]
        listing[path] = (fields[0], fields[1])
    return listing


def deb_file_text(deb, path):
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True, check=True, timeout=60).stdout
    return subprocess.run(["tar", "-xO", path], input=tar, capture_output=True, check=True, timeout=60).stdout.decode()


@unittest.skipUnless(PACKAGE_DIR, "OB_PACKAGE_DIR not set: run scripts/ci-package.sh to build and check the packages")
class DebContentsTest(unittest.TestCase):
    def setUp(self):
        self.deb = one("opescare-bridge_*.deb")
        self.assertIsNotNone(self.deb, "no .deb in " + PACKAGE_DIR)

    def test_expected_files_with_their_modes_and_nothing_else(self):
        listing = deb_listing(self.deb)
        files = {p: v for p, v in listing.items() if not v[0].startswith("d")}
        self.assertEqual(sorted(files), sorted(DEB_FILES))
        for path, expected in DEB_FILES.items():
            self.assertEqual(files[path], expected, path)
        self.assertEqual(listing["./etc/opescare-bridge/"][0], "drwxr-x---")
        self.assertFalse([p for p in listing if "simulator" in p], "the simulator must not be packaged")
        # Nothing in the state, spool or log folders: the package never owns the outbox.
        self.assertFalse([p for p in listing if p.startswith(("./var/lib/", "./var/spool/", "./var/log/"))])

    def test_unit_and_snippets_are_the_repository_files(self):
        for packaged, source in [("./lib/systemd/system/opescare-bridge.service", "systemd/opescare-bridge.service"),
                                 ("./usr/lib/sysusers.d/opescare-bridge.conf", "systemd/opescare-bridge.sysusers"),
                                 ("./usr/lib/tmpfiles.d/opescare-bridge.conf", "systemd/opescare-bridge.tmpfiles")]:
            with open(os.path.join(SOURCE_DIR, source), encoding="utf-8") as f:
                self.assertEqual(deb_file_text(self.deb, packaged), f.read(), packaged)

    def test_control_conffile_and_scripts(self):
        fields = run(["dpkg-deb", "-f", self.deb, "Package", "Depends", "Pre-Depends", "Section"]).stdout
        self.assertIn("Package: opescare-bridge", fields)
        # The static binary needs no library, and the scripts only what a minbase system has.
        self.assertNotIn("Depends:", fields)
        control = tmpdir("deb-control-")
        self.addCleanup(shutil.rmtree, control, True)
        subprocess.run(["dpkg-deb", "-e", self.deb, control], check=True, timeout=60)
        with open(os.path.join(control, "conffiles"), encoding="utf-8") as f:
            self.assertEqual(f.read().split(), ["/etc/opescare-bridge/config.yaml"])
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(control, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            self.assertEqual(run(["sh", "-n", path]).returncode, 0, script)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            # No script removes the outbox, the spool or the user, whatever its argument.
            self.assertNotRegex(text, r"(?m)^[^#]*\brm\b[^\n]*/var/(lib|spool)/opescare-bridge", script)
            self.assertNotRegex(text, r"(?m)^[^#]*\b(userdel|deluser|groupdel|delgroup)\b", script)

    def test_config_is_set_up_for_the_service(self):
        text = deb_file_text(self.deb, "./etc/opescare-bridge/config.yaml")
        self.assertRegex(text, r"(?m)^  path: /var/lib/opescare-bridge/outbox\.db$")
        self.assertRegex(text, r"(?m)^  watch_folder: /var/spool/opescare-bridge/incoming$")
        self.assertRegex(text, r'(?m)^  file: ""')  # stderr, i.e. the journal
        self.assertRegex(text, r'(?m)^agent_key: ""')  # the key comes from the systemd credential
        with open(os.path.join(SOURCE_DIR, "systemd", "opescare-bridge.service"), encoding="utf-8") as f:
            unit = f.read()
        # The watch folder is inside a path the sandbox makes writable.
        self.assertRegex(unit, r"(?m)^ReadWritePaths=-?/var/spool/opescare-bridge$")

    def test_config_passes_check_config(self):
        agent = os.environ.get("OB_AGENT")
        if not agent or run([agent, "check-config", "--help"]).returncode != 0:
            self.skipTest("no agent with check-config")
        tmp = tmpdir("pkg-config-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cfg = os.path.join(tmp, "config.yaml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(deb_file_text(self.deb, "./etc/opescare-bridge/config.yaml"))
        env = dict(os.environ, OPESCARE_AGENT_KEY="packaging-test-key-0123456789")
        r = run([agent, "check-config", "--strict", "--config", cfg], env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    @unittest.skipUnless(shutil.which("lintian"), "lintian is not installed")
    def test_lintian_reports_no_errors(self):
        r = run(["lintian", "--no-tag-display-limit", self.deb], timeout=600)
        lines = [l for l in r.stdout.splitlines() if re.match(r"^[EWIP]: ", l)]
        errors = [l for l in lines if l.startswith("E: ")]
        warnings = [l for l in lines if l.startswith("W: ")]
        print("lintian: %d error(s), %d warning(s)%s" % (len(errors), len(warnings),
                                                          "".join("\n  " + w for w in warnings)))
        self.assertEqual(errors, [], r.stdout + r.stderr)


@unittest.skipUnless(PACKAGE_DIR, "OB_PACKAGE_DIR not set: run scripts/ci-package.sh to build and check the packages")
@unittest.skipUnless(shutil.which("rpm"), "rpm is not installed")
class RpmContentsTest(unittest.TestCase):
    def setUp(self):
        self.rpm = one("opescare-bridge-*.rpm")
        if self.rpm is None:
            self.skipTest("no .rpm built (rpmbuild missing)")

    def query(self, fmt):
        r = run(["rpm", "-qp", "--qf", fmt, self.rpm])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_files_modes_owners_and_config_flags(self):
        rows = {}
        for line in self.query("[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS}\n]").splitlines():
            path, perms, user, group, flags = line.split()
            rows[path] = (perms, user, group, int(flags))
        expected = {
            "/usr/bin/opescare-bridge": ("-rwxr-xr-x", "root", "root"),
            "/usr/lib/systemd/system/opescare-bridge.service": ("-rw-r--r--", "root", "root"),
            "/usr/lib/sysusers.d/opescare-bridge.conf": ("-rw-r--r--", "root", "root"),
            "/usr/lib/tmpfiles.d/opescare-bridge.conf": ("-rw-r--r--", "root", "root"),
            "/etc/opescare-bridge": ("drwxr-x---", "root", USER),
            "/etc/opescare-bridge/config.yaml": ("-rw-r-----", "root", USER),
        }
        for path, want in expected.items():
            self.assertIn(path, rows)
            self.assertEqual(rows[path][:3], want, path)
        self.assertFalse([p for p in rows if "simulator" in p or p.startswith(("/var/lib", "/var/spool"))])
        config_flag, noreplace_flag = 1, 16  # RPMFILE_CONFIG, RPMFILE_NOREPLACE
        configs = sorted(p for p, row in rows.items() if row[3] & config_flag)
        self.assertEqual(configs, ["/etc/opescare-bridge/config.yaml"])
        self.assertTrue(rows["/etc/opescare-bridge/config.yaml"][3] & noreplace_flag)

    def test_requires_no_library(self):
        # rpm -qpR of the static build: the scriptlets' shell and shadow-utils (useradd in %pre),
        # rpm's own features and the config's self-reference; no .so, no rtld, no libc.
        allowed = {"/bin/sh", "shadow-utils", "config(opescare-bridge)"}
        requires = [line.split()[0] for line in run(["rpm", "-qpR", self.rpm]).stdout.splitlines() if line.strip()]
        self.assertTrue(requires, "rpm -qpR printed nothing")
        unexpected = [r for r in requires if r not in allowed and not r.startswith("rpmlib(")]
        self.assertEqual(unexpected, [], "the .rpm must require no library")

    def test_scriptlets(self):
        scripts = run(["rpm", "-qp", "--scripts", self.rpm]).stdout
        self.assertIn("useradd -r -g opescare-bridge", scripts)  # %pre, before the files need the group
        self.assertIn("systemd-tmpfiles --create /usr/lib/tmpfiles.d/opescare-bridge.conf", scripts)
        self.assertNotRegex(scripts, r"(?m)^[^#]*\brm\b[^\n]*/var/(lib|spool)/opescare-bridge")
        self.assertNotRegex(scripts, r"(?m)^[^#]*\buserdel\b")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@unittest.skipUnless(PACKAGE_DIR, "OB_PACKAGE_DIR not set: run scripts/ci-package.sh to build and check the packages")
@unittest.skipUnless(os.environ.get("OB_PACKAGE_INSTALL") == "1" and os.geteuid() == 0,
                     "installing on this machine needs root and OB_PACKAGE_INSTALL=1 (a throwaway CI machine)")
class DebInstallTest(unittest.TestCase):
    """Installs the .deb on this machine, upgrades over it, removes and purges it."""

    STATE = "/var/lib/opescare-bridge"
    SPOOL = "/var/spool/opescare-bridge"

    def setUp(self):
        self.deb = one("opescare-bridge_*.deb")
        self.assertIsNotNone(self.deb)
        status = run(["dpkg-query", "-W", "-f=${Status}", "opescare-bridge"]).stdout
        if "installed" in status and "not-installed" not in status and "config-files" not in status:
            self.skipTest("opescare-bridge is already installed here; not touching it")
        # What this test creates and must clean up afterwards (purge keeps them by design).
        self.had_user = self.user_exists()
        self.had_dirs = [d for d in (self.STATE, self.SPOOL, "/var/log/opescare-bridge", "/etc/opescare-bridge")
                         if os.path.exists(d)]
        self.addCleanup(self.cleanup)

    @staticmethod
    def user_exists():
        try:
            pwd.getpwnam(USER)
            return True
        except KeyError:
            return False

    def cleanup(self):
        run(["dpkg", "--purge", "opescare-bridge"])
        for d in (self.STATE, self.SPOOL, "/var/log/opescare-bridge", "/etc/opescare-bridge"):
            if d not in self.had_dirs:
                shutil.rmtree(d, ignore_errors=True)
        if not self.had_user and self.user_exists():
            run(["userdel", USER])
            run(["groupdel", USER])

    def dpkg(self, *args):
        r = run(["dpkg", *args], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        self.assertEqual(r.returncode, 0, "dpkg %s\n%s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout + r.stderr

    def assert_dir(self, path, mode, owner):
        st = os.stat(path)
        self.assertTrue(stat.S_ISDIR(st.st_mode), path)
        self.assertEqual(stat.S_IMODE(st.st_mode), mode, "%s is %o" % (path, stat.S_IMODE(st.st_mode)))
        self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, owner, path)

    def test_install_upgrade_remove_purge(self):
        out = self.dpkg("-i", self.deb)
        self.assertIn("installed and enabled, not started", out)

        # The user and the folders, with tight modes.
        user = pwd.getpwnam(USER)
        self.assertLess(user.pw_uid, 1000)
        self.assertEqual(user.pw_shell, "/usr/sbin/nologin")
        self.assert_dir(self.STATE, 0o700, USER)
        self.assert_dir(self.SPOOL + "/incoming", 0o2770, USER)
        self.assert_dir(self.SPOOL + "/incoming/failed", 0o750, USER)
        self.assert_dir("/etc/opescare-bridge", 0o750, "root")
        cfg = os.stat("/etc/opescare-bridge/config.yaml")
        self.assertEqual(stat.S_IMODE(cfg.st_mode), 0o640)
        self.assertEqual(cfg.st_gid, user.pw_gid)
        self.assertTrue(os.path.isfile("/lib/systemd/system/opescare-bridge.service"))
        self.assertTrue(os.access("/usr/bin/opescare-bridge", os.X_OK))
        # Enabled through deb-systemd-helper even without a running systemd.
        if shutil.which("deb-systemd-helper"):
            self.assertTrue(os.path.islink("/etc/systemd/system/multi-user.target.wants/opescare-bridge.service"))

        # An outbox with a WAL file, as a running agent leaves them, and a local config change.
        outbox = {}
        for name in ("outbox.db", "outbox.db-wal", "outbox.db-shm"):
            path = os.path.join(self.STATE, name)
            with open(path, "wb") as f:
                f.write(os.urandom(4096))
            os.chown(path, user.pw_uid, user.pw_gid)
            os.chmod(path, 0o600)
        for name in os.listdir(self.STATE):
            path = os.path.join(self.STATE, name)
            st = os.stat(path)
            outbox[name] = (sha256(path), st.st_mtime_ns, st.st_uid, stat.S_IMODE(st.st_mode))
        with open("/etc/opescare-bridge/config.yaml", "a", encoding="utf-8") as f:
            f.write("# local change\n")

        def assert_outbox_untouched(when):
            now = {}
            for name in os.listdir(self.STATE):
                path = os.path.join(self.STATE, name)
                st = os.stat(path)
                now[name] = (sha256(path), st.st_mtime_ns, st.st_uid, stat.S_IMODE(st.st_mode))
            self.assertEqual(now, outbox, "outbox changed by " + when)

        # Upgrade (the same version again runs the upgrade paths of every script).
        self.dpkg("-i", self.deb)
        assert_outbox_untouched("upgrade")
        with open("/etc/opescare-bridge/config.yaml", encoding="utf-8") as f:
            self.assertTrue(f.read().endswith("# local change\n"), "upgrade overwrote the conffile")
        self.assertTrue(os.path.isfile("/lib/systemd/system/opescare-bridge.service"))

        self.dpkg("-r", "opescare-bridge")
        assert_outbox_untouched("remove")
        self.assertFalse(os.path.exists("/usr/bin/opescare-bridge"))
        self.assertTrue(os.path.exists("/etc/opescare-bridge/config.yaml"))  # conffiles stay until purge

        out = self.dpkg("--purge", "opescare-bridge")
        assert_outbox_untouched("purge")
        self.assertIn("Kept on purpose", out)
        self.assertFalse(os.path.exists("/etc/opescare-bridge/config.yaml"))
        self.assertTrue(self.user_exists(), "purge must not delete the user owning the outbox")
        self.assertFalse(os.path.lexists("/etc/systemd/system/multi-user.target.wants/opescare-bridge.service"))


if __name__ == "__main__":
    unittest.main()
