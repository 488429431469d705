"""End to end: the CSV folder connector inside the real agent, delivering to the simulator (issue 5): sample
and corpus exports arrive field for field, a file still being written waits until it settles, the same
content dropped twice is queued once, files wait while the outbox is over its cap, and a 100 MB file ingests
in bounded memory.

The helpers at the top (expected records from an export, drops, outbox inspection) are shared with
test_connector_crash.py.
"""

import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import sqlite3
import time
import unittest
import urllib.request

from agentproc import Agent, write_config
from simulator import Simulator, e2e_tmpdir, make_agent_key, wait_until

SOURCE_DIR = os.environ.get("OB_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLES_DIR = os.path.join(SOURCE_DIR, "tests", "data", "samples")
CORPUS_DIR = os.path.join(SOURCE_DIR, "tests", "data", "csv")
SAMPLE_FILES = ["patients_20261129.csv", "patients_20261130_excel.csv", "encounters_20261129.csv",
                "lab_results_20261129.csv"]
# CSV.md's table: name fragment -> record type.
TYPES = [("patients_", "patient"), ("encounters_", "encounter"), ("lab_results_", "lab_result"),
         ("prescriptions_", "prescription"), ("appointments_", "appointment"), ("pharmacy_stock_", "pharmacy_stock")]

# ---- what an export must yield ------------------------------------------------------------------------------


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record_id(file_sha256, row):
    """The connector's stable record id: RecordId(sha256(file), row)."""
    return "r_" + hashlib.sha256(("%s:%d" % (file_sha256, row)).encode()).hexdigest()[:32]


def type_of(name):
    for fragment, rtype in TYPES:
        if fragment in name.lower():
            return rtype
    return None


def normalize_header(name):
    return re.sub(r"[ -]", "_", name.strip().lower())


def parse_export(path):
    """[(row, data)] the way CSV.md reads a well-formed export (UTF-8 with or without BOM, else Windows-1252;
    delimiter sniffed from the header; cells trimmed, empty cells omitted, blank rows skipped; row = the
    physical line where the row starts). Only for files without invalid rows (the samples, generated files)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    first = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    delimiter = max([",", ";", "\t"], key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [normalize_header(h) for h in next(reader)]
    out, last_line = [], reader.line_num
    for cells in reader:
        row, last_line = last_line + 1, reader.line_num
        data = {h: c.strip() for h, c in zip(header, cells) if c.strip()}
        if data:
            out.append((row, data))
    return out


def expected_records(path, name=None):
    """{id: {"type", "data", "source"}} the simulator must hold after `path` is dropped as `name`."""
    name = name or os.path.basename(path)
    sha, rtype = sha256_file(path), type_of(name)
    return {record_id(sha, row): {"type": rtype, "data": data, "source": {"file": name, "row": row}}
            for row, data in parse_export(path)}


def corpus_cases():
    """Corpus files whose expected outcome holds under the default configuration: (name, expectation)."""
    cases = []
    for name in sorted(os.listdir(CORPUS_DIR)):
        if not name.endswith(".csv"):
            continue
        with open(os.path.join(CORPUS_DIR, name + ".expected.json"), encoding="utf-8") as f:
            exp = json.load(f)
        if exp.get("options", {}) in ({}, {"date_format": "YYYY-MM-DD"}):
            cases.append((name, exp))
    return cases


def received(sim_records):
    """The simulator's records without the batch they travelled in."""
    return {rid: {"type": r["type"], "data": r["data"], "source": r["source"]} for rid, r in sim_records.items()}


# ---- files and folders ----------------------------------------------------------------------------------------


def drop(folder, name, source=None, content=None):
    """Puts a file into the watch folder atomically (written under a hidden name, then renamed), as a
    well-behaved export would; returns its path."""
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, "." + name + ".part")
    if source is not None:
        shutil.copyfile(source, tmp)
    else:
        with open(tmp, "wb") as f:
            f.write(content)
    path = os.path.join(folder, name)
    os.rename(tmp, path)
    return path


def csv_names(folder):
    try:
        return sorted(n for n in os.listdir(folder) if n.lower().endswith(".csv") and not n.startswith("."))
    except FileNotFoundError:
        return []


