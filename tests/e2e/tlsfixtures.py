"""Test support for TLS and proxy end-to-end tests: a raw TLS listener that records what reached it, a
tinyproxy process on loopback, and running an agent command while measuring its peak memory (stdlib only).

    with TlsListener(cert, key) as server:          # never answers unless given reply=
        ...agent with server_url=server.url...
        server.wait_connections(1, timeout=10)
        assert server.app_bytes() == b""           # nothing left the agent: the key never did
"""

import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import warnings

from agentproc import agent_binary, agent_env
from simulator import LOOPBACK, free_port, wait_until

MAX_RECORDED_BYTES = 1 << 20  # per listener: enough for any request the agent sends, bounded anyway
CONNECTION_TIMEOUT = 5.0      # seconds a connection may stay silent before the listener drops it


class TlsListener:
    """A TLS server on 127.0.0.1 that accepts connections, tries the handshake and records every
    application byte that arrives after it. It never answers, unless `reply` is given: raw HTTP bytes, or a
    function returning an iterable of byte pieces; then it answers the first complete request and closes.

    max_version/min_version: ssl.TLSVersion bounds (e.g. maximum TLSv1_1 with legacy=True, which also
    lowers the security level so that OpenSSL 3 agrees to serve TLS 1.0/1.1)."""

    def __init__(self, cert, key, min_version=None, max_version=None, legacy=False, reply=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1/TLSv1_1 are deprecated on purpose
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            if legacy:
                ctx.set_ciphers("ALL:@SECLEVEL=0")
            if min_version is not None:
                ctx.minimum_version = min_version
            if max_version is not None:
                ctx.maximum_version = max_version
        ctx.load_cert_chain(cert, key)
        self._ctx = ctx
        self._reply = reply
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._bytes = bytearray()
        self.connections = 0        # TCP connections accepted
        self.handshakes = 0         # TLS handshakes completed (server side)
        self.handshake_errors = []  # why the others failed, as the ssl module says
        self.versions = []          # negotiated TLS versions of the completed handshakes
        self._sock = None

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((LOOPBACK, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)  # so the accept loop notices stop() promptly
        t = threading.Thread(target=self._accept_loop, name="tls-listener", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in list(self._threads):
            t.join(timeout=CONNECTION_TIMEOUT + 2)
        if self._sock:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._sock.getsockname()[1]

    @property
    def url(self):
        return "https://%s:%d" % (LOOPBACK, self.port)

    # ---- what arrived ------------------------------------------------------------------------------------

    def app_bytes(self):
        """Every application byte received so far, over all connections (decrypted)."""
        with self._lock:
            return bytes(self._bytes)

    def wait_connections(self, count, timeout=10.0):
        """Waits until `count` connections were accepted and done with (handshake finished or failed)."""
        def done():
            with self._lock:
                return self.handshakes + len(self.handshake_errors) >= count
        wait_until(done, timeout, what="%d TLS connection(s) on port %d" % (count, self.port))

    # ---- serving -----------------------------------------------------------------------------------------

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), name="tls-conn", daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn):
        conn.settimeout(CONNECTION_TIMEOUT)
        try:
            try:
                tls = self._ctx.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as e:
                with self._lock:
                    self.handshake_errors.append(str(e) or type(e).__name__)
                return
            with self._lock:
                self.handshakes += 1
                self.versions.append(tls.version())
            self._read_requests(tls)
            tls.close()
        finally:
            conn.close()

    def _read_requests(self, tls):
        pending = bytearray()
        deadline = time.monotonic() + CONNECTION_TIMEOUT
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                data = tls.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                return
            if not data:
                return
            with self._lock:
                room = MAX_RECORDED_BYTES - len(self._bytes)
                self._bytes += data[:max(room, 0)]
            pending += data
            if self._reply is not None and _complete_request(pending):
                try:
                    reply = self._reply() if callable(self._reply) else [self._reply]
                    for piece in reply:
                        tls.sendall(piece)
                except (socket.timeout, ssl.SSLError, OSError):
                    pass  # the client hung up mid-answer (e.g. a size limit): what the test wanted to see
                return


def _complete_request(buf):
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", bytes(buf[:head_end]))
    length = int(m.group(1)) if m else 0
    return len(buf) >= head_end + 4 + length


def http_reply(status=200, body=b'{"ok":true}', reason="OK"):
    """A complete HTTP/1.1 response (JSON body, Connection: close) for TlsListener(reply=...)."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    head = ("HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (status, reason, date, len(body)))
    return head.encode() + body


def chunked_reply(total_bytes, chunk_bytes=64 * 1024):
    """The pieces of a 200 answer whose body (a JSON string of total_bytes) is sent chunked, with no
    Content-Length: a client can only find out it is too large by counting while it reads. A generator, so
    that a huge answer is never held in memory (use as TlsListener(reply=lambda: chunked_reply(n)))."""
    yield (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n")
    filler = b"x" * chunk_bytes
    left = max(total_bytes, 2)
    first = True
    while left > 0:
        n = min(chunk_bytes, left)
        piece = bytearray(filler[:n])
        if first:
            piece[0:1] = b'"'
            first = False
        left -= n
        if left == 0:
            piece[-1:] = b'"'
        yield b"%x\r\n" % n + bytes(piece) + b"\r\n"
    yield b"0\r\n\r\n"


# ---- tinyproxy -------------------------------------------------------------------------------------------------

def tinyproxy_binary():
    for path in ("/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"):
        if os.access(path, os.X_OK):
            return path
    return None


class Tinyproxy:
    """Debian's tinyproxy on a free loopback port, in the foreground (-d), with a temporary configuration.
    connect_ports: the ports CONNECT may reach (empty: tinyproxy allows any port)."""

    def __init__(self, tmpdir, connect_ports=(), name="tinyproxy"):
        self.binary = tinyproxy_binary()
        if self.binary is None:
            raise RuntimeError("tinyproxy is not installed")
        self.port = free_port()
        self.conf = os.path.join(tmpdir, name + ".conf")
        self.log_path = os.path.join(tmpdir, name + ".log")
        lines = ["Port %d" % self.port, "Listen 127.0.0.1", "Timeout 15", "MaxClients 10", "LogLevel Info",
                 'LogFile "%s"' % self.log_path, "DisableViaHeader Yes", "Allow 127.0.0.1"]
        lines += ["ConnectPort %d" % p for p in connect_ports]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    @property
    def url(self):
        return "http://%s:%d" % (LOOPBACK, self.port)

    def start(self):
        self.proc = subprocess.Popen([self.binary, "-d", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError("tinyproxy exited with %s:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_until(listening, 10, interval=0.05, what="tinyproxy listening on %d" % self.port)
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def connect_requests(self):
        """The CONNECT targets ("host:port") tinyproxy logged, oldest first."""
        return re.findall(r"Request \(file descriptor \d+\): CONNECT (\S+) HTTP/", self.log_text())


# ---- a command with its peak memory ----------------------------------------------------------------------------

class Measured:
    """What run_measured saw: returncode, stdout, stderr, elapsed seconds, peak RSS in KiB."""

    def __init__(self, returncode, stdout, stderr, elapsed, max_rss_kib):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.max_rss_kib = max_rss_kib

    @property
    def max_rss_mib(self):
        return self.max_rss_kib / 1024.0


def run_measured(args, config=None, key=None, env=None, timeout=60.0):
    """Runs `opescare-bridge [--config F] ARGS` like agentproc.run_cli, and also reports its wall time and
    peak resident memory (from wait4's rusage of that very child, not of every child ever reaped)."""
    cmd = [agent_binary()] + list(args)
    if config:
        cmd += ["--config", config]
    out_dir = os.path.dirname(config) if config else None
    with tempfile.TemporaryFile(dir=out_dir) as out, tempfile.TemporaryFile(dir=out_dir) as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=agent_env(key, env), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        deadline = started + timeout
        status, usage = 0, None
        while True:  # bounded by the deadline; wait4 itself has no timeout
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.monotonic() >= deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                raise AssertionError("%s did not finish within %.0f s" % (" ".join(args), timeout))
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"), elapsed, usage.ru_maxrss)
