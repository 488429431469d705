"""End to end: the status page, /status.json, /metrics, /healthz, /readyz and `status` of the real agent (issue 7).

A known state is built with the real agent and the simulator: records delivered, some refused (dead letters),
some still queued, files processed, failed and duplicate. Each endpoint must show exactly that state, and none
may show a patient value or the agent key.
"""

import csv
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import unittest

import browser
from agentproc import Agent, run_cli, write_config
from simulator import SYNC_PATH, Simulator, e2e_tmpdir, free_port, make_agent_key, wait_until

ENDPOINTS = ("/", "/status.json", "/metrics", "/healthz", "/readyz")
HEARTBEAT_SECONDS = 5

# Generated exports. Every first name, last name and phone is distinctive, so finding one in an endpoint's
# output can only mean patient data leaked.
PATIENT_HEADER = ["first_name", "last_name", "dob", "sex", "phone"]
PATIENT_ROWS = [  # physical rows 2..8; row 8 has no dob: a row error
    ["Zephyrine", "Okonkwo-Baptiste", "1984-03-12", "F", "+237 699 412 731"],
    ["Barnabe", "Quillfeather", "1979-11-02", "M", "+237 677 905 318"],  # refused by the server (row 3)
    ["Ottilie", "Mbarga-Lindqvist", "1992-06-30", "F", "+237 655 287 460"],
    ["Evariste", "Tchoumbou", "2001-01-17", "M", "+237 690 733 152"],
    ["Philomene", "Ndjock-Harrington", "1967-09-05", "F", "+237 681 504 927"],
    ["Casimir", "Fonkoua-Wexley", "1955-12-24", "M", "+237 662 318 046"],
    ["Gwendolyne", "Abernathy-Fotso", "", "F", "+237 673 641 285"],
]
PATIENT_REJECTED_ROW = 3
ENCOUNTER_HEADER = ["health_id", "date", "notes"]
ENCOUNTER_ROWS = [  # physical rows 2..5
    ["HID-E2E-0101", "2026-03-01", "follow-up"],
    ["HID-E2E-0102", "2026-03-02", "fever"],
    ["HID-E2E-0103", "2026-03-03", "check"],
    ["HID-E2E-0104", "2026-03-04", "vaccination"],  # refused by the server (row 5)
]
ENCOUNTER_REJECTED_ROW = 5
# A file whose name matches no record type, and a patients file without its last_name column: both fail.
UNKNOWN_ROWS = [["Anastasie", "Vorhees-Nkeng", "1988-02-14", "F", "+237 698 221 904"]]
NOLAST_HEADER = ["first_name", "dob", "sex", "phone"]
NOLAST_ROWS = [["Leocadie", "1990-04-08", "F", "+237 654 780 213"],
               ["Hyacinthe", "1970-10-10", "M", "+237 671 093 562"]]
# NDJSON records queued before the agent starts (ids given, so the server can be told to refuse one).
NDJSON_PATIENTS = [
    ("nd-e2e-1", "Aurelienne", "Kamdem-Oyelaran", "+237 699 880 114"),
    ("nd-e2e-2", "Theodoric", "Bellweather", "+237 677 351 608"),
    ("nd-e2e-3", "Clementine", "Essomba-Thornquist", "+237 655 462 879"),  # refused
    ("nd-e2e-4", "Maximilienne", "Ngo-Farquharson", "+237 690 914 273"),
    ("nd-e2e-5", "Sigismond", "Atangana-Pemberton", "+237 681 245 736"),
]
NDJSON_REJECTED = "nd-e2e-3"
# Queued while the agent runs with a long sync interval: they stay pending.
LATER_ENCOUNTERS = [("nd-later-1", "HID-E2E-0201"), ("nd-later-2", "HID-E2E-0202"), ("nd-later-3", "HID-E2E-0203")]


def record_id(file_sha256_hex, row):
    """The connector's record id: r_ + the first 32 hex digits of sha256("<file sha256>:<row>")."""
    return "r_" + hashlib.sha256(("%s:%d" % (file_sha256_hex, row)).encode()).hexdigest()[:32]