def outbox_snapshot(db_path, scratch):
    """Reads a copy of the outbox (database plus WAL) so the agent's own files are left exactly as a crash
    left them: {"integrity", "records", "distinct_rows", "files": [(sha256, name, rows_ok)],
    "progress": [(sha256, rows_done, rows_ok)]} (progress: files queued in slices, not finished yet)."""
    os.makedirs(scratch, exist_ok=True)
    copy = os.path.join(scratch, "outbox-copy.db")
    for suffix in ("", "-wal"):
        if os.path.exists(copy + suffix):
            os.unlink(copy + suffix)
        if os.path.exists(db_path + suffix):
            shutil.copyfile(db_path + suffix, copy + suffix)
    db = sqlite3.connect(copy)
    try:
        snap = {"integrity": db.execute("PRAGMA integrity_check").fetchall(),
                "records": db.execute("SELECT count(*) FROM records").fetchone()[0],
                "distinct_rows": db.execute("SELECT count(DISTINCT file_id || ':' || source_row) FROM records")
                .fetchone()[0],
                "files": db.execute("SELECT sha256, name, rows_ok FROM ingested_files ORDER BY rowid").fetchall(),
                "progress": db.execute("SELECT sha256, rows_done, rows_ok FROM file_progress").fetchall()
                if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'file_progress'").fetchone() else []}
    finally:
        db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(copy + suffix):
            os.unlink(copy + suffix)
    return snap


def integrity_check(db_path):
    db = sqlite3.connect(db_path)
    try:
        return db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()


def status_json(agent):
    with urllib.request.urlopen(agent.status_url() + "/status.json", timeout=10) as resp:
        return json.loads(resp.read())


def vm_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def thread_count(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def idle_threads(pid):
    """The agent's threads with nothing to do: the fewest of a few looks (a lookup's thread comes and goes)."""
    counts = []
    for _ in range(5):
        counts.append(thread_count(pid))
        time.sleep(0.1)
    return min(counts)


def assert_parse_thread_ended(test, agent, idle):
    """The parse thread lives only while a file is parsed: once the file is dealt with (queued, or waiting
    in the folder), the agent is back to the threads it had idle."""
    wait_until(lambda: thread_count(agent.pid) <= idle, 10,
               what="the agent back to its %d idle threads (a parse thread left behind?)" % idle)
    test.assertEqual(idle_threads(agent.pid), idle)


def connector_lines(log, name):
    """The agent's "connector: NAME: ..." lines about one file."""
    return re.findall(r"connector: %s: [^\n]*" % re.escape(name), log)


def patients_csv(rows, seed, first_row=0):
    """A generated patients export (UTF-8, comma, LF) of `rows` rows, fast: bytes."""
    rnd = random.Random(seed)
    firsts = ["Marie", "Jean-Pierre", "Aïssatou", "Noël", "Zoë", "Samuel", "O'Neil"]
    cities = ["Douala", "Yaoundé", "Bafoussam", "Garoua", "Kribi \"plage\"", "Limbé, Sud-Ouest"]
    out = ["health_id,first_name,last_name,dob,sex,phone,city\n"]
    for i in range(first_row, first_row + rows):
        city = cities[rnd.randrange(len(cities))]
        if '"' in city or "," in city:
            city = '"' + city.replace('"', '""') + '"'
        out.append("OC-%07d,%s,Fouda-%d,19%02d-%02d-%02d,%s,+2376%08d,%s\n"
                   % (i, firsts[i % 7], i, i % 100, i % 12 + 1, i % 28 + 1, "female" if i % 2 else "male",
                      i, city))
    return "".join(out).encode("utf-8")


# ---- the tests ------------------------------------------------------------------------------------------------


class ConnectorTest(unittest.TestCase):
    def setUp(self):
        self.tmp = e2e_tmpdir("conn-")
        self.key, _ = make_agent_key()
        self.incoming = os.path.join(self.tmp, "incoming")
        self.processed = os.path.join(self.incoming, "processed")
        self.failed = os.path.join(self.incoming, "failed")

    def config(self, sim, **overrides):
        overrides.setdefault("sync_interval_seconds", 2)
        return write_config(self.tmp, sim, **overrides)

    def test_samples_and_corpus_arrive_field_for_field_with_error_reports(self):
        expected, outcomes = {}, {}
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            cfg = self.config(sim)
            with Agent(cfg, key=self.key) as agent:
                agent.wait_log(r"connector: watching", timeout=20)
                for name in SAMPLE_FILES:
                    src = os.path.join(SAMPLES_DIR, name)
                    expected.update(expected_records(src))
                    outcomes[name] = ("queued", len(parse_export(src)), [])
                    drop(self.incoming, name, source=src)
                for name, exp in corpus_cases():
                    src = os.path.join(CORPUS_DIR, name)
                    sha = sha256_file(src)
                    for r in exp["records"]:
                        expected[record_id(sha, r["row"])] = {"type": exp["type"], "data": r["data"],
                                                              "source": {"file": name, "row": r["row"]}}
                    outcomes[name] = (exp["outcome"], len(exp["records"]), exp["errors"])
                    drop(self.incoming, name, source=src)
                self.assertGreaterEqual(len(outcomes), 15, "the corpus shrank: %s" % sorted(outcomes))

                wait_until(lambda: not csv_names(self.incoming), 60, what="every dropped file moved")
                sim.wait_stats(timeout=60, records_unique=len(expected))
                time.sleep(1)  # nothing more may come
                self.assertEqual(agent.stop(), 0)
                log = agent.log_text()

            got = received(sim.records())
            self.assertEqual(set(got), set(expected), "record ids differ")
            for rid in expected:
                self.assertEqual(got[rid], expected[rid], "record %s" % rid)
            stats = sim.stats()
            self.assertEqual((stats["records_total"], stats["records_duplicate"], stats["records_rejected"]),
                             (len(expected), 0, 0), stats)

        queued = sorted(n for n, o in outcomes.items() if o[0] == "queued")
        rejected = sorted(n for n, o in outcomes.items() if o[0] == "rejected")
        self.assertEqual(csv_names(self.processed), queued)
        self.assertEqual(sorted(n for n in csv_names(self.failed) if not n.endswith(".errors.csv")), rejected)
        for name, (outcome, count, errors) in outcomes.items():
            lines = connector_lines(log, name)
            self.assertEqual(len(lines), 1, "%s: %s" % (name, lines))
            if outcome == "queued":
                self.assertRegex(lines[0], r": queued %d [a-z_]+ records?\b" % count)
            else:
                self.assertIn("rejected, nothing queued", lines[0])
            report = os.path.join(self.failed, name + ".errors.csv")
            if not errors:
                self.assertFalse(os.path.exists(report), "%s has an errors report" % name)
                continue
            with open(report, encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f))
            self.assertEqual(rows[0], ["row", "column", "reason"], name)
            self.assertEqual(len(rows) - 1, len(errors), "%s report: %s" % (name, rows))
            for line, want in zip(rows[1:], errors):
                self.assertEqual(line[0], "" if want["row"] is None else str(want["row"]), "%s: %s" % (name, line))
                self.assertEqual(line[1], want["column"], "%s: %s" % (name, line))
                self.assertIn(want["reason"], line[2], "%s: %s" % (name, line))
        # No patient's name or phone number in the log (debug level), though every sample went through.
        with open(os.path.join(SAMPLES_DIR, "SENSITIVE.txt"), encoding="utf-8") as f:
            sensitive = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        leaked = [v for v in sensitive if v in log]
        self.assertEqual(leaked, [], "sensitive sample values in the agent log")

    def test_file_appended_over_5_s_is_read_once_after_it_settles(self):
        name = "patients_slow_20261201.csv"
        path = os.path.join(self.incoming, name)
        rows = patients_csv(10, seed=5).decode().splitlines(keepends=True)
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            cfg = self.config(sim, connector={"settle_seconds": 2, "scan_interval_seconds": 1})
            with Agent(cfg, key=self.key) as agent:
                agent.wait_log(r"connector: watching", timeout=20)
                with open(path, "w", encoding="utf-8", newline="") as f:
                    f.write(rows[0])  # the header alone: a valid-looking file already
                for line in rows[1:]:
                    time.sleep(0.5)
                    self.assertTrue(os.path.exists(path), "the file was taken while still being written")
                    with open(path, "a", encoding="utf-8", newline="") as f:
                        f.write(line)
                last_write = time.monotonic()
                self.assertEqual(csv_names(self.processed), [])
                wait_until(lambda: os.path.exists(os.path.join(self.processed, name)), 30,
                           interval=0.02, what="the file in processed/")
                waited = time.monotonic() - last_write
                agent.wait_log(r"connector: %s: queued" % re.escape(name), timeout=10)
                sim.wait_stats(timeout=30, records_unique=10)
                time.sleep(1)
                self.assertEqual(agent.stop(), 0)
                log = agent.log_text()
            got = received(sim.records())
            stats = sim.stats()
        print("\nappended file moved %.2f s after its last write (settle 2 s)" % waited)
        # Read only once size and mtime were stable for settle_seconds (0.2 s of slack for clock granularity).
        self.assertGreaterEqual(waited, 1.8)
        lines = connector_lines(log, name)
        self.assertEqual(len(lines), 1, lines)  # one ingest: no partial read, no aborted attempt
        self.assertRegex(lines[0], r": queued 10 patient records; moved to ")
        self.assertNotIn("changed while it was being read", log)
        self.assertEqual(got, expected_records(os.path.join(self.processed, name)))
        self.assertEqual((stats["records_total"], stats["records_duplicate"]), (10, 0), stats)
        with open(os.path.join(self.processed, name), encoding="utf-8", newline="") as f:
            self.assertEqual(f.read(), "".join(rows))
        self.assertEqual(csv_names(self.incoming), [])

    def test_same_content_dropped_twice_and_under_another_name_is_queued_once(self):
        src = os.path.join(SAMPLES_DIR, "patients_20261129.csv")
        sha = sha256_file(src)
        copy_name = "patients_copy_20261129.csv"
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False) as sim:
            cfg = self.config(sim)
            with Agent(cfg, key=self.key) as agent:
                agent.wait_log(r"connector: watching", timeout=20)
                # The same content under two names at once, then the original name again once it was taken.
                drop(self.incoming, "patients_20261129.csv", source=src)
                drop(self.incoming, copy_name, source=src)
                agent.wait_log(r"connector: \S+: (queued|already queued)", count=2, timeout=30)
                sim.wait_stats(timeout=30, records_unique=8)
                drop(self.incoming, "patients_20261129.csv", source=src)
                agent.wait_log(r"connector: \S+: (queued|already queued)", count=3, timeout=30)
                wait_until(lambda: not csv_names(self.incoming), 10, what="the watch folder empty")
                time.sleep(2.5)  # a sync interval: a second copy of the records would be on its way
                self.assertEqual(agent.stop(), 0)
                log = agent.log_text()
            stats = sim.stats()
            got = received(sim.records())

        self.assertEqual((stats["records_unique"], stats["records_total"], stats["records_duplicate"]), (8, 8, 0),
                         stats)
        first = re.findall(r"connector: (\S+): queued 8 patient records", log)
        dups = re.findall(r"connector: (\S+): already queued \(same content, sha256 %s\.\.\.\)" % sha[:12], log)
        self.assertEqual(len(first), 1, log)
        self.assertEqual(sorted(first + dups),
                         sorted(["patients_20261129.csv", "patients_20261129.csv", copy_name]))
        self.assertEqual(got, expected_records(src, first[0]))

        processed = sorted(os.listdir(self.processed))
        csvs = csv_names(self.processed)
        notes = [n for n in processed if n.endswith(".duplicate")]
        self.assertEqual(len(csvs), 3, processed)
        self.assertEqual(len(notes), 2, processed)
        self.assertEqual(sorted(n[: -len(".duplicate")] for n in notes),
                         sorted(n for n in csvs if n != first[0]), processed)
        self.assertIn(copy_name, csvs)
        self.assertIn("patients_20261129.csv", csvs)
        renamed = [n for n in csvs if n not in ("patients_20261129.csv", copy_name)]
        self.assertRegex(renamed[0], r"^patients_20261129\..+\.csv$")  # the name was taken: renamed, kept
        for n in csvs:
            self.assertEqual(sha256_file(os.path.join(self.processed, n)), sha)
        with open(os.path.join(self.processed, notes[0]), encoding="utf-8") as f:
            self.assertIn(sha, f.read())
        snap = outbox_snapshot(os.path.join(self.tmp, "outbox.db"), os.path.join(self.tmp, "scratch"))
        self.assertEqual([f[0] for f in snap["files"]], [sha])

    def test_over_the_outbox_cap_files_wait_and_go_in_once_delivery_frees_room(self):
        big_name = "patients_big_20261201.csv"
        big_rows = 12000  # about 3 MiB of outbox: well over a 1 MiB cap
        waiting = ["encounters_20261129.csv", "lab_results_20261129.csv"]
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False,
                       faults={"outage_seconds": 600}) as sim:
            cfg = self.config(sim, outbox={"max_size_mb": 1})
            with Agent(cfg, key=self.key) as agent:
                agent.wait_log(r"connector: watching", timeout=20)
                idle = idle_threads(agent.pid)
                big = drop(self.incoming, big_name, content=patients_csv(big_rows, seed=7))
                # Queued in slices, the big file itself reaches the cap: the rest of it waits too.
                agent.wait_log(r"connector: %s: not processed yet; will retry: the outbox is full; the rest of the "
                               r"file waits" % re.escape(big_name), timeout=60)
                assert_parse_thread_ended(self, agent, idle)  # stopped mid-file, with rows parsed ahead
                snap = outbox_snapshot(os.path.join(self.tmp, "outbox.db"), os.path.join(self.tmp, "scratch"))
                self.assertTrue(0 < snap["records"] < big_rows, snap["records"])
                self.assertEqual(snap["progress"][0][2], snap["records"])  # exactly what its progress says
                expected = expected_records(big)
                self.assertTrue(os.path.exists(big))
                for name in waiting:
                    src = os.path.join(SAMPLES_DIR, name)
                    expected.update(expected_records(src))
                    drop(self.incoming, name, source=src)
                for name in waiting:
                    agent.wait_log(r"connector: %s: not processed yet; will retry: the outbox is above its size cap"
                                   % re.escape(name), timeout=20)
                ingest = status_json(agent)["ingest"]
                self.assertTrue(ingest["paused"], ingest)
                self.assertIn("size cap", ingest["paused_reason"])
                time.sleep(3)  # scans and retries come and go: the files stay
                self.assertEqual(csv_names(self.incoming), sorted(waiting + [big_name]))
                self.assertEqual(csv_names(self.processed), [])
                self.assertEqual(sim.stats()["records_total"], 0)

                sim.clear_faults()  # the server is back: delivery drains the outbox, the files go in
                sim.wait_stats(timeout=120, records_unique=len(expected))
                wait_until(lambda: not csv_names(self.incoming), 10, what="the waiting files taken")
                wait_until(lambda: not status_json(agent)["ingest"]["paused"], 10, what="ingest no longer paused")
                self.assertEqual(agent.stop(), 0)
                log = agent.log_text()
            got = received(sim.records())
            stats = sim.stats()
        self.assertEqual(got, expected)
        self.assertEqual((stats["records_total"], stats["records_duplicate"]), (len(expected), 0), stats)
        self.assertEqual(csv_names(self.processed), sorted([big_name] + waiting))
        for name in waiting + [big_name]:
            self.assertEqual(len(re.findall(r"connector: %s: queued \d+ " % re.escape(name), log)), 1)

    def test_100_mb_file_ingests_with_rss_growth_under_50_mb(self):
        name = "encounters_big_20261201.csv"
        rows = 250000
        content = encounters_csv(rows, 100 * 1000 * 1000)
        self.assertGreaterEqual(len(content), 100 * 1000 * 1000)
        # No delivery while measuring: the simulator is down and the agent syncs rarely.
        with Simulator(self.tmp, agents={"agt_1": self.key}, http=False,
                       faults={"outage_seconds": 900}) as sim:
            cfg = self.config(sim, sync_interval_seconds=600, log_level="info",
                              retry={"initial_backoff_seconds": 60, "max_backoff_seconds": 300})
            try:
                with Agent(cfg, key=self.key, env=small_asan_quarantine()) as agent:
                    agent.wait_log(r"connector: watching", timeout=20)
                    idle = idle_threads(agent.pid)
                    time.sleep(0.5)
                    rss_before = vm_kib(agent.pid, "VmRSS")
                    hwm_before = vm_kib(agent.pid, "VmHWM")
                    started = time.monotonic()
                    drop(self.incoming, name, content=content)
                    del content
                    agent.wait_log(r"connector: %s: queued %d encounter records" % (name, rows), timeout=240)
                    took = time.monotonic() - started
                    hwm_after = vm_kib(agent.pid, "VmHWM")
                    rss_after = vm_kib(agent.pid, "VmRSS")
                    assert_parse_thread_ended(self, agent, idle)
                    self.assertEqual(agent.stop(), 0)
                self.assertEqual(sim.stats()["records_total"], 0)
                snap = outbox_snapshot(os.path.join(self.tmp, "outbox.db"), os.path.join(self.tmp, "scratch"))
            finally:
                for big in (os.path.join(self.processed, name), os.path.join(self.incoming, name)):
                    if os.path.exists(big):
                        os.unlink(big)
        growth_mib = (hwm_after - rss_before) / 1024.0
        print("\n100 MB file: %d rows in %.1f s (%.0f rows/s); RSS before %.1f MiB (peak so far %.1f), peak after "
              "%.1f MiB, RSS after %.1f MiB: growth %.1f MiB"
              % (rows, took, rows / took, rss_before / 1024.0, hwm_before / 1024.0, hwm_after / 1024.0,
                 rss_after / 1024.0, growth_mib))
        self.assertLess(growth_mib, 50)
        self.assertEqual((snap["records"], snap["distinct_rows"], len(snap["files"])), (rows, rows, 1))
        self.assertEqual(snap["integrity"], [("ok",)])
        for suffix in ("", "-wal", "-shm"):  # a few hundred MB nobody needs once checked
            p = os.path.join(self.tmp, "outbox.db" + suffix)
            if os.path.exists(p):
                os.unlink(p)


