"""The agent under test for tests/windows/wine_e2e.py, natively or under wine (Python stdlib and tests/e2e's agentproc).

    target = Target.from_command("wine build/windows/agent/opescare-bridge.exe", prefix, key)
    target.prepare()                          # wine: the prefix (wineboot --init; wineserver -w), once
    r = target.cli(["heartbeat"], config)     # `opescare-bridge heartbeat --config CONFIG`, time-boxed
    service = target.service(config, log)     # wine: the SCM; natively: `run` as a child process

Paths handed to the agent go through target.path(): under wine the Windows path (`winepath -w`), natively
the path itself. Every wine step has a timeout; a step that runs out raises StepTimeout naming it.
"""

import os
import re
import shlex
import signal
import subprocess
import time

from agentproc import agent_env  # tests/e2e (on sys.path): the agent's scrubbed environment

WINE_ENV = {"WINEARCH": "win64", "WINEDEBUG": "-all", "WINEDLLOVERRIDES": "mscoree,mshtml=", "DISPLAY": ""}
# Debian's /usr/bin/wine says this on every call when the 32-bit half is not installed; it is not the agent's.
WINE32_NOTE = re.compile(r"it looks like wine32 is missing.*?apt-get install wine32:i386\"?\n?", re.S)
SERVICE = "OpesCareBridge"


class StepTimeout(AssertionError):
    """A time-boxed step did not finish."""


