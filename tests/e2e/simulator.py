"""Test support: start, drive and inspect the opescare-simulator process (Python stdlib only).

Typical use in an end-to-end test:

    key, key_hash = make_agent_key()
    with Simulator(tmpdir, agents={"agt_1": key}) as sim:
        ...config for the agent: server_url=sim.url, http.ca_file=sim.ca_file...
        sim.wait_stats(heartbeats=1, timeout=10)
        sim.set_faults(status=429, count=2, retry_after="3", path="sync")
        records = sim.records()          # {id: {"type", "data", "source", "batch_id"}}

The admin API is reached on the simulator's dedicated admin port (plain HTTP, loopback), which faults and
outages never touch. Every wait here is bounded in time.
"""

import gzip as gzip_module
import hashlib
import http.client
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

HEARTBEAT_PATH = "/api/v1/bridge/heartbeat"
SYNC_PATH = "/api/v1/bridge/sync"
LOOPBACK = "127.0.0.1"


class SimulatorError(RuntimeError):
    """The simulator did not start, or an admin call failed."""


def sha256_hex(key):
    """The hex SHA-256 of an agent key, as the simulator (and OpesCare) stores it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def make_agent_key():
    """A fresh random agent key and its SHA-256 hex: (key, sha256hex)."""
    key = "obk_" + secrets.token_urlsafe(32)
    return key, sha256_hex(key)


def free_port():
    """A loopback TCP port free right now (for a simulator that must start later on a known port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def simulator_binary():
    path = os.environ.get("OB_SIMULATOR")
    if not path or not os.access(path, os.X_OK):
        raise SimulatorError("set OB_SIMULATOR to the built opescare-simulator binary (got %r)" % path)
    return path


def e2e_tmpdir(prefix="sim-"):
    """A fresh directory under OB_BUILD_DIR/e2e-tmp (or the system temp dir when not run by ctest)."""
    root = os.path.join(os.environ["OB_BUILD_DIR"], "e2e-tmp") if os.environ.get("OB_BUILD_DIR") else None
    if root:
        os.makedirs(root, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=root)


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it returns a truthy value (returned) or timeout seconds pass (raises)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Response:
    """A bridge API response: status, headers (case-insensitive lookup), raw body, json()."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:200])


class Simulator:
    """One opescare-simulator process. Use as a context manager, or call start() and stop().

    agents: {agent_id: plain key} (hashed here; the process only ever gets the SHA-256);
    agent_hashes: {agent_id: sha256hex} for keys the test does not want to hold;
    facilities: known facility ids (empty: any); clock_offset: seconds added to the simulator's clock;
    https/http: whether those listeners exist; *_port: fixed ports (0 = ephemeral);
    faults: a fault patch applied at start (through --faults-file); extra_args: more flags;
    cert_file/key_file: serve this certificate instead of one made at start, trusted through ca_file
    (default: cert_file itself, right for a self-signed certificate).
    After start(), ca_file is the PEM file an agent should trust, or None when there is no HTTPS listener.
    """

    def __init__(self, tmpdir=None, agents=None, agent_hashes=None, facilities=(), clock_offset=0,
                 timestamp_window=None, https=True, http=True, https_port=0, http_port=0, admin_port=0,
                 faults=None, extra_args=(), binary=None, startup_timeout=20.0, name="simulator",
                 cert_file=None, key_file=None, ca_file=None):
        self.tmpdir = tmpdir or e2e_tmpdir()
        os.makedirs(self.tmpdir, exist_ok=True)
        self.agents = dict(agents or {})
        self.agent_hashes = dict(agent_hashes or {})
        self.facilities = list(facilities)
        self.clock_offset = clock_offset
        self.timestamp_window = timestamp_window
        self.use_https = https
        self.use_http = http
        self._wanted_ports = {"https": https_port if https else -1, "http": http_port if http else -1,
                              "admin": admin_port}
        self.faults_at_start = faults
        self.extra_args = list(extra_args)
        self.binary = binary or simulator_binary()
        self.startup_timeout = startup_timeout
        self.name = name
        self.ready_file = os.path.join(self.tmpdir, name + ".ready.json")
        self.log_path = os.path.join(self.tmpdir, name + ".log")
        self.cert_file, self.key_file = cert_file, key_file
        self.ca_file = ca_file or cert_file or os.path.join(self.tmpdir, name + "-ca.pem")
        self.proc = None
        self.ready = None
        self._ssl_context = None

    # ---- process ----------------------------------------------------------------------------------------

    def command(self):
        args = [self.binary, "--bind", LOOPBACK, "--ready-file", self.ready_file,
                "--https-port", str(self._wanted_ports["https"]), "--http-port", str(self._wanted_ports["http"]),
                "--admin-port", str(self._wanted_ports["admin"]), "--clock-offset", str(int(self.clock_offset))]
        if self.cert_file:
            args += ["--cert", self.cert_file, "--key", self.key_file]
        elif self.use_https:
            args += ["--ca-out", self.ca_file]
        for agent_id, key in self.agents.items():
            args += ["--agent", "%s:%s" % (agent_id, sha256_hex(key))]
        for agent_id, digest in self.agent_hashes.items():
            args += ["--agent", "%s:%s" % (agent_id, digest)]
        for facility in self.facilities:
            args += ["--facility", facility]
        if self.timestamp_window is not None:
            args += ["--timestamp-window", str(int(self.timestamp_window))]
        if self.faults_at_start:
            path = os.path.join(self.tmpdir, self.name + ".faults.json")
            with open(path, "w") as f:
                json.dump(self.faults_at_start, f)
            args += ["--faults-file", path]
        return args + self.extra_args

    def start(self):
        if self.proc is not None:
            raise SimulatorError("already started")
        if os.path.exists(self.ready_file):
            os.unlink(self.ready_file)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while not os.path.exists(self.ready_file):
            if self.proc.poll() is not None:
                self._close_log()
                raise SimulatorError("simulator exited with %s at start:\n%s" % (self.proc.returncode,
                                                                                 self.log_text()[-4000:]))
            if time.monotonic() >= deadline:
                self.stop()
                raise SimulatorError("simulator not ready after %.0f s:\n%s" % (self.startup_timeout,
                                                                                self.log_text()[-4000:]))
            time.sleep(0.02)
        with open(self.ready_file) as f:
            self.ready = json.load(f)
        if not self.use_https:
            self.ca_file = None
        self._ssl_context = None
        return self

    def stop(self, timeout=10.0, sig=signal.SIGTERM):
        """Stops the process (SIGTERM, then SIGKILL after timeout); returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        code = self.proc.returncode
        self.proc = None
        self._close_log()
        return code

    def restart(self):
        """Stops and starts again on the same ports (state starts empty: it is a new process)."""
        ports = dict(self._wanted_ports)
        if self.ready:
            ports = {"https": self.https_port, "http": self.http_port, "admin": self.admin_port}
        self.stop()
        self._wanted_ports = ports
        return self.start()

    def _close_log(self):
        log = getattr(self, "_log", None)
        if log:
            log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    # ---- addresses ----------------------------------------------------------------------------------------

    @property
    def https_port(self):
        return self.ready["https_port"]

    @property
    def http_port(self):
        return self.ready["http_port"]

    @property
    def admin_port(self):
        return self.ready["admin_port"]

    @property
    def pid(self):
        return self.ready["pid"]

    @property
    def https_url(self):
        return "https://%s:%d" % (LOOPBACK, self.https_port)

    @property
    def http_url(self):
        return "http://%s:%d" % (LOOPBACK, self.http_port)

    @property
    def url(self):
        """The server_url an agent should use: HTTPS when enabled, else plain HTTP."""
        return self.https_url if self.use_https else self.http_url

    @property
    def admin_url(self):
        return "http://%s:%d" % (LOOPBACK, self.admin_port)

    def ssl_context(self):
        """A client context trusting only the simulator's CA (with hostname checks)."""
        if self._ssl_context is None:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            self._ssl_context = ctx
        return self._ssl_context

    # ---- admin API -------------------------------------------------------------------------------------------

    def admin(self, method, path, body=None, timeout=30.0):
        """Calls /_sim/<path> on the admin port; returns the decoded JSON, raises on a non-200."""
        conn = http.client.HTTPConnection(LOOPBACK, self.admin_port, timeout=timeout)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            conn.request(method, "/_sim/" + path.lstrip("/"), body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise SimulatorError("%s /_sim/%s -> %d %s" % (method, path, resp.status, data[:500]))
        return json.loads(data)

    def health(self):
        return self.admin("GET", "health")

    def stats(self):
        return self.admin("GET", "stats")

    def heartbeats(self):
        """The last heartbeat requests seen (all outcomes), oldest first; header names lower-case."""
        return self.admin("GET", "heartbeats")

    def requests(self):
        """The last bridge requests seen, oldest first (status, outcome, idempotency_key, times...)."""
        return self.admin("GET", "requests")

    def records(self, page_size=50000):
        """Every unique accepted record: {id: {"type", "data", "source", "batch_id"}}, fetched page by page."""
        out, offset = {}, 0
        for _ in range(100000):
            page = self.admin("GET", "records?offset=%d&limit=%d" % (offset, page_size))
            out.update(page["records"])
            if page["next_offset"] is None:
                return out
            offset = page["next_offset"]
        raise SimulatorError("records paging did not end")

    def record_ids(self):
        """The ids of every unique accepted record, in arrival order."""
        return self.admin("GET", "records?ids_only=1")["ids"]

    def faults(self):
        return self.admin("GET", "faults")

    def set_faults(self, **patch):
        """Merges a fault patch, e.g. set_faults(status=503, count=2, path="sync"); returns the active faults."""
        return self.admin("POST", "faults", patch)

    def clear_faults(self):
        return self.admin("DELETE", "faults")

    def reset(self):
        """Forgets counters, records, batches, heartbeats, requests and faults (agents and clock stay)."""
        return self.admin("POST", "reset", {})

    def configure(self, **patch):
        """Changes agents / facilities / clock_offset_seconds / timestamp_window_seconds at run time."""
        result = self.admin("POST", "config", patch)
        if "clock_offset_seconds" in patch:
            self.clock_offset = patch["clock_offset_seconds"]
        return result

    def add_agent(self, agent_id, key):
        return self.configure(agents={agent_id: sha256_hex(key)})

    def wait_stats(self, timeout=10.0, **at_least):
        """Waits until every named counter is >= its value, e.g. wait_stats(heartbeats=2); returns the stats."""
        holder = {}

        def check():
            holder["stats"] = self.stats()
            return all(holder["stats"].get(k, 0) >= v for k, v in at_least.items())

        wait_until(check, timeout, what="simulator stats %r (last: %r)" % (at_least, holder.get("stats")))
        return holder["stats"]

    # ---- a minimal bridge client, for testing the simulator and for tests that need a raw request ----------

    def bridge_request(self, path, body, agent_id=None, key=None, timestamp=None, tls=True, gzip_body=False,
                       idempotency_key=None, headers=None, content_type="application/json", timeout=10.0,
                       omit=()):
        """Sends one request like the agent would; returns a Response. `omit` drops named default headers.

        body may be bytes (sent as is) or a JSON-able object. timestamp defaults to the local clock.
        """
        raw = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
        if gzip_body:
            raw = gzip_module.compress(raw)
        hdrs = {}
        if agent_id is not None:
            hdrs["X-Bridge-Agent-ID"] = agent_id
        if key is not None:
            hdrs["X-Bridge-Agent-Key"] = key
        hdrs["X-Bridge-Timestamp"] = str(int(time.time()) if timestamp is None else timestamp)
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        hdrs["Accept"] = "application/json"
        if gzip_body:
            hdrs["Content-Encoding"] = "gzip"
        if idempotency_key is not None:
            hdrs["Idempotency-Key"] = idempotency_key
        hdrs.update(headers or {})
        for name in omit:
            hdrs.pop(name, None)
        if tls:
            conn = http.client.HTTPSConnection(LOOPBACK, self.https_port, timeout=timeout,
                                               context=self.ssl_context())
        else:
            conn = http.client.HTTPConnection(LOOPBACK, self.http_port, timeout=timeout)
        try:
            conn.request("POST", path, body=bytes(raw), headers=hdrs)
            resp = conn.getresponse()
            try:
                return Response(resp.status, resp.getheaders(), resp.read())
            finally:
                resp.close()
        finally:
            conn.close()

    def heartbeat(self, agent_id, key, facility_id="fac-1", version="1.0.0", status=None, **kw):
        body = {"agent_id": agent_id, "facility_id": facility_id, "version": version}
        if status is not None:
            body["status"] = status
        return self.bridge_request(HEARTBEAT_PATH, body, agent_id, key, **kw)

    def sync(self, agent_id, key, records, facility_id="fac-1", batch_id=None, **kw):
        """Sends one sync batch; batch_id (also the Idempotency-Key) is a fresh UUID unless given."""
        batch_id = batch_id or str(uuid.uuid4())
        body = {"agent_id": agent_id, "facility_id": facility_id, "batch_id": batch_id,
                "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "records": records}
        kw.setdefault("idempotency_key", batch_id)
        return self.bridge_request(SYNC_PATH, body, agent_id, key, **kw)


def patient(record_id, **data):
    """A valid patient record (overridable fields), for quick sync bodies."""
    fields = {"first_name": "Marie", "last_name": "Fouda", "dob": "1990-07-22", "sex": "female"}
    fields.update(data)
    return {"id": record_id, "type": "patient", "source": {"file": "patients_20261129.csv", "row": 2},
            "data": fields}
