"""Test support: write an agent configuration and run the real opescare-bridge binary (stdlib only).

    with Simulator(tmp, agents={"agt_1": key}) as sim:
        cfg = write_config(tmp, sim, agent_id="agt_1", heartbeat_interval_seconds=5)
        with Agent(cfg, key=key) as agent:
            agent.wait_log("heartbeat accepted", timeout=10)
        result = run_cli(["status", "--json"], cfg, key=key)

The key is passed in OPESCARE_AGENT_KEY (never in the file). Every wait is bounded.
"""

import json
import os
import re
import signal
import subprocess
import time

from simulator import e2e_tmpdir, wait_until  # noqa: F401  (re-exported for tests)


def agent_binary():
    path = os.environ.get("OB_AGENT")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set OB_AGENT to the built opescare-bridge binary (got %r)" % path)
    return path


def _yaml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))  # a JSON string is a YAML string


def _yaml(data, indent=0):
    lines = []
    pad = "  " * indent
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append("%s%s:" % (pad, k))
            lines.append(_yaml(v, indent + 1))
        elif isinstance(v, (list, tuple)):
            lines.append("%s%s: [%s]" % (pad, k, ", ".join(_yaml_scalar(x) for x in v)))
        else:
            lines.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    return "\n".join(lines)


def _merge(base, extra):
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


def write_config(tmpdir, sim=None, name="config.yaml", **overrides):
    """Writes a configuration for an agent in tmpdir, pointed at sim (HTTPS, trusting its CA), and returns
    its path. Nested keys go as dicts: write_config(tmp, sim, batch={"max_records": 50})."""
    data = {
        "agent_id": "agt_1",
        "facility_id": "fac-1",
        "heartbeat_interval_seconds": 60,
        "sync_interval_seconds": 60,
        "log_level": "debug",
        "outbox": {"path": os.path.join(tmpdir, "outbox.db")},
        "retry": {"initial_backoff_seconds": 0.2, "max_backoff_seconds": 5},
        "connector": {"watch_folder": os.path.join(tmpdir, "incoming"), "settle_seconds": 0.5,
                      "scan_interval_seconds": 2},
        "status": {"listen": "127.0.0.1:0"},
        "http": {"connect_timeout_seconds": 3, "request_timeout_seconds": 10},
    }
    if sim is not None:
        data["server_url"] = sim.url
        if sim.ca_file:
            data["http"]["ca_file"] = sim.ca_file
    _merge(data, overrides)
    path = os.path.join(tmpdir, name)
    with open(path, "w") as f:
        f.write(_yaml(data) + "\n")
    return path


def agent_env(key=None, extra=None):
    env = dict(os.environ)
    for k in ("OPESCARE_AGENT_KEY", "OPESCARE_AGENT_ID", "OPESCARE_FACILITY_ID", "HTTPS_PROXY", "https_proxy",
              "NO_PROXY", "no_proxy", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY"):
        env.pop(k, None)
    if key is not None:
        env["OPESCARE_AGENT_KEY"] = key
    env.update(extra or {})
    return env


def run_cli(args, config=None, key=None, env=None, timeout=60, input=None):
    """Runs `opescare-bridge [--config F] ARGS` to completion: CompletedProcess with text stdout/stderr."""
    cmd = [agent_binary()] + list(args)
    if config:
        cmd += ["--config", config]
    return subprocess.run(cmd, env=agent_env(key, env), capture_output=True, text=True, timeout=timeout,
                          input=input)


class Agent:
    """The agent daemon (`run`) as a child process; its stderr (the log) goes to a file."""

    def __init__(self, config, key=None, env=None, args=("run",), log_path=None):
        self.config = config
        self.key = key
        self.env = agent_env(key, env)
        self.args = list(args)
        self.log_path = log_path or (config + ".agent.log")
        self.proc = None
        self._log = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([agent_binary()] + self.args + ["--config", self.config], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=15.0, count=1):
        """Waits until the log matches the regex `pattern` at least `count` times; returns the last match."""
        rx = re.compile(pattern)
        found = []

        def check():
            found[:] = rx.findall(self.log_text())
            if len(found) >= count:
                return True
            if not self.alive():
                raise AssertionError("agent exited (code %s) before its log showed %r:\n%s"
                                     % (self.proc.returncode, pattern, self.log_text()[-4000:]))
            return False

        wait_until(check, timeout, what="agent log %r x%d" % (pattern, count))
        return found[-1]

    def status_url(self, timeout=10.0):
        m = self.wait_log(r"status page at (http://\S+?)/?\s", timeout=timeout)
        return m.rstrip("/")

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL, as a power cut would."""
        if self.alive():
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._close()

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stops it (SIGTERM by default) and returns its exit code."""
        if self.proc is None:
            return None
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                self._close()
                raise AssertionError("agent did not stop within %.0f s of signal %d" % (timeout, sig))
        self._close()
        return self.proc.returncode

    def _close(self):
        if self._log:
            self._log.close()
            self._log = None
