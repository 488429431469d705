"""The packages on real Debian roots (scripts/ci-distros.sh): installs the .deb with apt in each root, runs
`version`, and sends `heartbeat` from inside the root to the simulator on the host's loopback (a chroot
shares the host's network). Run by the script, as root, with OB_DISTRO_ROOTS="suite=/path ..." (throwaway
copies), OB_PACKAGE_DIR and OB_SIMULATOR."""

import glob
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simulator import Simulator, e2e_tmpdir, make_agent_key  # noqa: E402


def roots():
    return dict(item.split("=", 1) for item in os.environ.get("OB_DISTRO_ROOTS", "").split())


def chroot(root, *cmd, env=None, timeout=300):
    full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    full_env.update(env or {})
    return subprocess.run(["chroot", root] + list(cmd), env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def deb_path():
    debs = glob.glob(os.path.join(os.environ["OB_PACKAGE_DIR"], "opescare-bridge_*.deb"))
    if len(debs) != 1:
        raise AssertionError("expected one opescare-bridge_*.deb in %s, found %r" % (os.environ["OB_PACKAGE_DIR"], debs))
    return debs[0]


def library_depends(deb):
    depends = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True, text=True, check=True).stdout
    return [d.strip() for d in depends.split(",") if d.strip().startswith("lib")]


# Unit settings a suite's systemd predates (ignored there, with a warning): PrivateIPC= came in systemd 248;
# Debian 11 has 247. The rest of the sandbox still applies there.
NEWER_THAN = {"bullseye": ("PrivateIPC",)}


class DistroTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.key, _ = make_agent_key()
        cls.sim = Simulator(e2e_tmpdir("distros-"), agents={"agt_1": cls.key}, facilities=["fac-1"])
        cls.sim.start()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def check_root(self, suite, root):
        deb = deb_path()
        shutil.copy(deb, os.path.join(root, "tmp"))
        r = chroot(root, "apt-get", "install", "-y", "--no-install-recommends", "/tmp/" + os.path.basename(deb))
        self.assertEqual(r.returncode, 0, "%s: apt-get install failed:\n%s%s" % (suite, r.stdout[-2000:], r.stderr))
        r = chroot(root, "opescare-bridge", "version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("opescare-bridge", r.stdout)
        print("%s: %s" % (suite, r.stdout.strip().splitlines()[0]), file=sys.stderr)
        os.makedirs(os.path.join(root, "tmp/ci"), exist_ok=True)
        shutil.copy(self.sim.ca_file, os.path.join(root, "tmp/ci/ca.pem"))
        with open(os.path.join(root, "tmp/ci/config.yaml"), "w") as f:
            f.write("server_url: %s\nagent_id: agt_1\nfacility_id: fac-1\noutbox:\n  path: /tmp/ci/outbox.db\n"
                    "http:\n  ca_file: /tmp/ci/ca.pem\nconnector:\n  watch_folder: /tmp/ci/incoming\n" % self.sim.url)
        before = len(self.sim.heartbeats())
        r = chroot(root, "opescare-bridge", "heartbeat", "--config", "/tmp/ci/config.yaml",
                   env={"OPESCARE_AGENT_KEY": self.key}, timeout=60)
        self.assertEqual(r.returncode, 0, "%s: heartbeat failed:\n%s%s" % (suite, r.stdout, r.stderr))
        self.assertEqual(len(self.sim.heartbeats()), before + 1, "%s: the simulator saw no new heartbeat" % suite)

    def test_unit_verifies_on_each_systemd(self):
        """systemd-analyze verify of the packaged unit on systemd 247 (11), 252 (12) and 257 (13). The .deb's
        files are unpacked (dpkg-deb -x), not installed, so this runs whatever the .deb depends on."""
        deb = deb_path()
        for suite, root in sorted(roots().items()):
            with self.subTest(suite=suite):
                # --keep-directory-symlink: /lib is a symlink to usr/lib on merged-/usr roots.
                subprocess.run("dpkg-deb --fsys-tarfile '%s' | tar -x --keep-directory-symlink -C '%s'" % (deb, root),
                               shell=True, check=True)
                version = chroot(root, "systemctl", "--version").stdout.split("\n")[0]
                r = chroot(root, "systemd-analyze", "verify", "/lib/systemd/system/opescare-bridge.service")
                print("%s: %s: systemd-analyze verify -> %d %s" % (suite, version, r.returncode,
                                                                  (r.stdout + r.stderr).strip()), file=sys.stderr)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                said = [l for l in (r.stdout + r.stderr).splitlines() if "opescare-bridge.service:" in l]
                # Settings newer than the suite's systemd are ignored there, by name; nothing else may be said.
                newer = NEWER_THAN.get(suite, ())
                unexpected = [l for l in said if not any("Unknown key name '%s'" % k in l for k in newer)]
                self.assertEqual(unexpected, [], "%s: systemd-analyze verify complains" % suite)

    def test_each_root(self):
        deb = deb_path()
        libs = library_depends(deb)
        self.assertTrue(roots(), "OB_DISTRO_ROOTS names no root")
        for suite, root in sorted(roots().items()):
            with self.subTest(suite=suite):
                if libs and suite != "bookworm":
                    # The dynamic .deb's Depends name Debian-12 library packages (issue 13): only the
                    # portable .deb installs elsewhere. Said loudly, counted as a skip, never a pass.
                    self.skipTest("%s: this .deb Depends on %s; only the portable .deb installs here"
                                  % (suite, ", ".join(libs)))
                self.check_root(suite, root)


# The .rpm's files and modes (mode None: present; its mode depends on the group, checked elsewhere).
RPM_LAYOUT = (("usr/bin/opescare-bridge", 0o755), ("etc/opescare-bridge/config.yaml", 0o640),
              ("etc/opescare-bridge", 0o750),
              ("usr/lib/systemd/system/opescare-bridge.service", 0o644),
              ("usr/lib/sysusers.d/opescare-bridge.conf", 0o644),
              ("usr/lib/tmpfiles.d/opescare-bridge.conf", 0o644),
              ("usr/share/doc/opescare-bridge/copyright", 0o644))


class RpmLayoutTest(unittest.TestCase):
    def test_rpm_installs_into_an_empty_root(self):
        """The .rpm's file layout, installed with `rpm --root` into an empty root (no scriptlets: there is no
        shell in it; the scriptlets are checked by tests/e2e/test_packaging.py)."""
        rpms = glob.glob(os.path.join(os.environ["OB_PACKAGE_DIR"], "opescare-bridge-*.rpm"))
        if not rpms or not shutil.which("rpm"):
            self.skipTest("no .rpm in %s or no rpm command" % os.environ["OB_PACKAGE_DIR"])
        root = e2e_tmpdir("rpm-root-")
        try:
            r = subprocess.run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts",
                                rpms[0]], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            for path, mode in RPM_LAYOUT:
                full = os.path.join(root, path)
                self.assertTrue(os.path.exists(full), "%s missing from the .rpm's layout" % path)
                if mode is not None:
                    self.assertEqual(os.stat(full).st_mode & 0o7777, mode, path)
            q = subprocess.run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-q", "opescare-bridge"],
                               capture_output=True, text=True)
            self.assertEqual(q.returncode, 0, q.stderr)
        finally:
            shutil.rmtree(root, ignore_errors=True)


class TarballTest(unittest.TestCase):
    def test_install_sh_in_a_root(self):
        """The portable tarball's install.sh in the Debian 12 root (only the portable packaging makes it)."""
        tars = glob.glob(os.path.join(os.environ["OB_PACKAGE_DIR"], "opescare-bridge-*-linux-x86_64.tar.gz"))
        if not tars:
            self.skipTest("no opescare-bridge-*-linux-x86_64.tar.gz in %s (made by the portable packaging)"
                          % os.environ["OB_PACKAGE_DIR"])
        root = roots()["bookworm"]
        subprocess.run(["tar", "-xzf", tars[0], "-C", os.path.join(root, "tmp")], check=True)
        top = os.path.basename(tars[0])[:-len(".tar.gz")]
        r = chroot(root, "/bin/sh", "-c", "cd /tmp/%s && ./install.sh" % top)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = chroot(root, "/bin/sh", "-c", "PATH=/usr/local/bin:$PATH opescare-bridge version")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