def small_asan_quarantine():
    """Environment for an agent whose memory is measured: under AddressSanitizer (the CI's asan preset), freed
    memory is held in a 256 MiB quarantine that would be counted as the agent's; a small one keeps the figure
    about the agent. An uninstrumented agent ignores the variable."""
    options = [o for o in os.environ.get("ASAN_OPTIONS", "").split(":") if o]
    return {"ASAN_OPTIONS": ":".join(options + ["quarantine_size_mb=1", "thread_local_quarantine_size_kb=64"])}


def encounters_csv(rows, min_bytes):
    """A generated encounters export of `rows` rows and at least min_bytes, with quoted notes holding commas
    and doubled quotes (so the parser's slow paths run), built fast: bytes."""
    per_row = min_bytes // rows + 1
    words = ["consultation", "fièvre", "contrôle", "tension", "paludisme", "\"TDR\"", "suture,", "prénatale",
             "douleur", "vaccination"]
    rnd = random.Random(11)
    fillers = []
    for k in range(64):
        words_k = []
        while len(" ".join(words_k).encode("utf-8")) < per_row - 28:  # the other cells take about 28 bytes
            words_k.append(rnd.choice(words))
        fillers.append('"' + " ".join(words_k).replace('"', '""') + '"')
    out = ["health_id,date,notes,severity\n"]
    for i in range(rows):
        out.append("OC-%07d,2026-%02d-%02d,%s,%s\n" % (i, i % 12 + 1, i % 28 + 1, fillers[i % 64],
                                                         ("low", "high", "")[i % 3]))
    data = "".join(out).encode("utf-8")
    if len(data) < min_bytes:
        raise AssertionError("generated %d bytes, wanted at least %d" % (len(data), min_bytes))
    return data


if __name__ == "__main__":
    unittest.main()
