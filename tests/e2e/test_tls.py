"""End to end (issue 3): the real agent against broken TLS servers, HTTP CONNECT proxies and hostile answers.

Each case runs `opescare-bridge heartbeat --config F` (or `run`) at log level trace and checks the exit code,
the precise reason it prints, that a refused server never received one application byte (the key never left),
and that no output or log ever holds the key.
"""

import datetime
import os
import re
import shutil
import socket
import ssl
import unittest
import warnings

from agentproc import Agent, run_cli, write_config
from certs import concat_pem, make_ca, make_self_signed
from simulator import Simulator, e2e_tmpdir, free_port, make_agent_key, wait_until
from tlsfixtures import Tinyproxy, TlsListener, chunked_reply, http_reply, run_measured, tinyproxy_binary

EXIT_NOT_CONNECTED = 3
DAY = datetime.timedelta(days=1)


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def detail_line(stdout):
    m = re.search(r"^detail:\s+(.*)$", stdout, re.M)
    return m.group(1) if m else ""


class AgentCase(unittest.TestCase):
    """Helpers shared by the test classes: a heartbeat command that never shows the key."""

    def setUp(self):
        self.tmp = e2e_tmpdir("tls-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)  # failures print what matters
        self.key, _ = make_agent_key()

    def config(self, server_url, ca_file=None, **overrides):
        http = dict(overrides.pop("http", {}))
        if ca_file:
            http["ca_file"] = ca_file
        return write_config(self.tmp, None, server_url=server_url, log_level="trace", http=http, **overrides)

    def heartbeat(self, cfg, env=None, key=None):
        r = run_cli(["heartbeat"], cfg, key=key or self.key, env=env, timeout=60)
        self.show(r)
        self.assert_no_key(r.stdout + r.stderr)
        return r

    def show(self, r, rss=False):
        if os.environ.get("OB_E2E_VERBOSE"):  # for a person reading a run: what the command printed
            print("\n--- %s (exit %d)\n%s%s" % (self.id(), r.returncode, r.stdout, r.stderr[-3000:]))
            if rss:
                print("    peak RSS %.1f MiB, %.2f s" % (r.max_rss_mib, r.elapsed))

    def assert_no_key(self, text):
        self.assertTrue(text is not None)
        self.assertNotIn(self.key, text, "the agent key appeared in output or logs")

    def assert_outcome(self, r, state, code=EXIT_NOT_CONNECTED):
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^outcome:  %s(?!\w)" % state, r.stdout)


class CertificateTest(AgentCase):
    """A server whose certificate the agent must refuse gets a TLS alert and not one request byte."""

    @classmethod
    def setUpClass(cls):
        cls.pki = e2e_tmpdir("tls-pki-")
        now = datetime.datetime.now(datetime.timezone.utc)
        cls.ca = make_ca(cls.pki, "trusted-root", cn="OB E2E Trusted Root")
        cls.valid = cls.ca.issue("valid", hosts=("127.0.0.1", "localhost"))
        cls.expired = cls.ca.issue("expired", not_before=now - 60 * DAY, not_after=now - DAY)
        cls.not_yet_valid = cls.ca.issue("not-yet-valid", not_before=now + DAY, not_after=now + 30 * DAY)
        cls.wrong_host = cls.ca.issue("wrong-host", hosts=("api.opescare.test",))
        cls.self_signed = make_self_signed(cls.pki, "self-signed", hosts=("127.0.0.1", "localhost"))
        cls.other_root = make_ca(cls.pki, "untrusted-root", cn="OB E2E Untrusted Root")
        cls.by_other_root = cls.other_root.issue("by-untrusted-root")
        cls.by_other_root_chain = concat_pem(os.path.join(cls.pki, "by-untrusted-root-chain.pem"),
                                             cls.by_other_root[0], cls.other_root.cert)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki, ignore_errors=True)

    def refused(self, cert, key, expected, state="tls_error", **listener_options):
        """Heartbeat against a raw listener serving cert/key: exit 3, outcome `state`, every regex of
        `expected` in the detail line, the listener reached but given zero application bytes."""
        with TlsListener(cert, key, **listener_options) as server:
            cfg = self.config(server.url, ca_file=self.ca.cert)
            r = self.heartbeat(cfg)
            self.assert_outcome(r, state)
            detail = detail_line(r.stdout)
            for rx in expected:
                self.assertRegex(detail, rx, r.stdout)
            server.wait_connections(1, timeout=10)  # it did reach the server (the refusal is TLS's)...
            self.assertEqual(server.handshakes, 0, server.versions)
            self.assertEqual(server.app_bytes(), b"")  # ...and sent nothing: the key never left
            self.assertNotIn("heartbeat accepted", r.stdout)
            for line in re.findall(r"(?m)^tls:.*$", r.stdout):  # never presented as an established session
                self.assertRegex(line, r"^tls:\s+not established, refused certificate CN=")
        return r

    def test_expired_certificate_is_refused_before_any_byte(self):
        self.refused(*self.expired, [r"certificate has expired", r"notAfter=\d{4}-\d\d-\d\d"])

    def test_not_yet_valid_certificate_is_refused_before_any_byte(self):
        self.refused(*self.not_yet_valid, [r"not yet valid", r"notBefore=\d{4}-\d\d-\d\d"])

    def test_wrong_host_certificate_is_refused_before_any_byte(self):
        self.refused(*self.wrong_host,
                     [r"hostname mismatch: certificate is for api\.opescare\.test, not 127\.0\.0\.1"])

    def test_self_signed_certificate_is_refused_before_any_byte(self):
        self.refused(*self.self_signed, [r"self-signed certificate", r"CN=127\.0\.0\.1", r"http\.ca_file"])

    def test_untrusted_root_is_refused_before_any_byte(self):
        # The server sends its chain up to a root the agent does not trust.
        self.refused(self.by_other_root_chain, self.by_other_root[1],
                     [r"untrusted root", r"OB E2E Untrusted Root", r"http\.ca_file"])
        # The server sends only its leaf, signed by a CA the agent does not know.
        self.refused(*self.by_other_root, [r"OB E2E Untrusted Root", r"not a trusted CA"])

    def test_server_offering_only_tls_1_0_and_1_1_is_refused_before_any_byte(self):
        # A certificate the agent would accept: the protocol version alone is the reason.
        legacy = dict(min_version=ssl.TLSVersion.TLSv1, max_version=ssl.TLSVersion.TLSv1_1, legacy=True)
        self.refused(*self.valid, [r"no TLS version 1\.2 or newer"], **legacy)
        # The control: such a listener really does speak TLS 1.1 to a client that accepts it (so the refusal
        # above is the agent's TLS 1.2 floor, not a listener that cannot serve at all).
        with TlsListener(*self.valid, **legacy) as server, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            client.load_verify_locations(self.ca.cert)
            client.set_ciphers("ALL:@SECLEVEL=0")
            client.minimum_version = ssl.TLSVersion.TLSv1
            client.maximum_version = ssl.TLSVersion.TLSv1_1
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
                    client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                self.assertEqual(tls.version(), "TLSv1.1")
            server.wait_connections(1, timeout=10)
            self.assertEqual(server.versions, ["TLSv1.1"])

    def test_listener_does_see_the_request_when_the_certificate_is_good(self):
        # The control for the cases above: with a certificate it trusts, the agent does send its request
        # (so "zero bytes" above means "refused", not "the listener cannot see").
        with TlsListener(*self.valid, reply=http_reply(200)) as server:
            r = self.heartbeat(self.config(server.url, ca_file=self.ca.cert))
            self.assert_outcome(r, "connected", code=0)
            received = server.app_bytes().lower()
            self.assertIn(b"post /api/v1/bridge/heartbeat", received)
            self.assertIn(b"x-bridge-agent-key: " + self.key.lower().encode(), received)
            self.assertIn(server.versions[0], ("TLSv1.2", "TLSv1.3"))

    def test_valid_chain_from_a_custom_ca_via_ca_file_is_accepted(self):
        intermediate = self.ca.intermediate("e2e-intermediate", cn="OB E2E Intermediate")
        leaf_cert, leaf_key = intermediate.issue("sim-leaf", hosts=("127.0.0.1", "localhost"))
        chain = concat_pem(os.path.join(self.tmp, "sim-chain.pem"), leaf_cert, intermediate.cert)
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False,
                       extra_args=["--cert", chain, "--key", leaf_key]) as sim:
            # Only the root is trusted: the intermediate comes from the server, as in production.
            cfg = self.config(sim.https_url, ca_file=self.ca.cert)
            r = self.heartbeat(cfg)
            self.assert_outcome(r, r"connected \(HTTP 200\)", code=0)
            self.assertRegex(r.stdout, r"(?m)^tls:\s+TLSv1\.[23], certificate CN=127\.0\.0\.1")
            self.assertEqual(sim.stats()["heartbeats"], 1)
            # Without ca_file the same server is not trusted (the system store does not know this CA).
            r = self.heartbeat(self.config(sim.https_url))
            self.assert_outcome(r, "tls_error")
            self.assertRegex(detail_line(r.stdout), r"OB E2E Intermediate|OB E2E Trusted Root")
            self.assertEqual(sim.stats()["heartbeats"], 1)
            self.assert_no_key(sim.log_text())

    def test_daemon_logs_tls_error_once_and_keeps_running(self):
        log_file = os.path.join(self.tmp, "agent-daemon.log")
        with TlsListener(*self.expired) as server:
            cfg = self.config(server.url, ca_file=self.ca.cert, heartbeat_interval_seconds=5,
                              log={"file": log_file})

            def log_text():
                return read_text(log_file)

            with Agent(cfg, key=self.key) as agent:
                wait_until(lambda: "connection: tls_error" in log_text() or not agent.alive(), 20,
                           what="connection: tls_error in the daemon's log file")
                self.assertTrue(agent.alive(), agent.log_text() + log_text())
                # The next beat (5 s +-10 %) meets the same certificate: refused again, logged no more.
                server.wait_connections(2, timeout=15)
                self.assertTrue(agent.alive())
                text = log_text()
                self.assertEqual(text.count("connection: tls_error"), 1, text[-3000:])
                self.assertIn("certificate has expired", text)
                self.assertEqual(server.app_bytes(), b"")
                self.assertEqual(agent.stop(), 0)
            self.assert_no_key(log_text())
            self.assert_no_key(agent.log_text())
            self.assertIn("TRACE", log_text().upper())  # trace really was on: the check above means something


