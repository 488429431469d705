"""End to end: a server whose error messages quote the agent key (issue 10 point 5). The key must not appear
on the status page, in /status.json, /readyz, /metrics, `status`, `status --json`, `heartbeat`, `doctor`
or the log: every text that came from outside is redacted wherever it is shown."""

import json
import os
import unittest
import urllib.request

from agentproc import Agent, run_cli, write_config
from certs import make_self_signed
from simulator import e2e_tmpdir, free_port, make_agent_key, wait_until
from tlsfixtures import TlsListener, http_reply


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:  # /readyz answers 503 while not ready: its body is what we read
        return e.read().decode("utf-8", "replace")


class RedactionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("redact-")
        self.key, _ = make_agent_key()
        self.cert, self.cert_key = make_self_signed(self.tmp)
        # A misbehaving server: it refuses the key and quotes it back, in the error code and the message.
        body = json.dumps({"error": "bridge_token_invalid " + self.key,
                           "message": "agent key %s was revoked on 2026-11-30" % self.key,
                           "status": 401}).encode()
        self.server = TlsListener(self.cert, self.cert_key, reply=lambda: [http_reply(401, body, "Unauthorized")])
        self.server.start()
        self.addCleanup(self.server.stop)

    def config(self):
        # A fixed port, so that `status` finds the running agent.
        cfg = write_config(self.tmp, None, server_url=self.server.url, status={"listen": "127.0.0.1:%d" % free_port()},
                           http={"ca_file": self.cert, "connect_timeout_seconds": 3, "request_timeout_seconds": 5})
        incoming = os.path.join(self.tmp, "incoming")
        os.makedirs(incoming, exist_ok=True)
        with open(os.path.join(incoming, "patients_redact.csv"), "w") as f:
            f.write("first_name,last_name,dob,sex\nMarie,Fouda,1990-07-22,female\n")
        return cfg

    def assertNoKey(self, text, where):
        self.assertNotIn(self.key, text, "the agent key shows in %s" % where)

    def test_the_key_quoted_by_the_server_is_shown_nowhere(self):
        cfg = self.config()
        with Agent(cfg, key=self.key) as agent:
            base = agent.status_url()
            agent.wait_log(r"heartbeat: unauthorized|connection: unauthorized", timeout=20)
            # The server's words reach the status page (so the check below is not vacuous), redacted.
            status = wait_until(lambda: (lambda s: s if s["connection"]["last_error_message"] else None)(
                json.loads(fetch(base + "/status.json"))), 15, what="the server's message in status.json")
            self.assertIn("was revoked", status["connection"]["last_error_message"])
            self.assertIn("***", status["connection"]["last_error_message"])
            wait_until(lambda: json.loads(fetch(base + "/status.json"))["delivery"]["paused"], 20,
                       what="delivery paused by the 401")
            for path in ("/", "/status.json", "/readyz", "/metrics"):
                self.assertNoKey(fetch(base + path), path)
            for args in (["status"], ["status", "--json"]):
                r = run_cli(args, config=cfg, key=self.key)
                self.assertIn("unauthorized", r.stdout + r.stderr)
                self.assertNoKey(r.stdout + r.stderr, " ".join(args))
            self.assertEqual(agent.stop(), 0)
            self.assertNoKey(agent.log_text(), "the log")
        r = run_cli(["heartbeat"], config=cfg, key=self.key)
        self.assertIn("was revoked", r.stdout)
        self.assertIn("***", r.stdout)
        self.assertNoKey(r.stdout + r.stderr, "heartbeat")
        r = run_cli(["doctor"], config=cfg, key=self.key)
        self.assertNoKey(r.stdout + r.stderr, "doctor")
        r = run_cli(["dead-letters", "list"], config=cfg, key=self.key)
        self.assertNoKey(r.stdout + r.stderr, "dead-letters list")


if __name__ == "__main__":
    unittest.main()