def run(cmd, timeout, what, env=None, cwd=None, input=None):
    """Runs cmd to completion (text output), or raises StepTimeout after `timeout` seconds."""
    try:
        r = subprocess.run(cmd, env=env, cwd=cwd, input=input, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise StepTimeout("%s: no answer within %.0f s (%s); output so far:\n%s"
                          % (what, timeout, " ".join(cmd), out[-2000:])) from None
    r.stderr = WINE32_NOTE.sub("", r.stderr)
    return r


def own_lineage():
    """This process and its ancestors: they may carry WINEPREFIX and the .exe's name on their command line
    (`python3 wine_e2e.py --agent-cmd "wine X.exe"`), but they are not the prefix's processes."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


class Wine:
    """A wine prefix of our own: its environment, creation, path translation and its processes."""

    def __init__(self, prefix, wine="wine"):
        self.prefix = os.path.abspath(prefix)
        self.wine = wine
        self._unix_root = None  # the Windows name of "/" (Z:\ in a default prefix)

    def env(self, base=None):
        env = dict(base if base is not None else os.environ)
        env.update(WINE_ENV)
        env["WINEPREFIX"] = self.prefix
        return env

    def prepare(self, say):
        """Creates the prefix once (wineboot --init, then wineserver -w: without the wait a service registered
        right after is not found, error 1060). An existing prefix is reused."""
        if os.path.exists(os.path.join(self.prefix, "system.reg")):
            say("wine: reusing the prefix %s" % self.prefix)
            return
        os.makedirs(self.prefix, exist_ok=True)
        started = time.monotonic()
        r = run(["wineboot", "--init"], 180, "wineboot --init", env=self.env())
        if r.returncode != 0:
            raise AssertionError("wineboot --init exited %d:\n%s" % (r.returncode, (r.stdout + r.stderr)[-2000:]))
        self.wait_server()
        say("wine: created the prefix %s in %.0f s" % (self.prefix, time.monotonic() - started))

    def wait_server(self, timeout=120):
        run(["wineserver", "-w"], timeout, "wineserver -w", env=self.env())

    def persist(self, timeout=30):
        """A persistent wineserver for this prefix (wineserver -p; any running one is ended first: it cannot be
        made persistent afterwards). Without it wine shuts the prefix down, services and all, a few seconds
        after its last user process exits - `net start` is one - which no SCM does."""
        self.kill_server(timeout)
        # The new server stays in the background holding what it was given as output: never a pipe of ours.
        rc = subprocess.run(["wineserver", "-p"], env=self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=timeout).returncode
        if rc != 0:
            raise AssertionError("wineserver -p exited %d" % rc)
        # The first wine program starts the prefix's system processes (services.exe and with it the services),
        # and they inherit its output: that program must not write into a pipe of ours either, or a later
        # run() waits for a pipe that services.exe keeps open.
        subprocess.run([self.wine, "sc", "query", SERVICE], env=self.env(), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)

    def kill_server(self, timeout=30):
        """wineserver -k: every process of the prefix ends, and the server with them."""
        run(["wineserver", "-k"], timeout, "wineserver -k", env=self.env())

    def winepath(self, path):
        if self._unix_root is None:
            r = run(["winepath", "-w", "/"], 60, "winepath -w /", env=self.env())
            root = r.stdout.strip()
            if r.returncode != 0 or not re.match(r"^[A-Za-z]:\\$", root):
                raise AssertionError("winepath -w / gave %r (exit %d): %s" % (root, r.returncode, r.stderr))
            self._unix_root = root
        return self._unix_root + os.path.abspath(path).lstrip("/").replace("/", "\\")

    def run(self, args, timeout, what, env=None, cwd=None):
        return run([self.wine] + list(args), timeout, what, env=self.env(env), cwd=cwd)

    def processes(self, name=None):
        """{pid: command line} of the Linux processes running in this prefix (WINEPREFIX in their environment),
        only those whose command line names `name` when given (case-insensitive)."""
        found = {}
        mine = own_lineage()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in mine:
                continue
            try:
                with open("/proc/%s/environ" % entry, "rb") as f:
                    environ = f.read().split(b"\0")
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            except OSError:
                continue
            if ("WINEPREFIX=" + self.prefix).encode() not in environ:
                continue
            if name is None or name.lower() in cmdline.lower():
                found[int(entry)] = cmdline
        return found


class Target:
    """The agent command under test: argv prefix, the wine prefix when it runs under wine, the key."""

    def __init__(self, argv, wine, key, cwd):
        self.argv = argv
        self.wine = wine
        self.key = key
        self.cwd = cwd

    @classmethod
    def from_command(cls, command, prefix, key, cwd):
        argv = shlex.split(command)
        if not argv:
            raise ValueError("empty --agent-cmd")
        if os.path.basename(argv[0]) in ("wine", "wine64"):
            if len(argv) < 2 or not os.path.isfile(argv[1]):
                raise ValueError("--agent-cmd %r: no .exe at %r" % (command, argv[1] if len(argv) > 1 else ""))
            return cls([os.path.abspath(argv[1])] + argv[2:], Wine(prefix, wine=argv[0]), key, cwd)
        if not os.access(argv[0], os.X_OK):
            raise ValueError("--agent-cmd %r: %r is not an executable" % (command, argv[0]))
        return cls([os.path.abspath(argv[0])] + argv[1:], None, key, cwd)

    @property
    def name(self):
        return ("wine " if self.wine else "") + self.argv[0]

    @property
    def exe_name(self):
        return os.path.basename(self.argv[0])

    def prepare(self, say):
        if self.wine:
            self.wine.prepare(say)

    def path(self, p):
        """The name the agent uses for the Linux path p."""
        return self.wine.winepath(p) if self.wine else os.path.abspath(p)

    def cli(self, args, config=None, timeout=60, key=True, cwd=None):
        """`AGENT ARGS [--config CONFIG]` to completion (config: a Linux path, translated here)."""
        argv = list(self.argv)
        if self.wine:
            argv[0] = self.path(argv[0])
        cmd = argv + list(args) + (["--config", self.path(config)] if config else [])
        env = agent_env(self.key if key else None)
        what = "%s %s" % (self.exe_name, " ".join(args))
        if self.wine:
            return self.wine.run(cmd, timeout, what, env=env, cwd=cwd or self.cwd)
        return run(cmd, timeout, what, env=env, cwd=cwd or self.cwd)

    def service(self, config, log_path, console=False):
        """wine: the SCM, or with console=True `run` under wine as a child (stopped with SIGINT, which wine
        turns into Ctrl-C); natively: `run` as a child."""
        if self.wine and not console:
            return WineService(self, config, log_path)
        return ChildService(self, config, log_path)

    def finish(self):
        """Ends whatever the target left running (wine: the whole prefix's processes)."""
        if self.wine:
            try:
                self.wine.kill_server()
            except StepTimeout:
                pass


def read_tail(path, n=2000):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode("utf-8", "replace").strip()
    except FileNotFoundError:
        return ""


def parse_sc_query(text):
    """`sc query` output -> {"STATE": "RUNNING", "WIN32_EXIT_CODE": 0, ...} (numbers as ints)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([A-Z0-9_]+)\s*:\s*(\S+)(?:\s+(\S+))?", line)
        if not m:
            continue
        key, first, second = m.groups()
        if key == "STATE":
            out[key] = second or first
        elif first.isdigit():
            out[key] = int(first)
        elif re.match(r"^0x[0-9a-fA-F]+$", first):
            out[key] = int(first, 16)
        else:
            out[key] = first
    return out


class WineService:
    """The agent as a service in wine's SCM. install() registers it (the exe's own `service install`, else
    `sc create`), start()/stop() go through `net start` / `net stop`, kill() ends it hard."""

    def __init__(self, target, config, log_path):
        self.t = target
        self.w = target.wine
        self.config = config
        self.log_path = log_path
        self.how = None  # how it was registered, said in the report

    def sc(self, *args, timeout=60):
        return self.w.run(["sc"] + list(args), timeout, "sc " + " ".join(args))

    def query(self):
        r = self.sc("query", SERVICE)
        return parse_sc_query(r.stdout), r

    def remove(self, say):
        """Takes away a registration left by an earlier run (stopped first); quiet when there is none."""
        q, _ = self.query()
        if not q:
            return
        if q.get("STATE") not in (None, "STOPPED"):
            self.w.run(["net", "stop", SERVICE], 60, "net stop (clean-up)")
        r = self.sc("delete", SERVICE)
        say("wine: removed the %s service left by an earlier run (sc delete: exit %d)" % (SERVICE, r.returncode))

    def install(self, say):
        r = self.t.cli(["service", "install"], self.config, timeout=60)
        out = (r.stdout + r.stderr).strip()
        if r.returncode == 0:
            self.how = "`opescare-bridge.exe service install` (exit 0: %s)" % out.splitlines()[-1:]
            say("service: registered by " + self.how)
            return
        # The agent's own registration failed under wine: register the same command line by hand, so the
        # service checks still run; the report says why.
        say("service: `service install` exited %d under wine: %s" % (r.returncode, out[-600:]))
        exe, cfg = self.t.path(self.t.argv[0]), self.t.path(self.config)
        bin_path = '"%s" run --config "%s"' % (exe, cfg)
        r2 = self.sc("create", SERVICE, "binPath=", bin_path, "start=", "demand",
                     "DisplayName=", "OpesCare Bridge Agent")
        if r2.returncode != 0:
            raise AssertionError("sc create failed too (exit %d): %s" % (r2.returncode, r2.stdout + r2.stderr))
        self.how = "`sc create %s binPath= %s` (service install exited %d: %s)" % (
            SERVICE, bin_path, r.returncode, out.splitlines()[-1] if out else "no output")
        say("service: registered by " + self.how)

    def start(self):
        self.w.persist()
        r = self.w.run(["net", "start", SERVICE], 90, "net start " + SERVICE)
        q, raw = self.query()
        if q.get("STATE") != "RUNNING":
            raise AssertionError("net start %s: exit %d, then sc query says %r:\n%s%s\n%s"
                                 % (SERVICE, r.returncode, q.get("STATE"), r.stdout, r.stderr, raw.stdout))
        return "net start exit %d, state %s" % (r.returncode, q["STATE"])

    def pids(self):
        return sorted(self.w.processes(self.t.exe_name))

    def stop(self):
        """net stop; returns (exit code of net stop, sc query fields once stopped, net's output)."""
        r = self.w.run(["net", "stop", SERVICE], 90, "net stop " + SERVICE)
        deadline = time.monotonic() + 30
        q, _ = self.query()
        while q.get("STATE") != "STOPPED" and time.monotonic() < deadline:
            time.sleep(0.3)
            q, _ = self.query()
        return r.returncode, q, (r.stdout + r.stderr).strip()

    def kill(self, how):
        """Ends the service without warning: SIGKILL of the agent's own process (by pid), then wineserver -k
        for every other process of the prefix; or wineserver -k alone (how="wineserver"). Returns what it did."""
        pids = self.pids()
        if how == "sigkill":
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
        self.w.kill_server()
        return "%s%s" % ("SIGKILL of pid %s, then " % pids if how == "sigkill" else "", "wineserver -k")

    def alive(self):
        return bool(self.pids())

    def describe_end(self):
        q, r = self.query()
        return "sc query: %s" % (q or (r.stdout + r.stderr).strip())


class ChildService:
    """Natively there is no SCM: `run` as a child process, stopped with SIGTERM, killed with SIGKILL."""

    def __init__(self, target, config, log_path):
        self.t = target
        self.config = config
        self.log_path = log_path
        self.proc = None
        if target.wine:
            self.how = "none: `wine opescare-bridge.exe run` as a child process (--service-mode console)"
            self.stop_signal = signal.SIGINT
        else:
            self.how = "none: native run, `run` as a child process (no SCM off Windows)"
            self.stop_signal = signal.SIGTERM

    def remove(self, say):
        pass

    def install(self, say):
        say("service: " + self.how)

    def start(self):
        if self.alive():
            return "already running (pid %d)" % self.proc.pid
        console = open(self.log_path + ".console", "ab")
        argv, env = self.t.argv + ["run", "--config", self.t.path(self.config)], agent_env(None)
        if self.t.wine:
            argv, env = [self.t.wine.wine, self.t.path(argv[0])] + argv[1:], self.t.wine.env(env)
        self.proc = subprocess.Popen(argv, env=env, cwd=self.t.cwd, stdin=subprocess.DEVNULL, stdout=console,
                                     stderr=console)
        console.close()
        return "started pid %d" % self.proc.pid

    def pids(self):
        return [self.proc.pid] if self.alive() else []

    def stop(self):
        self.proc.send_signal(self.stop_signal)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return None, {"STATE": "KILLED after 30 s"}, "did not stop within 30 s of %s" % self.stop_signal.name
        return 0, {"STATE": "STOPPED", "WIN32_EXIT_CODE": code}, self.stop_signal.name

    def kill(self, how):
        pids = sorted(set([self.proc.pid] + (list(self.t.wine.processes(self.t.exe_name)) if self.t.wine else [])))
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self.t.wine:
            self.t.wine.kill_server()
        return "SIGKILL of pid %s%s" % (pids, ", then wineserver -k" if self.t.wine else "")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def describe_end(self):
        return "exit code %s; its console: %s" % (self.proc.poll(), read_tail(self.log_path + ".console"))