def csv_bytes(header, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def patient_ndjson(records):
    lines = []
    for rid, first, last, phone in records:
        lines.append(json.dumps({"id": rid, "type": "patient", "data": {
            "first_name": first, "last_name": last, "dob": "1980-01-01", "sex": "F", "phone": phone}}))
    return ("\n".join(lines) + "\n").encode()


def encounter_ndjson(records):
    lines = [json.dumps({"id": rid, "type": "encounter", "data": {"health_id": hid, "date": "2026-03-10"}})
             for rid, hid in records]
    return ("\n".join(lines) + "\n").encode()


def sensitive_values():
    """Every first name, last name and phone number the tests feed the agent."""
    values = set()
    for first, last, _, _, phone in PATIENT_ROWS + UNKNOWN_ROWS:
        values.update([first, last, phone])
    for first, _, _, phone in NOLAST_ROWS:
        values.update([first, phone])
    for _, first, last, phone in NDJSON_PATIENTS:
        values.update([first, last, phone])
    return values


def http_get(base_url, path, timeout=10.0):
    """GET base_url+path on loopback: (status, {lower-case header: value}, body text)."""
    m = re.match(r"^http://127\.0\.0\.1:(\d+)$", base_url)
    if not m:
        raise ValueError("loopback status URLs only, not %r" % base_url)
    conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read().decode("utf-8")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def status_json(base_url):
    code, _, body = http_get(base_url, "/status.json")
    if code != 200:
        raise AssertionError("/status.json answered %d: %s" % (code, body[:500]))
    return json.loads(body)


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{(name, frozenset of (label, value))): float} for every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise AssertionError("not a Prometheus sample line: %r" % line)
        labels = frozenset(_LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def metric(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    if key not in samples:
        raise AssertionError("metric %s%r is missing" % (name, labels))
    return samples[key]


def sync_requests_by_status(sim):
    out = {}
    for r in sim.requests():
        if r.get("path") == SYNC_PATH:
            out[r["status"]] = out.get(r["status"], 0) + 1
    return out


def promtool():
    return shutil.which("promtool")


class KnownState:
    """The simulator and a running agent in a known state (built once per test class)."""

    DELIVERED = (len(NDJSON_PATIENTS) - 1) + (len(PATIENT_ROWS) - 1 - 1) + (len(ENCOUNTER_ROWS) - 1)  # 4 + 5 + 3
    DEAD = 3
    PENDING = len(LATER_ENCOUNTERS)
    CSV_ENQUEUED = (len(PATIENT_ROWS) - 1) + len(ENCOUNTER_ROWS)  # what the connector queued: 6 + 4

    def __init__(self, prefix):
        self.tmp = e2e_tmpdir(prefix)
        self.key, _ = make_agent_key()
        staging = os.path.join(self.tmp, "staging")
        os.makedirs(staging)
        self.incoming = os.path.join(self.tmp, "incoming")
        os.makedirs(self.incoming)
        self.files = {
            "patients": write_bytes(os.path.join(staging, "patients_e2e.csv"), csv_bytes(PATIENT_HEADER, PATIENT_ROWS)),
            "encounters": write_bytes(os.path.join(staging, "encounters_e2e.csv"),
                                      csv_bytes(ENCOUNTER_HEADER, ENCOUNTER_ROWS)),
            "unknown": write_bytes(os.path.join(staging, "export_e2e.csv"), csv_bytes(PATIENT_HEADER, UNKNOWN_ROWS)),
            "nolast": write_bytes(os.path.join(staging, "patients_nolast_e2e.csv"),
                                  csv_bytes(NOLAST_HEADER, NOLAST_ROWS)),
        }
        self.files["duplicate"] = write_bytes(os.path.join(staging, "encounters_copy_e2e.csv"),
                                              csv_bytes(ENCOUNTER_HEADER, ENCOUNTER_ROWS))
        self.ndjson = write_bytes(os.path.join(staging, "patients_e2e.ndjson"), patient_ndjson(NDJSON_PATIENTS))
        self.later = write_bytes(os.path.join(staging, "later_e2e.ndjson"), encounter_ndjson(LATER_ENCOUNTERS))
        sha = {}
        for name, path in self.files.items():
            with open(path, "rb") as f:
                sha[name] = hashlib.sha256(f.read()).hexdigest()
        self.dead_ids = {
            record_id(sha["patients"], PATIENT_REJECTED_ROW): ("patient", "patients_e2e.csv", PATIENT_REJECTED_ROW),
            record_id(sha["encounters"], ENCOUNTER_REJECTED_ROW): ("encounter", "encounters_e2e.csv",
                                                                    ENCOUNTER_REJECTED_ROW),
            NDJSON_REJECTED: ("patient", "patients_e2e.ndjson", 3),
        }
        self.sim = None
        self.agent = None

    def start(self):
        self.sim = Simulator(self.tmp, agents={"agt_1": self.key}, faults={"reject_ids": sorted(self.dead_ids)})
        self.sim.start()
        self.status_port = free_port()
        self.cfg = write_config(self.tmp, self.sim, heartbeat_interval_seconds=HEARTBEAT_SECONDS,
                                sync_interval_seconds=3600, status={"listen": "127.0.0.1:%d" % self.status_port})
        r = run_cli(["enqueue", self.ndjson], self.cfg, key=self.key)
        if r.returncode != 0:
            raise AssertionError("enqueue failed: %s %s" % (r.stdout, r.stderr))
        self.agent = Agent(self.cfg, key=self.key).start()
        self.url = self.agent.status_url(timeout=20)
        self.agent.wait_log(r"connection: connected", timeout=20)
        # Files one after the other, so that which copy is the duplicate is known.
        for n, name in enumerate(("patients", "encounters", "unknown", "nolast", "duplicate"), start=1):
            path = self.files[name]
            os.rename(path, os.path.join(self.incoming, os.path.basename(path)))
            self.agent.wait_log(r"connector: \S+\.csv: ", timeout=30, count=n)
        self.wait_status(lambda s: s["delivery"]["records"]["delivered"] == self.DELIVERED
                         and s["outbox"]["dead"] == self.DEAD and s["outbox"]["pending"] == 0
                         and s["outbox"]["in_batches"] == 0, "everything delivered or dead")
        # Queued now, while delivery sleeps for its hour-long sync interval: these stay pending.
        r = run_cli(["enqueue", self.later], self.cfg, key=self.key)
        if r.returncode != 0:
            raise AssertionError("enqueue failed: %s %s" % (r.stdout, r.stderr))
        self.wait_status(lambda s: s["outbox"]["pending"] == self.PENDING, "the later records to show as pending")
        return self

    def wait_status(self, predicate, what, timeout=60):
        last = {}

        def check():
            last["s"] = status_json(self.url)
            return predicate(last["s"])

        try:
            wait_until(check, timeout, interval=0.3, what=what)
        except TimeoutError as e:
            raise AssertionError("%s; last status.json: %s\nagent log tail:\n%s"
                                 % (e, json.dumps(last.get("s"))[:3000], self.agent.log_text()[-4000:]))
        return last["s"]

    def stop(self):
        code = None
        try:
            if self.agent:
                code = self.agent.stop()
        finally:
            if self.sim:
                self.sim.stop()
        return code


class StatusEndpointsTest(unittest.TestCase):
    """Every endpoint against one known state (built once: it takes a few seconds)."""

    @classmethod
    def setUpClass(cls):
        cls.state = KnownState("status-")
        try:
            cls.state.start()
        except BaseException:
            cls.state.stop()
            raise
        cls.url = cls.state.url

    @classmethod
    def tearDownClass(cls):
        cls.state.stop()

    def setUp(self):
        self.assertTrue(self.state.agent.alive(), self.state.agent.log_text()[-3000:])

    def test_agent_log_prints_the_status_page_url(self):
        log = self.state.agent.log_text()
        self.assertRegex(log, r"status page at http://127\.0\.0\.1:%d/" % self.state.status_port)

    def test_healthz_and_readyz_answer_200_when_all_is_well(self):
        code, headers, body = http_get(self.url, "/healthz")
        self.assertEqual((code, body), (200, "ok\n"))
        code, headers, body = http_get(self.url, "/readyz")
        self.assertEqual((code, body), (200, "ready\n"))
        code, _, _ = http_get(self.url, "/no-such-page")
        self.assertEqual(code, 404)

    def test_status_json_has_the_known_figures(self):
        s = status_json(self.url)
        self.assertEqual(s["agent"]["agent_id"], "agt_1")
        self.assertEqual(s["agent"]["facility_id"], "fac-1")
        self.assertTrue(s["agent"]["ready"])
        self.assertEqual(s["agent"]["not_ready_reason"], "")
        self.assertEqual(s["connection"]["state"], "connected")
        self.assertEqual(s["connection"]["last_heartbeat_outcome"], "ok")
        self.assertIsNotNone(s["connection"]["last_sync_at"])
        self.assertLess(s["connection"]["last_heartbeat_age_seconds"], HEARTBEAT_SECONDS * 1.1 + 3)
        self.assertGreaterEqual(s["connection"]["heartbeats"]["ok"], 1)

        records = s["delivery"]["records"]
        self.assertEqual(records["delivered"], KnownState.DELIVERED)
        self.assertEqual(records["rejected"], KnownState.DEAD)
        self.assertEqual(records["enqueued"], KnownState.CSV_ENQUEUED)
        self.assertEqual(records["resent"], 0)
        self.assertFalse(s["delivery"]["paused"])
        by_status = sync_requests_by_status(self.state.sim)
        self.assertEqual(set(by_status), {200}, by_status)
        self.assertEqual(s["delivery"]["batches"], {"2xx": by_status[200], "4xx": 0, "5xx": 0, "other": 0,
                                                    "transport": 0})
        self.assertEqual(s["delivery"]["batch_send_duration_seconds"]["count"], by_status[200])

        self.assertEqual(s["outbox"]["pending"], KnownState.PENDING)
        self.assertEqual(s["outbox"]["in_batches"], 0)
        self.assertEqual(s["outbox"]["dead"], KnownState.DEAD)
        self.assertGreater(s["outbox"]["oldest_pending_age_seconds"], 0)
        self.assertGreater(s["outbox"]["size_bytes"], 0)

        self.assertEqual(s["ingest"]["files"], {"processed": 2, "failed": 2, "duplicate": 1})
        self.assertEqual(s["ingest"]["rows"]["ok"], KnownState.CSV_ENQUEUED)
        self.assertEqual(s["ingest"]["rows"]["failed"], 1)  # the patient without a dob
        self.assertFalse(s["ingest"]["paused"])

        files = {f["name"]: f for f in s["recent_files"]}
        self.assertEqual([f["name"] for f in s["recent_files"]],  # newest first
                         ["encounters_copy_e2e.csv", "patients_nolast_e2e.csv", "export_e2e.csv",
                          "encounters_e2e.csv", "patients_e2e.csv"])
        self.assertEqual((files["patients_e2e.csv"]["outcome"], files["patients_e2e.csv"]["rows_ok"],
                          files["patients_e2e.csv"]["rows_failed"]), ("processed", 6, 1))
        self.assertEqual((files["encounters_e2e.csv"]["outcome"], files["encounters_e2e.csv"]["rows_ok"]),
                         ("processed", 4))
        self.assertEqual(files["encounters_copy_e2e.csv"]["outcome"], "duplicate")
        self.assertEqual(files["export_e2e.csv"]["outcome"], "failed")
        self.assertEqual(files["patients_nolast_e2e.csv"]["outcome"], "failed")

        dead = {d["record_id"]: d for d in s["dead_letters"]}
        self.assertEqual(set(dead), set(self.state.dead_ids))
        for rid, (rtype, source, row) in self.state.dead_ids.items():
            d = dead[rid]
            self.assertEqual((d["type"], d["source_file"], d["source_row"]), (rtype, source, row), d)
            self.assertEqual(d["error"], "invalid_record")
            self.assertIn("reject_ids", d["message"])

        # The chart's history ends with the running interval: every record delivered so far is in it.
        self.assertGreaterEqual(len(s["history"]), 2)
        self.assertEqual(sum(p["delivered"] for p in s["history"]), KnownState.DELIVERED)
        self.assertEqual(s["history"][-1]["queued"], KnownState.PENDING)

        # The simulator agrees on what was delivered.
        self.assertEqual(self.state.sim.stats()["records_unique"], KnownState.DELIVERED)

    def test_metrics_have_the_known_counters(self):
        sim_beats_before = self.state.sim.stats()["heartbeats"]
        code, headers, text = http_get(self.url, "/metrics")
        sim_beats_after = self.state.sim.stats()["heartbeats"]
        self.assertEqual(code, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        m = parse_metrics(text)
        for name, _ in m:
            self.assertTrue(name.startswith("opescare_bridge_"), name)
        build = [labels for name, labels in m if name == "opescare_bridge_build_info"]
        self.assertEqual(len(build), 1)
        version = run_cli(["version"]).stdout
        self.assertIn(dict(build[0])["version"], version)

        self.assertEqual(metric(m, "opescare_bridge_records_delivered_total"), KnownState.DELIVERED)
        self.assertEqual(metric(m, "opescare_bridge_records_rejected_total"), KnownState.DEAD)
        self.assertEqual(metric(m, "opescare_bridge_records_enqueued_total"), KnownState.CSV_ENQUEUED)
        self.assertEqual(metric(m, "opescare_bridge_records_resent_total"), 0)
        self.assertEqual(metric(m, "opescare_bridge_outbox_pending_records"), KnownState.PENDING)
        self.assertEqual(metric(m, "opescare_bridge_outbox_in_batch_records"), 0)
        self.assertEqual(metric(m, "opescare_bridge_outbox_dead_records"), KnownState.DEAD)
        self.assertGreater(metric(m, "opescare_bridge_outbox_oldest_pending_age_seconds"), 0)
        self.assertGreater(metric(m, "opescare_bridge_outbox_size_bytes"), 0)
        self.assertEqual(metric(m, "opescare_bridge_files_total", outcome="processed"), 2)
        self.assertEqual(metric(m, "opescare_bridge_files_total", outcome="failed"), 2)
        self.assertEqual(metric(m, "opescare_bridge_files_total", outcome="duplicate"), 1)
        self.assertEqual(metric(m, "opescare_bridge_rows_total", outcome="ok"), KnownState.CSV_ENQUEUED)
        self.assertEqual(metric(m, "opescare_bridge_rows_total", outcome="failed"), 1)
        self.assertEqual(metric(m, "opescare_bridge_ingest_paused"), 0)
        self.assertEqual(metric(m, "opescare_bridge_delivery_paused"), 0)
        self.assertEqual(metric(m, "opescare_bridge_delivery_backoff_remaining_seconds"), 0)

        for state in ("unknown", "connected", "unauthorized", "config_error", "unreachable", "tls_error",
                      "server_error"):
            self.assertEqual(metric(m, "opescare_bridge_connection_state", state=state),
                             1 if state == "connected" else 0, state)
        ok_beats = metric(m, "opescare_bridge_heartbeats_total", outcome="ok")
        # The agent counts a beat when its answer arrives, the simulator when the request does.
        self.assertGreaterEqual(ok_beats, sim_beats_before - 1)
        self.assertLessEqual(ok_beats, sim_beats_after)
        for outcome in ("unauthorized", "config_error", "unreachable", "tls_error", "server_error"):
            self.assertEqual(metric(m, "opescare_bridge_heartbeats_total", outcome=outcome), 0, outcome)
        self.assertGreater(metric(m, "opescare_bridge_last_heartbeat_timestamp_seconds"), time.time() - 60)
        self.assertGreater(metric(m, "opescare_bridge_last_sync_timestamp_seconds"), time.time() - 600)
        self.assertIn(("opescare_bridge_clock_offset_seconds", frozenset()), m)

        batches = sync_requests_by_status(self.state.sim).get(200, 0)
        self.assertGreaterEqual(batches, 2)
        self.assertEqual(metric(m, "opescare_bridge_batches_total", status_class="2xx"), batches)
        for cls in ("4xx", "5xx", "other", "transport"):
            self.assertEqual(metric(m, "opescare_bridge_batches_total", status_class=cls), 0, cls)
        self.assertEqual(metric(m, "opescare_bridge_batch_send_duration_seconds_count"), batches)
        self.assertEqual(metric(m, "opescare_bridge_batch_send_duration_seconds_bucket", le="+Inf"), batches)
        self.assertGreater(metric(m, "opescare_bridge_batch_send_duration_seconds_sum"), 0)

    @unittest.skipUnless(promtool(), "promtool is not installed (scripts/install-deps.sh browser)")
    def test_promtool_check_metrics_passes(self):
        code, _, text = http_get(self.url, "/metrics")
        self.assertEqual(code, 200)
        r = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "")
        # The check is worth something: promtool does object to a badly named counter.
        bad = "# HELP opescare_bridge_things Things.\n# TYPE opescare_bridge_things counter\nopescare_bridge_things 1\n"
        r = subprocess.run([promtool(), "check", "metrics"], input=bad, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)

    @unittest.skipUnless(browser.find_chromium(), "chromium is not installed (scripts/install-deps.sh browser)")
    def test_page_in_chromium_shows_what_status_json_says(self):
        code, headers, html = http_get(self.url, "/")
        self.assertEqual(code, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn("default-src 'none'", headers.get("content-security-policy", ""))
        # Self-contained: no script, no outside resource.
        self.assertNotRegex(html, r"(?i)<script|<link|\bsrc\s*=|url\(")

        before = status_json(self.url)
        dom = browser.dump_dom(self.url + "/")
        after = status_json(self.url)
        els = browser.elements_by_id(dom)
        for s in (before, after):  # the figures of this state are stable; both reads must agree with the page
            self.assertEqual(els["state"]["attrs"]["data-state"], s["connection"]["state"])
            self.assertEqual(int(els["pending"]["attrs"]["data-value"]),
                             s["outbox"]["pending"] + s["outbox"]["in_batches"])
            self.assertEqual(int(els["in-batches"]["attrs"]["data-value"]), s["outbox"]["in_batches"])
            self.assertEqual(int(els["dead"]["attrs"]["data-value"]), s["outbox"]["dead"])
            self.assertEqual(int(els["delivered"]["attrs"]["data-value"]), s["delivery"]["records"]["delivered"])
            self.assertEqual(els["last-sync"]["attrs"]["data-time"], s["connection"]["last_sync_at"])
        self.assertEqual(els["state"]["attrs"]["data-state"], "connected")
        self.assertIn("ok", els["state"]["attrs"]["class"].split())  # green
        self.assertEqual(browser.element_text(dom, "state-headline"), after["connection"]["headline"])
        self.assertEqual(browser.element_text(dom, "agent-id"), "agt_1")
        self.assertEqual(browser.element_text(dom, "facility-id"), "fac-1")
        self.assertEqual(browser.element_text(dom, "pending"), str(KnownState.PENDING))
        self.assertEqual(browser.element_text(dom, "dead"), str(KnownState.DEAD))
        self.assertEqual(browser.element_text(dom, "delivered"), str(KnownState.DELIVERED))
        self.assertNotEqual(browser.element_text(dom, "last-heartbeat"), "never")
        self.assertIn("3 records were refused", browser.element_text(dom, "dead-notice"))
        self.assertEqual(int(els["delivered-24h"]["attrs"]["data-value"]), KnownState.DELIVERED)
        self.assertEqual(els["history-chart"]["tag"], "svg")
        self.assertGreaterEqual(int(els["history-chart"]["attrs"]["data-points"]), 2)

        files_table = browser.element_text(dom, "recent-files")
        for f in after["recent_files"]:
            self.assertIn(f["name"], files_table)
        outcomes = re.findall(r'data-outcome="(\w+)"', dom)
        self.assertEqual(outcomes, [f["outcome"] for f in after["recent_files"]])
        dead_rows = re.findall(r'data-record-id="([^"]+)"', dom)
        self.assertEqual(dead_rows, [d["record_id"] for d in after["dead_letters"]])
        dead_table = browser.element_text(dom, "dead-letters")
        for d in after["dead_letters"]:
            self.assertIn(d["source_file"], dead_table)
            self.assertIn("invalid_record", dead_table)

        shot = browser.screenshot(self.url + "/", os.path.join(os.environ.get("OB_BUILD_DIR") or self.state.tmp,
                                                                "status-page.png"), width=1200, height=1800)
        self.assertGreater(os.path.getsize(shot), 10000)

    def test_no_patient_value_and_no_key_in_any_endpoint(self):
        secrets = sensitive_values() | {self.state.key}
        for path in ENDPOINTS:
            code, headers, body = http_get(self.url, path)
            self.assertIn(code, (200, 503), path)
            text = body + "\n" + "\n".join("%s: %s" % kv for kv in headers.items())
            leaked = sorted(v for v in secrets if v in text)
            self.assertEqual(leaked, [], "%s shows %r" % (path, leaked))
        # Sanity: the values did reach OpesCare, so their absence above means something.
        delivered = json.dumps(self.state.sim.records())
        self.assertIn("Zephyrine", delivered)
        self.assertIn("+237 699 880 114", delivered)

    def test_many_slow_clients_do_not_delay_heartbeats(self):
        holders = SlowClients(self.state.status_port, count=50)
        holders.start()
        try:
            wait_until(lambda: holders.opened >= 50, 20, what="50 slow clients connected")
            t0 = time.time()
            # The status server stays usable for a newcomer while the slow ones hold on.
            code, _, body = http_get(self.url, "/healthz", timeout=10)
            self.assertEqual((code, body), (200, "ok\n"))

            def beats_since_t0():
                return [b["received_unix"] for b in self.state.sim.heartbeats() if b["received_unix"] >= t0]

            wait_until(lambda: len(beats_since_t0()) >= 4, HEARTBEAT_SECONDS * 4 * 1.1 + 15, interval=0.5,
                       what="4 heartbeats while 50 slow clients hold connections")
            self.assertGreaterEqual(holders.open_now(), 1)
        finally:
            holders.stop()
        times = sorted(beats_since_t0())[:4]
        intervals = [b - a for a, b in zip(times, times[1:])]
        if os.environ.get("OB_E2E_VERBOSE"):
            print("\nheartbeat intervals %s; slow clients opened %d, dropped by the server %d"
                  % (["%.3f" % i for i in intervals], holders.opened, holders.dropped_by_server))
        margin = 0.6  # loopback TLS round trip plus a loaded 2-core machine
        for iv in intervals:
            self.assertGreaterEqual(iv, HEARTBEAT_SECONDS * 0.9 - margin, intervals)
            self.assertLessEqual(iv, HEARTBEAT_SECONDS * 1.1 + margin, intervals)
        self.assertGreaterEqual(holders.opened, 50)
        self.assertTrue(self.state.agent.alive())

        # Once the slow clients are gone it answers as before. A connection opened while the server is still
        # evicting the storm's ones may be the one it drops: ask again rather than race the eviction.
        def healthy():
            try:
                return http_get(self.url, "/healthz", timeout=5)[0] == 200
            except OSError:
                return False
        wait_until(healthy, 15, interval=0.5, what="/healthz after the slow clients left")


class SlowClients:
    """`count` TCP clients that each send part of a request, then trickle a header byte every second and never
    finish it. The server caps its connections (evicting the oldest idle one), so a dropped client connects
    again after RECONNECT_DELAY: the pressure lasts. A thread runs them until stop(); bounded in time and in
    connections."""

    PARTIAL = b"GET /status.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    RECONNECT_DELAY = 0.5

    def __init__(self, port, count, max_seconds=120, max_connects=20000):
        self.port = port
        self.count = count
        self.max_seconds = max_seconds
        self.max_connects = max_connects
        self.socks = [None] * count
        self.dropped_at = [0.0] * count
        self.opened = 0
        self.dropped_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)
        with self._lock:
            for s in self.socks:
                if s is not None:
                    s.close()
            self.socks = [None] * self.count

    def open_now(self):
        with self._lock:
            return sum(1 for s in self.socks if s is not None)

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        s.sendall(self.PARTIAL)
        s.setblocking(False)
        self.opened += 1
        return s

    @staticmethod
    def _alive(s):
        try:
            return bool(s.recv(4096))  # b"": the server closed it (an early answer would end it too)
        except BlockingIOError:
            return True
        except OSError:
            return False

    def _run(self):
        deadline = time.monotonic() + self.max_seconds
        last_trickle = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            trickle = now - last_trickle >= 1.0
            if trickle:
                last_trickle = now
            for i in range(self.count):
                s = self.socks[i]
                if s is not None and not self._alive(s):
                    s.close()
                    with self._lock:
                        self.socks[i] = None
                    self.dropped_by_server += 1
                    self.dropped_at[i] = now
                    continue
                if s is None:
                    if self.opened >= self.max_connects or now - self.dropped_at[i] < self.RECONNECT_DELAY:
                        continue
                    try:
                        s = self._connect()
                    except OSError:
                        self.dropped_at[i] = now
                        continue
                    with self._lock:
                        self.socks[i] = s
                elif trickle:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass
            self._stop.wait(0.1)


class ReadinessWhenPausedTest(unittest.TestCase):
    """A wrong key: /readyz says 503 with the reason, the page is red with the fix, /healthz stays 200."""

    def test_wrong_key_pauses_delivery_and_readyz_says_why(self):
        tmp = e2e_tmpdir("status-key-")
        key, _ = make_agent_key()
        wrong_key = "obk_wrong_" + make_agent_key()[0][4:]
        ndjson = write_bytes(os.path.join(tmp, "patients_wrong_key.ndjson"), patient_ndjson(NDJSON_PATIENTS[:2]))
        with Simulator(tmp, agents={"agt_1": key}) as sim:
            cfg = write_config(tmp, sim, heartbeat_interval_seconds=HEARTBEAT_SECONDS)
            r = run_cli(["enqueue", ndjson], cfg, key=wrong_key)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with Agent(cfg, key=wrong_key) as agent:
                url = agent.status_url(timeout=20)
                agent.wait_log(r"connection: unauthorized", timeout=20)
                agent.wait_log(r"delivery PAUSED", timeout=20)

                def not_ready():
                    code, _, body = http_get(url, "/readyz")
                    return (code, body) if code == 503 and "delivery is paused" in body else None

                code, body = wait_until(not_ready, 20, interval=0.3, what="/readyz 503 with delivery paused")
                self.assertTrue(body.startswith("not ready: "), body)
                self.assertIn("OpesCare refused the agent key (bridge_token_invalid)", body)
                self.assertEqual(http_get(url, "/healthz")[:3:2], (200, "ok\n"))

                s = status_json(url)
                self.assertFalse(s["agent"]["ready"])
                self.assertEqual("not ready: " + s["agent"]["not_ready_reason"] + "\n", body)
                self.assertEqual(s["connection"]["state"], "unauthorized")
                self.assertEqual(s["connection"]["last_error_code"], "bridge_token_invalid")
                self.assertTrue(s["connection"]["fix"])
                self.assertTrue(s["delivery"]["paused"])
                self.assertEqual(s["outbox"]["pending"] + s["outbox"]["in_batches"], 2)
                self.assertEqual(s["delivery"]["records"]["delivered"], 0)

                m = parse_metrics(http_get(url, "/metrics")[2])
                self.assertEqual(metric(m, "opescare_bridge_connection_state", state="unauthorized"), 1)
                self.assertEqual(metric(m, "opescare_bridge_connection_state", state="connected"), 0)
                self.assertEqual(metric(m, "opescare_bridge_delivery_paused"), 1)
                self.assertGreaterEqual(metric(m, "opescare_bridge_heartbeats_total", outcome="unauthorized"), 1)
                self.assertEqual(metric(m, "opescare_bridge_batches_total", status_class="4xx"), 1)

                code, _, page = http_get(url, "/")
                self.assertEqual(code, 200)
                self.assertIn('data-state="unauthorized"', page)
                self.assertRegex(page, r'class="banner bad"')
                self.assertIn('id="fix"', page)
                self.assertIn('id="delivery-paused"', page)

                secrets = sensitive_values() | {key, wrong_key}
                for path in ENDPOINTS:
                    body = http_get(url, path)[2]
                    leaked = sorted(v for v in secrets if v in body)
                    self.assertEqual(leaked, [], "%s shows %r" % (path, leaked))
                self.assertEqual(agent.stop(), 0)


class StatusCommandTest(unittest.TestCase):
    """`opescare-bridge status [--json]`: from the running agent, then from the outbox file once it stopped."""

    def test_status_from_the_agent_then_from_the_outbox(self):
        state = KnownState("status-cli-")
        try:
            state.start()
            secrets = sensitive_values() | {state.key}
            live_json = run_cli(["status", "--json"], state.cfg, key=state.key)
            self.assertEqual(live_json.returncode, 0, live_json.stdout + live_json.stderr)
            live = json.loads(live_json.stdout)
            self.assertEqual(live["source"], "agent")
            self.assertEqual(live["status"]["outbox"]["pending"], KnownState.PENDING)
            self.assertEqual(live["status"]["outbox"]["in_batches"], 0)
            self.assertEqual(live["status"]["outbox"]["dead"], KnownState.DEAD)
            self.assertEqual(live["status"]["delivery"]["records"]["delivered"], KnownState.DELIVERED)
            self.assertEqual(live["status"]["connection"]["state"], "connected")

            live_text = run_cli(["status"], state.cfg, key=state.key)
            self.assertEqual(live_text.returncode, 0, live_text.stdout + live_text.stderr)
            self.assertIn("running (status from its status page)", live_text.stdout)
            self.assertRegex(live_text.stdout, r"connection:\s+connected")
            self.assertRegex(live_text.stdout, r"queued:\s+%d pending, 0 in batches" % KnownState.PENDING)
            self.assertRegex(live_text.stdout, r"dead letters:\s+%d\b" % KnownState.DEAD)

            self.assertEqual(state.agent.stop(), 0)
            off_json = run_cli(["status", "--json"], state.cfg, key=state.key)
            self.assertEqual(off_json.returncode, 0, off_json.stdout + off_json.stderr)
            off = json.loads(off_json.stdout)
            self.assertEqual(off["source"], "outbox")
            self.assertFalse(off["agent_running"])
            self.assertEqual(off["queued"], KnownState.PENDING)
            self.assertEqual(off["pending"], live["status"]["outbox"]["pending"])
            self.assertEqual(off["dead"], live["status"]["outbox"]["dead"])
            self.assertIsNotNone(off["last_sync_at"])

            off_text = run_cli(["status"], state.cfg, key=state.key)
            self.assertEqual(off_text.returncode, 0, off_text.stdout + off_text.stderr)
            self.assertIn("not answering on 127.0.0.1:%d" % state.status_port, off_text.stdout)
            self.assertRegex(off_text.stdout, r"queued:\s+%d \(%d pending, 0 in batches\)"
                             % (KnownState.PENDING, KnownState.PENDING))
            self.assertRegex(off_text.stdout, r"dead letters:\s+%d\b" % KnownState.DEAD)

            for r in (live_json, live_text, off_json, off_text):
                out = r.stdout + r.stderr
                self.assertEqual(sorted(v for v in secrets if v in out), [])
        finally:
            state.stop()


if __name__ == "__main__":
    unittest.main()