@unittest.skipUnless(tinyproxy_binary(), "tinyproxy is not installed")
class ProxyTest(AgentCase):
    """HTTPS through an HTTP CONNECT proxy (Debian's tinyproxy on loopback)."""

    def test_http_proxy_setting_is_used_and_the_heartbeat_accepted(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim, \
                Tinyproxy(self.tmp, connect_ports=[sim.https_port]) as proxy:
            cfg = self.config(sim.https_url, ca_file=sim.ca_file, http={"proxy": proxy.url})
            r = self.heartbeat(cfg)
            self.assert_outcome(r, r"connected \(HTTP 200\)", code=0)
            self.assertEqual(proxy.connect_requests(), ["127.0.0.1:%d" % sim.https_port], proxy.log_text())
            self.assertEqual(sim.stats()["heartbeats"], 1)
            self.assert_no_key(proxy.log_text())

    def test_https_proxy_environment_variable_is_honoured(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim, \
                Tinyproxy(self.tmp, connect_ports=[sim.https_port]) as proxy:
            cfg = self.config(sim.https_url, ca_file=sim.ca_file)
            r = self.heartbeat(cfg, env={"HTTPS_PROXY": proxy.url})
            self.assert_outcome(r, "connected", code=0)
            self.assertEqual(proxy.connect_requests(), ["127.0.0.1:%d" % sim.https_port], proxy.log_text())
            # The lower-case spelling, as curl and most tools accept it, too.
            r = self.heartbeat(cfg, env={"https_proxy": "127.0.0.1:%d" % proxy.port})
            self.assert_outcome(r, "connected", code=0)
            self.assertEqual(len(proxy.connect_requests()), 2, proxy.log_text())

    def test_no_proxy_bypasses_the_proxy(self):
        dead = free_port()  # nothing listens there: going through it could not succeed
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            cfg = self.config(sim.https_url, ca_file=sim.ca_file)
            proxy = "http://127.0.0.1:%d" % dead
            r = self.heartbeat(cfg, env={"HTTPS_PROXY": proxy})
            self.assert_outcome(r, "unreachable")  # the control: without NO_PROXY the dead proxy is used
            self.assertIn("proxy 127.0.0.1:%d" % dead, detail_line(r.stdout))
            r = self.heartbeat(cfg, env={"HTTPS_PROXY": proxy, "NO_PROXY": "localhost,127.0.0.1"})
            self.assert_outcome(r, "connected", code=0)
            r = self.heartbeat(cfg, env={"https_proxy": proxy, "no_proxy": "127.0.0.1"})
            self.assert_outcome(r, "connected", code=0)
            # A NO_PROXY naming another host leaves the proxy in use.
            r = self.heartbeat(cfg, env={"HTTPS_PROXY": proxy, "NO_PROXY": "example.invalid"})
            self.assert_outcome(r, "unreachable")
            self.assertEqual(sim.stats()["heartbeats"], 2)

    def test_daemon_through_the_proxy_connects_and_its_trace_log_hides_the_key(self):
        log_file = os.path.join(self.tmp, "agent-daemon.log")
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim, \
                Tinyproxy(self.tmp, connect_ports=[sim.https_port]) as proxy:
            cfg = self.config(sim.https_url, ca_file=sim.ca_file, http={"proxy": proxy.url}, log={"file": log_file})
            with Agent(cfg, key=self.key) as agent:
                wait_until(lambda: "connection: connected" in read_text(log_file) or not agent.alive(), 20,
                           what="connection: connected in the daemon's log file")
                self.assertTrue(agent.alive(), agent.log_text() + read_text(log_file))
                self.assertEqual(agent.stop(), 0)
            text = read_text(log_file)
            self.assertIn("CONNECT 127.0.0.1:%d via proxy 127.0.0.1:%d" % (sim.https_port, proxy.port), text)
            self.assertIn("X-Bridge-Agent-Key: ***", text)  # trace shows the request headers, the key hidden
            self.assert_no_key(text)
            self.assert_no_key(agent.log_text())
            self.assertIn("127.0.0.1:%d" % sim.https_port, proxy.connect_requests())
            self.assertGreaterEqual(sim.stats()["heartbeats"], 1)

    def test_wrong_proxy_address_is_unreachable_and_names_the_proxy(self):
        dead = free_port()
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            cfg = self.config(sim.https_url, ca_file=sim.ca_file, http={"proxy": "http://127.0.0.1:%d" % dead})
            r = self.heartbeat(cfg)
            self.assert_outcome(r, "unreachable")
            self.assertIn("proxy 127.0.0.1:%d refused the connection" % dead, detail_line(r.stdout))
            self.assertEqual(sim.stats()["heartbeat_requests"], 0)

    def test_proxy_refusing_the_connect_is_named(self):
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim, \
                Tinyproxy(self.tmp, connect_ports=[443]) as proxy:  # not the simulator's port
            cfg = self.config(sim.https_url, ca_file=sim.ca_file, http={"proxy": proxy.url})
            r = self.heartbeat(cfg)
            self.assert_outcome(r, "unreachable")
            self.assertIn("proxy 127.0.0.1:%d refused CONNECT to 127.0.0.1:%d: 403"
                          % (proxy.port, sim.https_port), detail_line(r.stdout))
            self.assertEqual(proxy.connect_requests(), ["127.0.0.1:%d" % sim.https_port])
            self.assertEqual(sim.stats()["heartbeat_requests"], 0)


class HostileServerTest(AgentCase):
    """Garbage, a 10 MB answer, or no answer at all: a clear error, a timeout that fires, bounded memory.

    Memory is the heartbeat command's peak RSS (wait4 rusage) compared with a plain accepted heartbeat of the
    same build, so that a sanitizer build's larger baseline does not matter."""

    REFUSED_UP_FRONT_MIB = 16  # a Content-Length above the limit: nothing of the body may be buffered
    READ_TO_LIMIT_MIB = 64     # a chunked body read up to the 8 MiB limit (measured: +7 to +34 MiB)

    @classmethod
    def setUpClass(cls):
        cls.tmp_class = e2e_tmpdir("tls-hostile-")
        cls.key_class, _ = make_agent_key()
        cls.sim = Simulator(cls.tmp_class, agents={"agt_1": cls.key_class}, http=False).start()
        cls.baseline = None

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        shutil.rmtree(cls.tmp_class, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.key = self.key_class
        self.sim.clear_faults()
        if HostileServerTest.baseline is None:
            m = self.measured_heartbeat()
            self.assert_outcome(m, r"connected \(HTTP 200\)", code=0)
            HostileServerTest.baseline = m.max_rss_mib

    def measured_heartbeat(self, server_url=None, ca_file=None, **overrides):
        cfg = self.config(server_url or self.sim.https_url, ca_file=ca_file or self.sim.ca_file, **overrides)
        m = run_measured(["heartbeat"], cfg, key=self.key, timeout=60)
        self.show(m, rss=True)
        self.assert_no_key(m.stdout + m.stderr)
        return m

    def assert_memory_within(self, m, extra_mib):
        self.assertLess(m.max_rss_mib, self.baseline + extra_mib,
                        "peak RSS %.1f MiB, a plain heartbeat's %.1f MiB" % (m.max_rss_mib, self.baseline))

    def test_garbage_answer_is_a_clear_server_error(self):
        before = self.sim.stats()["heartbeats"]
        self.sim.set_faults(garbage=1)
        m = self.measured_heartbeat()
        self.assert_outcome(m, "server_error")
        self.assertIn("127.0.0.1:%d sent a malformed HTTP response" % self.sim.https_port, detail_line(m.stdout))
        self.assertEqual(self.sim.stats()["heartbeats"], before)
        self.assert_memory_within(m, self.REFUSED_UP_FRONT_MIB)

    def test_ten_megabyte_answer_is_refused_with_bounded_memory(self):
        self.sim.set_faults(oversized_body_bytes=10 * 1024 * 1024)
        m = self.measured_heartbeat()
        self.assert_outcome(m, "server_error")
        self.assertIn("response from 127.0.0.1:%d is larger than %d bytes" % (self.sim.https_port, 8 * 1024 * 1024),
                      detail_line(m.stdout))
        self.assert_memory_within(m, self.REFUSED_UP_FRONT_MIB)
        # With a lower limit the refusal comes from the configured value, not a constant.
        self.sim.set_faults(oversized_body_bytes=200 * 1024)
        m = self.measured_heartbeat(http={"max_response_bytes": 64 * 1024})
        self.assert_outcome(m, "server_error")
        self.assertIn("larger than %d bytes" % (64 * 1024), detail_line(m.stdout))

    def test_chunked_answers_of_10_and_128_megabytes_are_cut_at_the_limit_with_bounded_memory(self):
        # No Content-Length to refuse up front: the limit must hold while reading. The 128 MB answer (streamed,
        # never held by the test) would need over 128 MiB in a client without a limit.
        cert, key = make_self_signed(self.tmp, "chunky", hosts=("127.0.0.1",))
        for size in (10 * 1024 * 1024, 128 * 1024 * 1024):
            with self.subTest(size=size), TlsListener(cert, key, reply=lambda: chunked_reply(size)) as server:
                m = self.measured_heartbeat(server.url, ca_file=cert)
                self.assert_outcome(m, "server_error")
                self.assertIn("response from 127.0.0.1:%d is larger than %d bytes" % (server.port, 8 * 1024 * 1024),
                              detail_line(m.stdout))
                self.assert_memory_within(m, self.READ_TO_LIMIT_MIB)

    def test_server_that_never_answers_times_out_on_time(self):
        before = self.sim.stats()["heartbeats"]
        self.sim.set_faults(hang=1)
        m = self.measured_heartbeat(http={"connect_timeout_seconds": 3, "request_timeout_seconds": 3})
        self.assert_outcome(m, "unreachable")
        self.assertIn("no complete response from 127.0.0.1:%d within 3 s" % self.sim.https_port, detail_line(m.stdout))
        # Not before the timeout (timers never fire early); which timeout fired is in the message above, and
        # run_measured's deadline bounds it above: no upper bound that a loaded machine could miss.
        self.assertGreaterEqual(m.elapsed, 2.8)
        self.assert_memory_within(m, self.REFUSED_UP_FRONT_MIB)
        self.assertEqual(self.sim.stats()["heartbeats"], before)


if __name__ == "__main__":
    unittest.main()
