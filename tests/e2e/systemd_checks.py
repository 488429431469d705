"""The unit under a real systemd (scripts/ci-systemd.sh): boots a Debian root with systemd-nspawn, installs
the .deb with apt inside it, and checks the service as systemd runs it against the simulator on the host's
loopback (the machine shares the host's network). Run as root with OB_SYSTEMD_ROOT (a throwaway copy),
OB_PACKAGE_DIR and OB_SIMULATOR."""

import glob
import json
import re
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simulator import Simulator, e2e_tmpdir, free_port, make_agent_key, wait_until  # noqa: E402

UNIT = "opescare-bridge"
CSV = "health_id,date,reason\nOC-7001,2026-11-30,contrôle\nOC-7002,2026-12-01,suivi\n"


class Machine:
    """A booted systemd-nspawn container: PID 1 found from nspawn's children, driven through nsenter."""

    def __init__(self, root, log_path):
        self.root = root
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(["systemd-nspawn", "-D", root, "-b", "--register=no", "--keep-unit",
                                      "--console=read-only"], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.pid1 = wait_until(self._find_pid1, 20, what="the container's PID 1")

    def _find_pid1(self):
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                with open("/proc/%d/status" % pid) as f:
                    nspid = [l.split()[1:] for l in f if l.startswith("NSpid:")][0]
                with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                    todo += [int(c) for c in f.read().split()]
            except (OSError, IndexError):
                continue
            if pid != self.proc.pid and nspid[-1] == "1":
                return pid
        return None

    def run(self, *cmd, check=True, timeout=120, input=None):
        r = subprocess.run(["nsenter", "-t", str(self.pid1), "-a"] + list(cmd), capture_output=True, text=True,
                           timeout=timeout, input=input,
                           env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
                                "DEBIAN_FRONTEND": "noninteractive"})
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r

    def show(self, prop):
        return self.run("systemctl", "show", "-P", prop, UNIT).stdout.strip()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn asks the container's systemd to power off
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


class SystemdUnitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = os.environ["OB_SYSTEMD_ROOT"]
        cls.key, _ = make_agent_key()
        cls.sim = Simulator(e2e_tmpdir("systemd-"), agents={"agt_1": cls.key}, facilities=["fac-1"])
        cls.sim.start()
        try:
            cls.boot_and_install()
        except BaseException:
            cls.tearDownClass()  # unittest skips tearDownClass when setUpClass fails: no machine left behind
            raise

    @classmethod
    def boot_and_install(cls):
        cls.machine = None
        cls.machine = Machine(cls.root, os.path.join(cls.sim.tmpdir, "machine.log"))
        started = time.monotonic()
        state = wait_until(lambda: cls.machine.run("systemctl", "is-system-running", check=False).stdout.strip()
                           in ("running", "degraded") and
                           cls.machine.run("systemctl", "is-system-running", check=False).stdout.strip(), 60,
                           interval=0.1, what="the container's systemd to finish booting")
        print("booted in %.1f s" % (time.monotonic() - started), file=sys.stderr)
        print("container systemd: %s (%s)" % (state, cls.machine.run("systemctl", "--version").stdout.split("\n")[0]),
              file=sys.stderr)
        cls.install()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "machine", None):
            cls.machine.close()
        cls.sim.stop()

    @classmethod
    def install(cls):
        deb = glob.glob(os.path.join(os.environ["OB_PACKAGE_DIR"], "opescare-bridge_*.deb"))[0]
        # Not /tmp: the booted system mounts a fresh tmpfs there.
        shutil.copy(deb, os.path.join(cls.root, "root"))
        cls.machine.run("apt-get", "install", "-y", "--no-install-recommends", "/root/" + os.path.basename(deb),
                        timeout=300)
        etc = os.path.join(cls.root, "etc/opescare-bridge")
        shutil.copy(cls.sim.ca_file, os.path.join(etc, "ca.pem"))
        cls.write_config(heartbeat=60)
        with open(os.path.join(etc, "agent.key"), "w") as f:
            f.write(cls.key + "\n")
        os.chmod(os.path.join(etc, "agent.key"), 0o600)
        cls.machine.run("chmod", "0644", "/etc/opescare-bridge/ca.pem")

    @classmethod
    def write_config(cls, heartbeat, watch_folder="/var/spool/opescare-bridge/incoming"):
        cls.status_port = getattr(cls, "status_port", None) or free_port()
        with open(os.path.join(cls.root, "etc/opescare-bridge/config.yaml"), "w") as f:
            f.write("server_url: %s\nagent_id: agt_1\nfacility_id: fac-1\nheartbeat_interval_seconds: %d\n"
                    "sync_interval_seconds: 2\noutbox:\n  path: /var/lib/opescare-bridge/outbox.db\n"
                    "http:\n  ca_file: /etc/opescare-bridge/ca.pem\nconnector:\n  watch_folder: %s\n"
                    "  settle_seconds: 0.5\n  scan_interval_seconds: 1\nstatus:\n  listen: 127.0.0.1:%d\n"
                    % (cls.sim.url, heartbeat, watch_folder, cls.status_port))
        cls.machine.run("chgrp", "opescare-bridge", "/etc/opescare-bridge/config.yaml")
        cls.machine.run("chmod", "0640", "/etc/opescare-bridge/config.yaml")

    def test_1_start_ready_user_outbox_delivery(self):
        self.machine.run("systemctl", "start", UNIT, timeout=150)  # Type=notify: returns after READY=1
        self.assertEqual(self.machine.show("ActiveState"), "active")
        pid = int(self.machine.show("MainPID"))
        self.assertGreater(pid, 0)
        user = self.machine.run("stat", "-c", "%U", "/proc/%d" % pid).stdout.strip()
        self.assertEqual(user, "opescare-bridge")
        files = self.machine.run("ls", "/var/lib/opescare-bridge").stdout.split()
        self.assertIn("outbox.db", files)
        incoming = os.path.join(self.root, "var/spool/opescare-bridge/incoming")
        self.machine.run("install", "-d", "-o", "opescare-bridge", "-g", "opescare-bridge",
                         "/var/spool/opescare-bridge/incoming")
        with open(os.path.join(incoming, "appointments_ci.csv.part"), "w") as f:
            f.write(CSV)
        os.rename(os.path.join(incoming, "appointments_ci.csv.part"), os.path.join(incoming, "appointments_ci.csv"))
        records = wait_until(lambda: [r for r in self.sim.records().values() if r["type"] == "appointment"]
                             if len(self.sim.records()) >= 2 else None, 30, interval=0.3, what="2 records")
        got = sorted((r["data"]["health_id"], r["data"]["date"], r["data"]["reason"]) for r in records)
        self.assertEqual(got, [("OC-7001", "2026-11-30", "contrôle"), ("OC-7002", "2026-12-01", "suivi")])

    def test_2_security_score(self):
        out = self.machine.run("systemd-analyze", "security", "--no-pager", UNIT, check=False).stdout
        found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        self.assertIsNotNone(found, out[-500:])
        score = float(found.group(1))
        print("systemd-analyze security: %.1f" % score, file=sys.stderr)
        self.assertLessEqual(score, 2.0)

    def status_json(self):
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/status.json" % self.status_port, timeout=5) as resp:
            return json.loads(resp.read())

    def drop_csv(self, folder, name, text=CSV):
        host = os.path.join(self.root, folder.lstrip("/"))
        with open(os.path.join(host, name + ".part"), "w") as f:
            f.write(text)
        os.rename(os.path.join(host, name + ".part"), os.path.join(host, name))

    def wait_health_ids(self, ids, timeout=40):
        def seen():
            have = {r["data"].get("health_id") for r in self.sim.records().values()}
            return set(ids) <= have
        wait_until(seen, timeout, interval=0.3, what="records %s at the simulator" % sorted(ids))

    def test_3_reload_applies_interval(self):
        self.write_config(heartbeat=5)
        before = len(self.sim.heartbeats())
        self.machine.run("systemctl", "reload", UNIT, timeout=30)  # ExecReload needs no /bin/kill (no procps here)
        wait_until(lambda: len(self.sim.heartbeats()) >= before + 2, 14, interval=0.3,
                   what="two heartbeats 5 s apart after the reload")
        self.assertEqual(self.machine.show("ActiveState"), "active")

    def test_4_watchdog_restarts_a_stopped_agent(self):
        # /etc, not /run: the booted system mounts its own tmpfs on /run, hiding what the host writes there.
        dropin = os.path.join(self.root, "etc/systemd/system/opescare-bridge.service.d")
        os.makedirs(dropin, exist_ok=True)
        with open(os.path.join(dropin, "ci-watchdog.conf"), "w") as f:
            f.write("[Service]\nWatchdogSec=4\nTimeoutAbortSec=3\nRestartSec=1\n")  # the packaged 30 s, shortened for CI
        try:
            self.machine.run("systemctl", "daemon-reload")
            self.machine.run("systemctl", "restart", UNIT, timeout=60)
            pid, restarts = self.machine.show("MainPID"), int(self.machine.show("NRestarts"))
            self.machine.run("/bin/sh", "-c", "kill -STOP " + pid)
            self.drop_csv("/var/spool/opescare-bridge/incoming", "appointments_wd.csv",
                          CSV.replace("OC-7001", "OC-7101").replace("OC-7002", "OC-7102"))
            wait_until(lambda: int(self.machine.show("NRestarts")) > restarts and
                       self.machine.show("ActiveState") == "active", 30, interval=0.3,
                       what="systemd's watchdog to restart the stopped agent")
            self.assertNotEqual(self.machine.show("MainPID"), pid)
            log = self.machine.run("journalctl", "-u", UNIT, "--no-pager", check=False).stdout
            self.assertIn("Watchdog timeout", log)
            self.wait_health_ids({"OC-7001", "OC-7002", "OC-7101", "OC-7102"})
        finally:
            os.remove(os.path.join(dropin, "ci-watchdog.conf"))
            self.machine.run("systemctl", "daemon-reload")

    def test_5_read_only_watch_folder_is_a_fault_until_the_drop_in(self):
        self.machine.run("install", "-d", "-o", "opescare-bridge", "-g", "opescare-bridge", "/srv/exports")
        self.write_config(heartbeat=5, watch_folder="/srv/exports")
        self.machine.run("systemctl", "restart", UNIT, timeout=60)
        self.drop_csv("/srv/exports", "appointments_ro.csv",
                      CSV.replace("OC-7001", "OC-7201").replace("OC-7002", "OC-7202"))
        fault = wait_until(lambda: [f for f in self.status_json().get("faults", [])
                                    if "ReadWritePaths=/srv/exports" in f.get("fix", "")], 20, interval=0.3,
                           what="a fault naming the drop-in in status.json")
        self.assertEqual(fault[0]["kind"], "watch_folder")
        self.assertIn("systemctl edit opescare-bridge", fault[0]["fix"])
        wait_until(lambda: "ReadWritePaths=/srv/exports" in json.dumps(self.sim.heartbeats()[-1]), 15,
                   interval=0.5, what="the fault in a heartbeat")
        doctor = self.machine.run("opescare-bridge", "doctor", "--config", "/etc/opescare-bridge/config.yaml",
                                  check=False)
        print(doctor.stdout, file=sys.stderr)
        self.assertIn("credential file /etc/opescare-bridge/agent.key", doctor.stdout)
        self.assertIn("ReadWritePaths=/srv/exports", doctor.stdout)
        self.assertNotEqual(doctor.returncode, 0)

        dropin = os.path.join(self.root, "etc/systemd/system/opescare-bridge.service.d")
        os.makedirs(dropin, exist_ok=True)
        with open(os.path.join(dropin, "exports.conf"), "w") as f:
            f.write("[Service]\nReadWritePaths=/srv/exports\n")  # the drop-in packaging/README.md documents
        self.machine.run("systemctl", "daemon-reload")
        self.machine.run("systemctl", "restart", UNIT, timeout=60)
        wait_until(lambda: os.path.exists(os.path.join(self.root, "srv/exports/processed/appointments_ro.csv")) or
                   any(os.path.basename(p).startswith("appointments_ro")
                       for p in glob.glob(os.path.join(self.root, "srv/exports/processed/*"))), 20, interval=0.3,
                   what="the file moved to processed/ once writable")
        wait_until(lambda: not self.status_json().get("faults"), 20, interval=0.3, what="the fault to clear")
        doctor = self.machine.run("opescare-bridge", "doctor", "--config", "/etc/opescare-bridge/config.yaml",
                                  check=False)
        self.assertIn("connector.watch_folder /srv/exports is writable for the service", doctor.stdout)
        # A missing credential file would stop the unit from starting: doctor says so and fails.
        key = os.path.join(self.root, "etc/opescare-bridge/agent.key")
        os.rename(key, key + ".moved")
        try:
            doctor = self.machine.run("opescare-bridge", "doctor", "--config", "/etc/opescare-bridge/config.yaml",
                                      check=False)
        finally:
            os.rename(key + ".moved", key)
        self.assertIn('✗ key: agent_key_file: "/etc/opescare-bridge/agent.key" does not exist', doctor.stdout)
        self.assertIn("the systemd credential agent_key", doctor.stdout)
        self.assertNotEqual(doctor.returncode, 0)

    def tearDown(self):
        failed = [e for e in getattr(self._outcome, "errors", []) if e[1]] if hasattr(self, "_outcome") else []
        if failed or os.environ.get("OB_SYSTEMD_VERBOSE"):
            print(self.machine.run("journalctl", "-u", UNIT, "--no-pager", "-n", "40", check=False).stdout,
                  file=sys.stderr)

    def test_9_stop_exit_status_zero(self):
        self.machine.run("systemctl", "stop", UNIT, timeout=30)
        self.assertEqual(self.machine.show("ActiveState"), "inactive")
        self.assertEqual(self.machine.show("ExecMainStatus"), "0")
        self.assertEqual(self.machine.show("Result"), "success")


if __name__ == "__main__":
    unittest.main(verbosity=2)
