"""End-to-end tests of the opescare-simulator itself: strict checks, de-duplication, counters and faults.

Run: OB_SIMULATOR=.../opescare-simulator python3 -m unittest -v test_simulator (cwd tests/e2e).
"""

import email.utils
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import unittest
import uuid
import warnings

from simulator import (HEARTBEAT_PATH, SYNC_PATH, Simulator, SimulatorError, e2e_tmpdir, make_agent_key, patient,
                       sha256_hex, simulator_binary, wait_until)

AGENT = "agt_test"
KEY, KEY_HASH = make_agent_key()
OTHER_KEY, _ = make_agent_key()


class SharedSimulator(unittest.TestCase):
    """One simulator for the class; every test starts from a reset state."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = e2e_tmpdir("test-simulator-")
        cls.sim = Simulator(cls.tmp, agents={AGENT: KEY}).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.sim.stop()
        log = cls.sim.log_text()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, "simulator exit code %r" % code
        assert KEY not in log and OTHER_KEY not in log, "an agent key reached the simulator log"

    def setUp(self):
        self.sim.reset()

    def hb(self, **kw):
        return self.sim.heartbeat(AGENT, KEY, **kw)

    def sync(self, records, **kw):
        return self.sim.sync(AGENT, KEY, records, **kw)


class StartupTest(SharedSimulator):
    def test_ready_file_ports_and_ca(self):
        ready = self.sim.ready
        for name in ("https_port", "http_port", "admin_port"):
            self.assertGreater(ready[name], 0)
        self.assertEqual(ready["ca_file"], self.sim.ca_file)
        with open(self.sim.ca_file) as f:
            self.assertIn("BEGIN CERTIFICATE", f.read())
        self.assertEqual(self.sim.health(), {"ok": True})

    def test_certificate_names_localhost_and_loopback_ips(self):
        ctx = self.sim.ssl_context()
        for host in ("localhost", "127.0.0.1"):
            with socket.create_connection(("127.0.0.1", self.sim.https_port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname=host) as tls:
                    self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))
        with socket.create_connection(("127.0.0.1", self.sim.https_port), timeout=5) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname="opescare.test")

    def test_refuses_tls_below_1_2(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.sim.ca_file)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError):
            self.skipTest("this Python/OpenSSL cannot offer TLS 1.1")
        with socket.create_connection(("127.0.0.1", self.sim.https_port), timeout=5) as raw:
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                ctx.wrap_socket(raw, server_hostname="localhost")
        stats = self.sim.wait_stats(tls_handshake_failures=1)
        self.assertEqual(stats["requests_total"], 0)

    def test_admin_port_serves_only_admin(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.sim.admin_port, timeout=5)
        conn.request("POST", HEARTBEAT_PATH, body=b"{}", headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 404)
        self.assertEqual(json.loads(resp.read())["error"], "not_found")
        conn.close()

    def test_admin_api_also_on_bridge_listeners(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.sim.https_port, timeout=5,
                                           context=self.sim.ssl_context())
        conn.request("GET", "/_sim/stats")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertIn("heartbeats", json.loads(resp.read()))
        conn.close()

    def test_unknown_endpoint_and_method(self):
        r = self.sim.bridge_request("/api/v1/bridge/nothing", {}, AGENT, KEY)
        self.assertEqual((r.status, r.json()["error"]), (404, "not_found"))
        conn = http.client.HTTPConnection("127.0.0.1", self.sim.http_port, timeout=5)
        conn.request("GET", HEARTBEAT_PATH)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 405)
        self.assertEqual(json.loads(resp.read()), {"error": "method_not_allowed", "message": "use POST",
                                                   "status": 405})
        conn.close()


class HeartbeatTest(SharedSimulator):
    def test_heartbeat_accepted_and_recorded(self):
        status = {"hostname": "his-01", "queue": {"pending": 3}}
        before = time.time()
        r = self.hb(status=status)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["status"], "ok")
        self.assertRegex(body["server_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(r.header("Content-Type"), "application/json")
        date = email.utils.parsedate_to_datetime(r.header("Date")).timestamp()
        self.assertLess(abs(date - before), 3)
        stats = self.sim.stats()
        self.assertEqual((stats["heartbeats"], stats["heartbeat_requests"]), (1, 1))
        self.assertEqual(stats["requests_by_status"], {"200": 1})
        [seen] = self.sim.heartbeats()
        self.assertEqual(seen["status"], 200)
        self.assertTrue(seen["tls"])
        self.assertEqual(seen["headers"]["x-bridge-agent-id"], AGENT)
        self.assertEqual(seen["headers"]["x-bridge-agent-key"], "REDACTED")
        self.assertIn("x-bridge-timestamp", seen["headers"])
        self.assertLessEqual(abs(seen["timestamp_skew_seconds"]), 2)
        self.assertEqual(seen["body"], {"agent_id": AGENT, "facility_id": "fac-1", "version": "1.0.0",
                                        "status": status})
        self.assertLess(abs(seen["received_unix"] - before), 5)
        self.assertNotIn(KEY, json.dumps(self.sim.heartbeats()))

    def test_plain_http_listener(self):
        r = self.hb(tls=False)
        self.assertEqual(r.status, 200, r)
        self.assertFalse(self.sim.heartbeats()[-1]["tls"])

    def test_missing_or_wrong_key_is_bridge_token_invalid(self):
        cases = [
            dict(omit=("X-Bridge-Agent-Key",)),
            dict(omit=("X-Bridge-Agent-ID",)),
            dict(headers={"X-Bridge-Agent-Key": OTHER_KEY}),
            dict(headers={"X-Bridge-Agent-Key": KEY + "x"}),
            dict(headers={"X-Bridge-Agent-Key": KEY_HASH}),  # the hash itself is not the key
            dict(headers={"X-Bridge-Agent-ID": "agt_unknown"}),
        ]
        for case in cases:
            with self.subTest(case=case):
                r = self.hb(**case)
                self.assertEqual(r.status, 401, r)
                body = r.json()
                self.assertEqual(body["error"], "bridge_token_invalid")
                self.assertEqual(body["status"], 401)
                self.assertTrue(body["message"])
                self.assertIsNotNone(r.header("Date"))
        stats = self.sim.stats()
        self.assertEqual(stats["heartbeats"], 0)
        self.assertEqual(stats["requests_by_status"], {"401": len(cases)})
        self.assertNotIn(OTHER_KEY, self.sim.log_text())

    def test_timestamp_window(self):
        now = int(time.time())
        for ts, expected in [(now - 290, 200), (now + 290, 200), (now - 320, 401), (now + 320, 401),
                             ("12x", 401), ("-5", 401), ("%d.5" % now, 401), ("", 401), ("+%d" % now, 401)]:
            with self.subTest(ts=ts):
                r = self.hb(timestamp=ts)
                self.assertEqual(r.status, expected, r)
                if expected == 401:
                    self.assertEqual(r.json()["error"], "timestamp_out_of_window")
        r = self.hb(omit=("X-Bridge-Timestamp",))
        self.assertEqual((r.status, r.json()["error"]), (401, "timestamp_out_of_window"))

    def test_content_type_must_be_json(self):
        for ctype, expected in [("text/plain", 415), (None, 415), ("application/json; charset=utf-8", 200),
                                ("application/jsonx", 415)]:
            with self.subTest(ctype=ctype):
                r = self.hb(content_type=ctype)
                self.assertEqual(r.status, expected, r)
                if expected == 415:
                    self.assertEqual(r.json()["error"], "unsupported_media_type")

    def test_heartbeat_shape(self):
        base = {"agent_id": AGENT, "facility_id": "fac-1", "version": "1.0.0"}
        cases = [
            ({k: v for k, v in base.items() if k != "version"}, 400, "invalid_request"),
            ({k: v for k, v in base.items() if k != "facility_id"}, 400, "invalid_request"),
            (dict(base, version=1), 400, "invalid_request"),
            (dict(base, status="up"), 400, "invalid_request"),
            (dict(base, agent_id="someone_else"), 403, "agent_mismatch"),
            ([base], 400, "invalid_request"),
            (b"{not json", 400, "invalid_json"),
            (dict(base, unknown_field={"x": 1}), 200, None),
        ]
        for body, status, error in cases:
            with self.subTest(body=body):
                r = self.sim.bridge_request(HEARTBEAT_PATH, body, AGENT, KEY)
                self.assertEqual(r.status, status, r)
                if error:
                    self.assertEqual(r.json(), {"error": error, "message": r.json()["message"], "status": status})

    def test_gzip_heartbeat(self):
        r = self.hb(gzip_body=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.sim.heartbeats()[-1]["body"]["agent_id"], AGENT)
        self.assertEqual(self.sim.stats()["gzip_requests"], 1)

    def test_heartbeat_log_is_bounded_and_keeps_failures(self):
        for _ in range(3):
            self.hb(headers={"X-Bridge-Agent-Key": OTHER_KEY})
        seen = self.sim.heartbeats()
        self.assertEqual([h["status"] for h in seen], [401, 401, 401])
        self.assertEqual({h["error"] for h in seen}, {"bridge_token_invalid"})


class ClockOffsetTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("test-simulator-clock-")
        self.sim = Simulator(self.tmp, agents={AGENT: KEY}, clock_offset=3600).start()

    def tearDown(self):
        self.assertEqual(self.sim.stop(), 0)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_offset_shifts_date_header_and_window(self):
        r = self.sim.heartbeat(AGENT, KEY)  # the local clock is an hour behind the simulator's
        self.assertEqual((r.status, r.json()["error"]), (401, "timestamp_out_of_window"))
        self.assertRegex(r.json()["message"], r"-36\d\d s from the server clock")
        server_time = email.utils.parsedate_to_datetime(r.header("Date")).timestamp()
        self.assertLess(abs(server_time - time.time() - 3600), 3)
        corrected = int(time.time() + (server_time - time.time()))
        r = self.sim.heartbeat(AGENT, KEY, timestamp=corrected)
        self.assertEqual(r.status, 200, r)
        self.assertLessEqual(abs(self.sim.heartbeats()[-1]["timestamp_skew_seconds"]), 2)
        self.assertEqual(self.sim.stats()["clock_offset_seconds"], 3600)

    def test_offset_changes_at_run_time(self):
        self.sim.configure(clock_offset_seconds=-120)
        r = self.sim.heartbeat(AGENT, KEY)
        self.assertEqual(r.status, 200, r)
        date = email.utils.parsedate_to_datetime(r.header("Date")).timestamp()
        self.assertLess(abs(date - (time.time() - 120)), 3)
        self.sim.configure(timestamp_window_seconds=60)
        self.assertEqual(self.sim.heartbeat(AGENT, KEY).status, 401)


class FacilityAndAgentsTest(unittest.TestCase):
    def test_facilities_and_agents_file(self):
        tmp = e2e_tmpdir("test-simulator-fac-")
        agents_file = os.path.join(tmp, "agents.json")
        with open(agents_file, "w") as f:
            json.dump({"agt_file": sha256_hex(OTHER_KEY)}, f)
        sim = Simulator(tmp, agents={AGENT: KEY}, facilities=["fac-1", "fac-2"],
                        extra_args=["--agents-file", agents_file])
        with sim:
            self.assertEqual(sim.heartbeat(AGENT, KEY, facility_id="fac-2").status, 200)
            r = sim.heartbeat(AGENT, KEY, facility_id="fac-9")
            self.assertEqual((r.status, r.json()["error"]), (404, "facility_not_found"))
            r = sim.sync(AGENT, KEY, [patient("r1")], facility_id="fac-9")
            self.assertEqual((r.status, r.json()["error"]), (404, "facility_not_found"))
            self.assertEqual(sim.heartbeat("agt_file", OTHER_KEY).status, 200)
            # Agents change at run time: a revoked key stops working, a new one starts.
            sim.configure(remove_agents=["agt_file"])
            self.assertEqual(sim.heartbeat("agt_file", OTHER_KEY).status, 401)
            new_key, _ = make_agent_key()
            sim.add_agent("agt_new", new_key)
            self.assertEqual(sim.heartbeat("agt_new", new_key).status, 200)
        shutil.rmtree(tmp, ignore_errors=True)

    def test_bad_flags_fail_fast(self):
        tmp = e2e_tmpdir("test-simulator-flags-")
        for args in (["--agent", "nohash"], ["--agent", "a:1234"], ["--bind", "0.0.0.0"],
                     ["--bind", "192.0.2.1"], ["--tls-min-version", "9"]):
            with self.subTest(args=args):
                proc = subprocess.run([simulator_binary(), "--ready-file", os.path.join(tmp, "r")] + args,
                                      capture_output=True, timeout=20)
                self.assertNotEqual(proc.returncode, 0)
                self.assertFalse(os.path.exists(os.path.join(tmp, "r")))
        shutil.rmtree(tmp, ignore_errors=True)

    def test_help_documents_flags_and_admin_api(self):
        proc = subprocess.run([simulator_binary(), "--help"], capture_output=True, timeout=20, text=True)
        self.assertEqual(proc.returncode, 0)
        for word in ("--https-port", "--agent", "--clock-offset", "--ca-out", "/_sim/stats", "/_sim/faults",
                     "reset_after_processing", "reject_ids_batch_status", "outage_seconds", "max_body_bytes"):
            self.assertIn(word, proc.stdout)


class SyncTest(SharedSimulator):
    def test_sync_accepted_then_duplicate_batch(self):
        records = [patient("r%d" % i, first_name="N%d" % i) for i in range(3)]
        batch = str(uuid.uuid4())
        r = self.sync(records, batch_id=batch)
        self.assertEqual(r.status, 200, r)
        # The receipt (PROTOCOL.md "The receipt"): the batch's id and the records it names.
        self.assertEqual(r.json(), {"batch_id": batch, "accepted": ["r0", "r1", "r2"], "rejected": []})
        r = self.sync(records, batch_id=batch)
        self.assertEqual((r.status, r.json()["error"], r.json()["status"]), (409, "duplicate_batch", 409))
        stats = self.sim.stats()
        self.assertEqual((stats["batches"], stats["batches_duplicate"]), (1, 1))
        self.assertEqual((stats["records_total"], stats["records_unique"], stats["records_duplicate"]), (3, 3, 0))
        stored = self.sim.records()
        self.assertEqual(set(stored), {"r0", "r1", "r2"})
        self.assertEqual(stored["r1"], {"type": "patient", "data": records[1]["data"],
                                        "source": records[1]["source"], "batch_id": batch})
        reqs = self.sim.requests()
        self.assertEqual([q["status"] for q in reqs], [200, 409])
        self.assertEqual({q["idempotency_key"] for q in reqs}, {batch})
        self.assertEqual(reqs[0]["records"], 3)

    def test_duplicate_record_ids_are_counted_not_stored_twice(self):
        first = str(uuid.uuid4())
        self.assertEqual(self.sync([patient("a"), patient("b")], batch_id=first).status, 200)
        r = self.sync([patient("a"), patient("c"), patient("b", first_name="Changed")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], ["a", "c", "b"])
        stats = self.sim.stats()
        self.assertEqual((stats["records_unique"], stats["records_duplicate"]), (3, 2))
        self.assertEqual(stats["records_duplicate_mismatch"], 1)
        self.assertEqual(stats["records_total"], 5)
        stored = self.sim.records()
        self.assertEqual(stored["b"]["data"]["first_name"], "Marie")  # the first payload is kept
        self.assertEqual(stored["b"]["batch_id"], first)
        self.assertEqual(self.sim.record_ids(), ["a", "b", "c"])

    def test_required_fields_per_record_type(self):
        required = {
            "patient": {"first_name": "A", "last_name": "B", "dob": "1990-01-02", "sex": "male"},
            "encounter": {"health_id": "H1", "date": "2026-01-02"},
            "lab_result": {"health_id": "H1", "test": "Hb", "result": "12", "date": "2026-01-02"},
            "prescription": {"health_id": "H1", "medication": "amoxicillin", "date": "2026-01-02"},
            "appointment": {"health_id": "H1", "date": "2026-01-02"},
            "pharmacy_stock": {"item_code": "AMX500", "quantity": "40"},
        }
        records, expect_rejected = [], set()
        for rtype, data in required.items():
            records.append({"id": rtype + "-ok", "type": rtype, "data": dict(data, extra="x")})
            for field in data:
                missing = {k: v for k, v in data.items() if k != field}
                records.append({"id": "%s-no-%s" % (rtype, field), "type": rtype, "data": missing})
                expect_rejected.add("%s-no-%s" % (rtype, field))
                empty = dict(data, **{field: ""})
                records.append({"id": "%s-empty-%s" % (rtype, field), "type": rtype, "data": empty})
                expect_rejected.add("%s-empty-%s" % (rtype, field))
        bad = [
            {"id": "unknown-type", "type": "invoice", "data": {"x": "1"}},
            {"id": "no-type", "data": {"x": "1"}},
            {"id": "number-value", "type": "pharmacy_stock", "data": {"item_code": "A", "quantity": 4}},
            {"id": "no-data", "type": "appointment"},
            {"id": "bad-source", "type": "appointment", "data": required["appointment"], "source": "file.csv"},
            {"id": "bad-row", "type": "appointment", "data": required["appointment"],
             "source": {"file": "a.csv", "row": "2"}},
        ]
        records += bad
        expect_rejected |= {b["id"] for b in bad}
        r = self.sync(records)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(set(body["accepted"]), {t + "-ok" for t in required})
        self.assertEqual({x["id"] for x in body["rejected"]}, expect_rejected)
        for x in body["rejected"]:
            self.assertEqual(x["error"], "invalid_record")
            self.assertTrue(x["message"])
        by_id = {x["id"]: x["message"] for x in body["rejected"]}
        self.assertIn("invoice", by_id["unknown-type"])
        self.assertIn("dob", by_id["patient-no-dob"])
        stats = self.sim.stats()
        self.assertEqual(stats["records_rejected"], len(expect_rejected))
        self.assertEqual(stats["records_unique"], len(required))
        self.assertNotIn("unknown-type", self.sim.records())

    def test_batch_envelope_is_strict(self):
        good_id = str(uuid.uuid4())
        base = {"agent_id": AGENT, "facility_id": "fac-1", "batch_id": good_id, "sent_at": "2026-11-29T19:40:00Z",
                "records": [patient("e1")]}
        cases = [
            (dict(base, batch_id="not-a-uuid"), {"Idempotency-Key": "not-a-uuid"}, 400, "invalid_request"),
            (dict(base, batch_id=str(uuid.uuid4())), {}, 400, "invalid_request"),  # batch_id != key
            (dict(base, sent_at="yesterday"), {}, 400, "invalid_request"),
            (dict(base, records=[]), {}, 400, "invalid_request"),
            (dict(base, records={"a": 1}), {}, 400, "invalid_request"),
            (dict(base, records=[{"type": "patient", "data": {}}]), {}, 400, "invalid_request"),
            (dict(base, records=["x"]), {}, 400, "invalid_request"),
            (dict(base, agent_id="other"), {}, 403, "agent_mismatch"),
            ({k: v for k, v in base.items() if k != "facility_id"}, {}, 400, "invalid_request"),
            (b"[1,2", {}, 400, "invalid_json"),
        ]
        for body, headers, status, error in cases:
            with self.subTest(body=body):
                r = self.sim.bridge_request(SYNC_PATH, body, AGENT, KEY, idempotency_key=good_id, headers=headers)
                self.assertEqual((r.status, r.json()["error"]), (status, error), r)
        r = self.sim.bridge_request(SYNC_PATH, base, AGENT, KEY)  # no Idempotency-Key
        self.assertEqual((r.status, r.json()["error"]), (400, "idempotency_key_missing"))
        self.assertEqual(self.sim.stats()["batches"], 0)
        # A batch refused for its shape is not remembered: the same key goes through once it is right.
        self.assertEqual(self.sim.bridge_request(SYNC_PATH, base, AGENT, KEY, idempotency_key=good_id).status, 200)

    def test_sync_needs_auth_and_timestamp(self):
        r = self.sim.sync(AGENT, OTHER_KEY, [patient("x")])
        self.assertEqual((r.status, r.json()["error"]), (401, "bridge_token_invalid"))
        r = self.sim.sync(AGENT, KEY, [patient("x")], timestamp=int(time.time()) - 1000)
        self.assertEqual((r.status, r.json()["error"]), (401, "timestamp_out_of_window"))
        self.assertEqual(self.sim.stats()["records_total"], 0)

    def test_gzip_sync_and_bad_gzip(self):
        records = [patient("g%d" % i) for i in range(200)]
        r = self.sync(records, gzip_body=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["accepted"]), 200)
        stats = self.sim.stats()
        self.assertEqual((stats["gzip_requests"], stats["records_unique"]), (1, 200))
        self.assertGreater(stats["bytes_inflated"], stats["bytes_received"])
        r = self.sim.bridge_request(SYNC_PATH, b"\x1f\x8b not gzip", AGENT, KEY, idempotency_key=str(uuid.uuid4()),
                                    headers={"Content-Encoding": "gzip"})
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_gzip"))
        r = self.sim.bridge_request(SYNC_PATH, b"{}", AGENT, KEY, idempotency_key=str(uuid.uuid4()),
                                    headers={"Content-Encoding": "br"})
        self.assertEqual((r.status, r.json()["error"]), (415, "unsupported_content_encoding"))

    def test_records_paging_and_many_records(self):
        total, per_batch = 20000, 1000
        for start in range(0, total, per_batch):
            records = [{"id": "p%05d" % i, "type": "encounter", "source": {"file": "encounters_1.csv", "row": i + 2},
                        "data": {"health_id": "H%d" % i, "date": "2026-01-02", "notes": "n" * 40}}
                       for i in range(start, start + per_batch)]
            r = self.sync(records, gzip_body=True)
            self.assertEqual(r.status, 200)
        stored = self.sim.records()
        self.assertEqual(len(stored), total)
        self.assertEqual(stored["p12345"]["data"], {"health_id": "H12345", "date": "2026-01-02", "notes": "n" * 40})
        self.assertEqual(stored["p12345"]["source"], {"file": "encounters_1.csv", "row": 12347})
        paged = self.sim.records(page_size=7000)
        self.assertEqual(paged, stored)
        page = self.sim.admin("GET", "records?offset=19990&limit=50")
        self.assertEqual((page["count"], page["next_offset"], page["total"]), (10, None, total))
        self.assertEqual(len(self.sim.record_ids()), total)

    def test_reset_forgets_everything(self):
        batch = str(uuid.uuid4())
        self.assertEqual(self.sync([patient("z")], batch_id=batch).status, 200)
        self.sim.set_faults(reject_gzip=True)
        self.sim.reset()
        stats = self.sim.stats()
        self.assertEqual((stats["batches"], stats["records_unique"], stats["requests_total"]), (0, 0, 0))
        self.assertEqual(self.sim.records(), {})
        self.assertFalse(self.sim.faults()["reject_gzip"])
        self.assertEqual(self.sync([patient("z")], batch_id=batch).status, 200)


class FaultTest(SharedSimulator):
    def test_status_fault_with_retry_after_then_recovers(self):
        self.sim.set_faults(status=429, count=2, retry_after="3", path="sync")
        self.assertEqual(self.hb().status, 200)  # path=sync leaves heartbeats alone
        batch = str(uuid.uuid4())
        for _ in range(2):
            r = self.sync([patient("s1")], batch_id=batch)
            self.assertEqual(r.status, 429, r)
            self.assertEqual(r.header("Retry-After"), "3")
            self.assertEqual(r.json(), {"error": "rate_limited", "message": "simulated 429", "status": 429})
        self.assertEqual(self.sync([patient("s1")], batch_id=batch).status, 200)
        stats = self.sim.stats()
        self.assertEqual(stats["faults_applied"]["status"], 2)
        self.assertEqual(stats["records_unique"], 1)

    def test_status_fault_http_date_unlimited_and_custom_error(self):
        when = email.utils.formatdate(time.time() + 30, usegmt=True)
        self.sim.set_faults(status=503, count=-1, retry_after=when, error="maintenance", message="back soon")
        for _ in range(3):
            r = self.hb()
            self.assertEqual((r.status, r.header("Retry-After")), (503, when))
            self.assertEqual(r.json(), {"error": "maintenance", "message": "back soon", "status": 503})
        self.sim.clear_faults()
        self.assertEqual(self.hb().status, 200)
        self.sim.set_faults(status=500)  # count defaults to 1, no Retry-After
        r = self.hb()
        self.assertEqual((r.status, r.header("Retry-After"), r.json()["error"]), (500, None, "internal_error"))
        self.assertEqual(self.hb().status, 200)

    def test_garbage(self):
        self.sim.set_faults(garbage=1)
        with self.assertRaises(http.client.HTTPException):  # bytes that are no HTTP status line
            self.hb()
        self.assertEqual(self.hb().status, 200)
        self.assertEqual(self.sim.requests()[0]["outcome"], "garbage")

    def test_hang(self):
        self.sim.set_faults(hang=1, path="heartbeat")
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.hb(timeout=1.0)
        self.assertEqual(self.hb().status, 200)
        self.assertEqual(self.sim.stats()["faults_applied"]["hang"], 1)

    def test_reset_after_processing(self):
        self.sim.set_faults(reset_after_processing=1)
        batch = str(uuid.uuid4())
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.sync([patient("k1"), patient("k2")], batch_id=batch)
        stats = self.sim.stats()
        self.assertEqual((stats["batches"], stats["batches_reset"], stats["records_unique"]), (1, 1, 2))
        r = self.sync([patient("k1"), patient("k2")], batch_id=batch)  # the agent's retry, same key
        self.assertEqual((r.status, r.json()["error"]), (409, "duplicate_batch"))
        stats = self.sim.stats()
        self.assertEqual((stats["records_duplicate"], stats["batches_duplicate"]), (0, 1))
        self.assertEqual([q["outcome"] for q in self.sim.requests()], ["dropped", "answered"])

    def test_reset_mid_response(self):
        self.sim.set_faults(reset_mid_response=1, path="sync")
        batch = str(uuid.uuid4())
        records = [patient("t%03d" % i) for i in range(100)]
        with self.assertRaises((http.client.IncompleteRead, ConnectionError)):
            self.sync(records, batch_id=batch)
        self.assertEqual(self.sim.stats()["records_unique"], 100)  # processed before the cut
        [req] = self.sim.requests()
        self.assertEqual((req["status"], req["outcome"]), (200, "truncated"))
        self.assertEqual(self.sync(records, batch_id=batch).status, 409)

    def test_oversized_response(self):
        size = 5 * 1024 * 1024
        self.sim.set_faults(oversized_body_bytes=size)
        r = self.hb(timeout=20)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), size)
        self.assertEqual(self.sim.stats()["heartbeats"], 0)  # not processed
        self.assertLess(len(self.hb().body), 200)

    def test_delay(self):
        self.sim.set_faults(delay_ms=600, delay_count=1)
        started = time.monotonic()
        self.assertEqual(self.hb().status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.55)  # a floor: a slow machine cannot break it
        self.assertEqual(self.hb().status, 200)
        self.assertEqual(self.sim.stats()["faults_applied"]["delay"], 1)  # delay_count=1: the second went straight

    def test_answers_gzip_only_when_asked(self):
        records = [patient("g%03d" % i) for i in range(60)]
        plain = self.sync(records[:20])
        self.assertEqual(plain.status, 200, plain)
        self.assertIsNone(plain.header("Content-Encoding"))
        for accept in ("gzip;q=0", "identity", "br"):
            with self.subTest(accept=accept):
                r = self.hb(headers={"Accept-Encoding": accept})
                self.assertIsNone(r.header("Content-Encoding"), accept)
                self.assertEqual(r.json()["status"], "ok")
        for accept, chunk in (("gzip", records[20:40]), ("br, GZIP;q=0.5", records[40:])):
            with self.subTest(accept=accept):
                r = self.sync(chunk, headers={"Accept-Encoding": accept})
                self.assertEqual((r.status, r.header("Content-Encoding"), r.header("Vary")),
                                 (200, "gzip", "Accept-Encoding"), r)
                receipt = json.loads(gzip.decompress(r.body))
                self.assertEqual(receipt["accepted"], [x["id"] for x in chunk])
        # Errors too (a strict server's gzip module does not look at the status).
        r = self.sync(records[:20], headers={"Accept-Encoding": "gzip"}, idempotency_key=None)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual((r.status, json.loads(gzip.decompress(r.body))["error"]), (400, "idempotency_key_missing"))
        reqs = self.sim.requests()
        self.assertEqual([q["response_gzip"] for q in reqs], [False, False, False, False, True, True, True])
        self.assertEqual(sum(q["response_bytes"] for q in reqs), self.sim.stats()["bytes_sent"])
        self.assertEqual(self.sim.stats()["gzip_responses"], 3)

    def test_oversized_gzip_answer_is_small_on_the_wire(self):
        size = 5 * 1024 * 1024
        self.sim.set_faults(oversized_body_bytes=size, path="sync")
        r = self.sync([patient("o1")], headers={"Accept-Encoding": "gzip"}, timeout=20)
        self.assertEqual((r.status, r.header("Content-Encoding")), (200, "gzip"))
        self.assertLess(len(r.body), 64 * 1024)
        self.assertEqual(len(gzip.decompress(r.body)), size)
        self.assertEqual(self.sim.stats()["records_unique"], 0)  # not processed

    def test_max_body_bytes_counts_decompressed_bytes(self):
        self.sim.set_faults(max_body_bytes=20000)
        records = [patient("m%03d" % i) for i in range(150)]  # ~25 KB of JSON, ~2 KB gzipped
        for gz in (False, True):
            with self.subTest(gzip=gz):
                r = self.sync(records, gzip_body=gz)
                self.assertEqual((r.status, r.json()["error"]), (413, "payload_too_large"), r)
        self.assertEqual(self.sync(records[:50], gzip_body=True).status, 200)
        self.assertEqual(self.sim.stats()["faults_applied"]["max_body_bytes"], 2)

    def test_reject_ids_per_record(self):
        self.sim.set_faults(reject_ids=["bad1", "bad2"])
        r = self.sync([patient("ok1"), patient("bad1"), patient("ok2"), patient("bad2")])
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["accepted"], ["ok1", "ok2"])
        self.assertEqual([x["id"] for x in body["rejected"]], ["bad1", "bad2"])
        self.assertEqual({x["error"] for x in body["rejected"]}, {"invalid_record"})
        self.assertIn("reject_ids", body["rejected"][0]["message"])
        self.assertEqual(self.sim.stats()["records_rejected"], 2)

    def test_not_receipt_faults_answer_200_unprocessed(self):
        for kind in ("html", "empty", "invalid_json", "other_batch"):
            with self.subTest(kind=kind):
                self.sim.reset()
                self.sim.set_faults(not_receipt=kind, not_receipt_count=2)
                batch = str(uuid.uuid4())
                for _ in range(2):
                    r = self.sync([patient("nr1"), patient("nr2")], batch_id=batch)
                    self.assertEqual(r.status, 200, r)
                    if kind == "html":
                        self.assertTrue(r.body.startswith(b"<!DOCTYPE html>"), r)
                        self.assertIn("text/html", r.header("Content-Type"))
                    elif kind == "empty":
                        self.assertEqual(r.body, b"")
                    elif kind == "invalid_json":
                        with self.assertRaises(ValueError):
                            r.json()
                    else:
                        self.assertNotEqual(r.json()["batch_id"], batch)
                stats = self.sim.stats()
                self.assertEqual((stats["batches"], stats["records_unique"]), (0, 0), stats)
                self.assertEqual(stats["faults_applied"]["not_receipt_" + kind], 2)
                r = self.sync([patient("nr1"), patient("nr2")], batch_id=batch)  # the fault is used up
                self.assertEqual(r.json(), {"batch_id": batch, "accepted": ["nr1", "nr2"], "rejected": []})
                self.assertIsNone(self.sim.faults()["not_receipt"])

    def test_not_receipt_omit_ids_processes_and_names_the_first_half(self):
        self.sim.set_faults(not_receipt="omit_ids", not_receipt_count=1)
        self.assertEqual(self.sim.faults()["not_receipt"]["kind"], "omit_ids")
        batch = str(uuid.uuid4())
        r = self.sync([patient("o%d" % i) for i in range(5)], batch_id=batch)
        self.assertEqual(r.json(), {"batch_id": batch, "accepted": ["o0", "o1", "o2"], "rejected": []})
        self.assertEqual(set(self.sim.record_ids()), {"o0", "o1", "o2"})
        # The left-out ones travel again under a new batch_id and are stored then, once.
        r = self.sync([patient("o3"), patient("o4")])
        self.assertEqual(r.json()["accepted"], ["o3", "o4"])
        stats = self.sim.stats()
        self.assertEqual((stats["records_unique"], stats["records_duplicate"]), (5, 0), stats)

    def test_reject_ids_batch_status_without_detail(self):
        self.sim.set_faults(reject_ids=["poison"], reject_ids_batch_status=422)
        batch = str(uuid.uuid4())
        r = self.sync([patient("a1"), patient("poison"), patient("a2")], batch_id=batch)
        self.assertEqual(r.status, 422, r)
        self.assertEqual(set(r.json()), {"error", "message", "status"})
        self.assertEqual(r.json()["error"], "invalid_batch")
        self.assertEqual(self.sync([patient("a1")]).status, 200)
        stats = self.sim.stats()
        self.assertEqual((stats["batches_refused"], stats["records_unique"]), (1, 1))
        self.sim.clear_faults()  # the server stops refusing: the same batch (same key) now goes through
        r = self.sync([patient("a1"), patient("poison"), patient("a2")], batch_id=batch)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.sim.stats()["records_unique"], 3)

    def test_reject_gzip(self):
        self.sim.set_faults(reject_gzip=True)
        r = self.sync([patient("gz")], gzip_body=True)
        self.assertEqual((r.status, r.json()["error"]), (415, "unsupported_content_encoding"))
        self.assertEqual(self.sync([patient("gz")]).status, 200)

    def test_outage_refuses_connections_then_recovers(self):
        self.assertEqual(self.hb().status, 200)
        keep_alive = http.client.HTTPConnection("127.0.0.1", self.sim.http_port, timeout=5)
        keep_alive.connect()
        self.sim.set_faults(outage_seconds=1.5)
        for port in (self.sim.https_port, self.sim.http_port):
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
        self.assertGreater(self.sim.faults()["outage_seconds_left"], 0)  # the admin port stays up
        with self.assertRaises((ConnectionError, http.client.HTTPException)):  # live connections were reset
            keep_alive.request("GET", "/_sim/health")
            keep_alive.getresponse().read()
        keep_alive.close()
        wait_until(lambda: self._connects(self.sim.https_port), 6, 0.1, "the end of the outage")
        self.assertEqual(self.hb().status, 200)

    def test_outage_close_mode_and_early_clear(self):
        self.sim.set_faults(outage_seconds=30, outage_mode="close")
        with self.assertRaises((ConnectionError, http.client.HTTPException, ssl.SSLError)):
            self.hb(timeout=3)
        self.assertGreaterEqual(self.sim.stats()["outage_dropped_connections"], 1)
        self.sim.clear_faults()
        self.assertEqual(self.hb().status, 200)
        self.sim.set_faults(outage_seconds=30)  # refuse mode, ended early by clear
        self.assertFalse(self._connects(self.sim.https_port))
        self.sim.clear_faults()
        wait_until(lambda: self._connects(self.sim.https_port), 5, 0.05, "listeners to reopen")
        self.assertEqual(self.hb().status, 200)

    def test_invalid_fault_patch_is_refused(self):
        for patch in ({"stauts": 500}, {"status": "500"}, {"garbage": -5}, {"path": "nowhere", "hang": 1},
                      {"reject_ids": "a"}, {"outage_mode": "x", "outage_seconds": 1}, {"not_receipt": "pdf"},
                      {"not_receipt": 1}, {"not_receipt": "html", "not_receipt_count": "2"}):
            with self.subTest(patch=patch):
                with self.assertRaises(SimulatorError):
                    self.sim.set_faults(**patch)
        faults = self.sim.faults()
        self.assertIsNone(faults["status"])
        self.assertIsNone(faults["hang"])

    def test_faults_file_at_start(self):
        tmp = e2e_tmpdir("test-simulator-faults-")
        with Simulator(tmp, agents={AGENT: KEY}, faults={"status": 503, "count": 1, "retry_after": "1"}) as sim:
            r = sim.heartbeat(AGENT, KEY)
            self.assertEqual((r.status, r.header("Retry-After")), (503, "1"))
            self.assertEqual(sim.heartbeat(AGENT, KEY).status, 200)
        shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _connects(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False


class ProcessTest(unittest.TestCase):
    def test_stops_cleanly_on_sigint_and_sigterm_with_open_connections(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(sig=sig):
                tmp = e2e_tmpdir("test-simulator-sig-")
                sim = Simulator(tmp, agents={AGENT: KEY}).start()
                sim.set_faults(hang=-1)
                idle = socket.create_connection(("127.0.0.1", sim.https_port), timeout=5)
                hung = http.client.HTTPConnection("127.0.0.1", sim.http_port, timeout=10)
                hung.request("POST", HEARTBEAT_PATH, body=b"{}")
                wait_until(lambda: sim.stats()["faults_applied"].get("hang"), 5, what="the hung request")
                started = time.monotonic()
                self.assertEqual(sim.stop(timeout=5, sig=sig), 0)
                self.assertLess(time.monotonic() - started, 3)
                idle.close()
                hung.close()
                self.assertIn("stopped", sim.log_text())
                shutil.rmtree(tmp, ignore_errors=True)

    def test_plain_http_only(self):
        tmp = e2e_tmpdir("test-simulator-plain-")
        with Simulator(tmp, agents={AGENT: KEY}, https=False) as sim:
            self.assertEqual((sim.https_port, sim.ca_file), (-1, None))
            self.assertTrue(sim.url.startswith("http://127.0.0.1:"))
            self.assertEqual(sim.heartbeat(AGENT, KEY, tls=False).status, 200)
        shutil.rmtree(tmp, ignore_errors=True)

    def test_read_timeout_closes_idle_connections(self):
        tmp = e2e_tmpdir("test-simulator-idle-")
        with Simulator(tmp, agents={AGENT: KEY}, extra_args=["--read-timeout", "1"]) as sim:
            idle = socket.create_connection(("127.0.0.1", sim.http_port), timeout=5)
            idle.sendall(b"POST /api/v1/bridge/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            started = time.monotonic()
            self.assertEqual(idle.recv(100), b"")  # closed without an answer once the timeout fires
            self.assertLess(time.monotonic() - started, 4)
            idle.close()
            self.assertEqual(sim.stats()["requests_total"], 0)
        shutil.rmtree(tmp, ignore_errors=True)

    def test_given_certificate_files_and_restart_on_same_ports(self):
        openssl = shutil.which("openssl")
        if not openssl:
            self.skipTest("openssl command not installed")
        tmp = e2e_tmpdir("test-simulator-cert-")
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=30)
        sim = Simulator(tmp, agents={AGENT: KEY}, cert_file=cert, key_file=key).start()
        try:
            self.assertIsNone(sim.ready["ca_file"])  # nothing made at start
            self.assertEqual(sim.ca_file, cert)  # self-signed: the certificate is its own trust anchor
            self.assertEqual(sim.heartbeat(AGENT, KEY).status, 200)
            port = sim.https_port
            sim.restart()
            self.assertEqual(sim.https_port, port)
            self.assertEqual(sim.stats()["heartbeats"], 0)
            self.assertEqual(sim.heartbeat(AGENT, KEY).status, 200)
        finally:
            self.assertEqual(sim.stop(), 0)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
