"""The checks of tests/windows/wine_e2e.py. Each takes the run's Context, prints what it saw through ctx.say, and
raises AssertionError (through expect) with what it saw when the agent does not do what it should."""

import json
import os
import re
import shutil
import time
import urllib.request

from simulator import wait_until
from test_connector import (SAMPLE_FILES, SAMPLES_DIR, csv_names, drop, expected_records, outbox_snapshot,
                            patients_csv, received, sha256_file)

SOURCE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# The published file of the Python agent (kept byte for byte equal to the spec's by test_cli_config.py).
BRIDGE_CONFIG_JSON = os.path.join(SOURCE, "tests", "data", "config", "bridge_config.json")


def expect(ok, what, saw):
    if not ok:
        raise AssertionError("%s; saw: %s" % (what, saw))


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def tail(text, n=12):
    return "\n".join(text.strip().splitlines()[-n:])


def wait_log(ctx, pattern, timeout, after=0, what=None, service=None):
    """Waits until the agent's log file, from byte `after` on, matches pattern; returns the match. With
    `service`, gives up as soon as its process is gone."""
    rx = re.compile(pattern)
    found = []

    def check():
        m = rx.search(read(ctx.log)[after:])
        if m:
            found.append(m)
            return True
        if service is not None and not service.alive():
            raise AssertionError("the agent's process ended before its log showed %r (%s); the log ends:\n%s"
                                 % (pattern, service.describe_end(), tail(read(ctx.log)[after:])))
        return False
    try:
        wait_until(check, timeout, interval=0.2, what=what or "the log line %r" % pattern)
    except TimeoutError as e:
        raise AssertionError("%s; the log ends:\n%s" % (e, tail(read(ctx.log)[after:]))) from None
    return found[-1]


def prepare_service_config(ctx):
    """Writes the key file and the service's configuration (key from agent_key_file: a service gets no
    environment from us). If check-config refuses the key file under wine, the key goes inline and we say so."""
    with open(ctx.key_file, "w") as f:
        f.write(ctx.key + "\n")
    os.chmod(ctx.key_file, 0o600)
    os.makedirs(ctx.incoming, exist_ok=True)
    ctx.write_config("config.yaml", ctx.agent_config())
    r = ctx.seen(ctx.target.cli(["check-config"], ctx.config, key=False))
    if r.returncode == 0:
        ctx.say("the service's configuration takes the key from agent_key_file (check-config: exit 0)")
        return
    ctx.say("check-config of the service configuration with agent_key_file exited %d:\n%s\n"
            "-> the key goes inline (agent_key) instead" % (r.returncode, tail(r.stdout + r.stderr)))
    ctx.write_config("config.yaml", ctx.agent_config(inline_key=True))


# ---- 1. check-config ------------------------------------------------------------------------------------------

def check_config(ctx):
    folder = os.path.join(ctx.data, "check-config")
    os.makedirs(folder, exist_ok=True)
    example = shutil.copy(os.path.join(SOURCE, "config.example.yaml"), folder)
    fixture = shutil.copy(BRIDGE_CONFIG_JSON, folder)
    for path, args in ((example, ["check-config"]), (fixture, ["check-config", "--strict"])):
        # Relative paths in both files (./data/incoming, ./opescare-bridge.db) resolve in this folder.
        r = ctx.seen(ctx.target.cli(args, path, cwd=folder))
        name = os.path.basename(path)
        ctx.say("%s on %s: exit %d: %s" % (" ".join(args), name, r.returncode, tail(r.stdout + r.stderr, 3)))
        expect(r.returncode == 0, "%s on %s should exit 0" % (" ".join(args), name), tail(r.stdout + r.stderr))
        expect("configuration is valid" in r.stdout, "check-config should say the configuration is valid",
               r.stdout)


# ---- 2. heartbeat over verified TLS ---------------------------------------------------------------------------

def check_heartbeat(ctx):
    before = ctx.sim.stats().get("heartbeats", 0)
    r = ctx.seen(ctx.target.cli(["heartbeat"], ctx.config))
    out = r.stdout + r.stderr
    ctx.say("heartbeat with http.ca_file = the test CA: exit %d\n%s" % (r.returncode, tail(out, 6)))
    expect(r.returncode == 0, "heartbeat should exit 0", tail(out))
    expect("outcome:  connected (HTTP 200)" in r.stdout, "heartbeat should report connected (HTTP 200)", out)
    expect(re.search(r"(?m)^tls:\s+TLSv1\.[23], certificate CN=127\.0\.0\.1", r.stdout),
           "the report should name the TLS version and the server's certificate", out)
    expect("X-Bridge-Agent-Key: ***" in r.stdout, "the key header should be shown as ***", out)
    beat = ctx.sim.heartbeats()[-1]
    ctx.say("simulator: heartbeats %d -> %d, the last: HTTP %s over TLS %s"
            % (before, ctx.sim.stats()["heartbeats"], beat["status"], beat["tls"]))
    expect(ctx.sim.stats()["heartbeats"] == before + 1 and beat["status"] == 200 and beat["tls"],
           "the simulator should have accepted one more heartbeat over TLS", beat)

    wrong = ctx.write_config("config-wrong-ca.yaml", ctx.agent_config(ca_file=ctx.tls["other_ca"]))
    beats = ctx.sim.stats()["heartbeat_requests"]
    r = ctx.seen(ctx.target.cli(["heartbeat"], wrong))
    out = r.stdout + r.stderr
    ctx.say("heartbeat with http.ca_file = another CA: exit %d\n%s" % (r.returncode, tail(out, 6)))
    expect(r.returncode == 3, "a certificate from a CA not trusted should make heartbeat exit 3", tail(out))
    expect(re.search(r"(?m)^outcome:  tls_error", r.stdout), "the outcome should be tls_error", out)
    expect(re.search(r"OB Wine E2E Test CA.*not a trusted CA|unable to get local issuer", out),
           "the detail should give the certificate's reason (its issuer is not a trusted CA)", out)
    expect(ctx.sim.stats()["heartbeat_requests"] == beats, "no request may reach the simulator past a refused "
           "certificate", ctx.sim.stats())
    for text in ctx.outputs[-2:]:
        expect(ctx.key not in text, "the agent key must never be in the output", "the key in: " + tail(text))
    ctx.say("the key is in neither output")


# ---- 3. run as a service: files arrive field for field --------------------------------------------------------

def ensure_service(ctx):
    """Registers (once) and starts the service, waiting until it watches the folder and serves its status."""
    if ctx.service_broken:
        raise AssertionError("the service could not be set up earlier: " + ctx.service_broken)
    try:
        if ctx.service is None:
            ctx.service = ctx.target.service(ctx.config, ctx.log, console=ctx.args.service_mode == "console")
            ctx.service.remove(ctx.say)
            ctx.service.install(ctx.say)
        if ctx.service_ready and ctx.service.alive():
            return
        mark = len(read(ctx.log))
        ctx.say("service: start: " + ctx.service.start())
        wait_log(ctx, r"connector: watching", 60, after=mark, service=ctx.service)
        wait_log(ctx, r"status page at http://127\.0\.0\.1:%d" % ctx.status_port, 30, after=mark,
                 service=ctx.service)
    except (AssertionError, TimeoutError) as e:
        ctx.service_broken = "%s" % str(e).splitlines()[0]
        raise
    ctx.say("service: running (pids %s), watching %s" % (ctx.service.pids(), ctx.target.path(ctx.incoming)))
    ctx.service_ready = True


def wait_records(ctx, ids, timeout, what):
    ids = set(ids)
    last = {}

    def arrived():
        last["got"] = set(ctx.sim.record_ids())
        return ids <= last["got"]
    try:
        wait_until(arrived, timeout, interval=0.5, what=what)
    except TimeoutError as e:
        missing = ids - last.get("got", set())
        raise AssertionError("%s: %d of %d records missing; simulator %s; the log ends:\n%s"
                             % (e, len(missing), len(ids), ctx.sim.stats(), tail(read(ctx.log)))) from None


def compare(expected, got):
    """'' when the simulator's records equal the expected ones field for field, else the first difference."""
    missing = sorted(set(expected) - set(got))
    if missing:
        return "%d records missing, e.g. %s %s" % (len(missing), missing[0], expected[missing[0]])
    for rid in sorted(expected):
        if got[rid] != expected[rid]:
            return "record %s differs:\n expected %s\n received %s" % (rid, expected[rid], got[rid])
    return ""


def check_service_delivery(ctx):
    ensure_service(ctx)
    expected = {}
    for name in SAMPLE_FILES:
        src = os.path.join(SAMPLES_DIR, name)
        expected.update(expected_records(src))
        drop(ctx.incoming, name, source=src)
    ctx.say("dropped %d sample files (%d rows) into the watch folder" % (len(SAMPLE_FILES), len(expected)))
    wait_records(ctx, expected, 60, "the sample rows at the simulator")
    got = received(ctx.sim.records())
    diff = compare(expected, {rid: got[rid] for rid in expected if rid in got})
    expect(not diff, "every row should arrive field for field", diff)
    wait_until(lambda: csv_names(ctx.incoming) == [], 20, what="the folder emptied")
    processed = csv_names(os.path.join(ctx.incoming, "processed"))
    ctx.say("all %d rows arrived field for field; processed/ holds %s" % (len(expected), processed))
    expect(processed == sorted(SAMPLE_FILES), "every file should be moved to processed/", processed)


# ---- 6. the status page from Linux ----------------------------------------------------------------------------

def http_get(ctx, path):
    url = "http://127.0.0.1:%d%s" % (ctx.status_port, path)
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode("utf-8", "replace")


def check_status_page(ctx):
    ensure_service(ctx)
    code, body = http_get(ctx, "/healthz")
    ctx.say("GET /healthz from Linux: %d %r" % (code, body))
    expect(code == 200, "/healthz should answer 200", (code, body))
    rows = 25
    ctx.sim.set_faults(outage_seconds=600)
    name = "patients_status_20261201.csv"
    path = drop(ctx.incoming, name, content=patients_csv(rows, seed=7))
    expected = expected_records(path)
    last = {}

    def queued():
        last["s"] = json.loads(http_get(ctx, "/status.json")[1])
        return last["s"]["outbox"]["pending"] + last["s"]["outbox"]["in_batches"] == rows
    try:
        wait_until(queued, 30, interval=0.5, what="/status.json showing %d records waiting" % rows)
    except TimeoutError as e:
        raise AssertionError("%s; last outbox: %s" % (e, last.get("s", {}).get("outbox"))) from None
    ctx.say("simulator down: /status.json outbox %s" % last["s"]["outbox"])
    code, page = http_get(ctx, "/")
    m = re.search(r'id="pending" data-value="(\d+)"', page)
    ctx.say("GET / : %d, %d bytes, 'Waiting to send' = %s" % (code, len(page), m and m.group(1)))
    expect(code == 200 and m and int(m.group(1)) == rows, "the page should show %d records waiting" % rows,
           m and m.group(0))
    ctx.sim.clear_faults()
    wait_records(ctx, expected, 30, "the held-back rows after the outage")

    def drained():
        last["s"] = json.loads(http_get(ctx, "/status.json")[1])
        return last["s"]["outbox"]["pending"] + last["s"]["outbox"]["in_batches"] == 0
    wait_until(drained, 20, interval=0.5, what="/status.json showing the queue empty")
    got = received(ctx.sim.records())
    diff = compare(expected, {rid: got[rid] for rid in expected if rid in got})
    expect(not diff, "the held-back rows should arrive field for field", diff)
    ctx.say("simulator back: the %d rows arrived; /status.json outbox %s" % (rows, last["s"]["outbox"]))


# ---- 4. a stop request drains and the service exits 0 ---------------------------------------------------------

def check_stop(ctx):
    ensure_service(ctx)
    pids = ctx.service.pids()
    mark = len(read(ctx.log))
    rc, state, out = ctx.service.stop()
    ctx.service_ready = False
    ctx.say("stop: exit %s (%s); then %s" % (rc, tail(out, 2), state))
    log = read(ctx.log)[mark:]
    ctx.say("the log after the request:\n" + tail(log, 6))
    expect(rc == 0, "the stop request should succeed", out)
    expect(state.get("STATE") == "STOPPED", "the service should be stopped", state)
    expect(state.get("WIN32_EXIT_CODE") == 0 and state.get("SERVICE_EXIT_CODE", 0) == 0,
           "the service should end with exit code 0", state)
    wait_until(lambda: not ctx.service.alive(), 15, what="the agent's process %s gone" % pids)
    expect(re.search(r"\bstopping\b", log) and re.search(r"\bstopped\b", log),
           "the log should show the drain (stopping ... stopped)", tail(log))
    snap = outbox_snapshot(ctx.outbox, os.path.join(ctx.data, "scratch"))
    ctx.say("outbox after the stop: %d records, integrity %s" % (snap["records"], snap["integrity"]))
    expect(snap["records"] == 0, "the outbox should hold no delivered row", snap["records"])
    expect(snap["integrity"] == [("ok",)], "the outbox should pass integrity_check", snap["integrity"])


# ---- 5. killed hard in the middle of an ingest ----------------------------------------------------------------

KILL_AFTER_BYTES = 1 << 20


def outbox_bytes(ctx):
    """The outbox's size with its WAL (a checkpoint moves pages from one to the other; the sum only grows)."""
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += os.path.getsize(ctx.outbox + suffix)
        except FileNotFoundError:
            pass
    return total


def check_hard_kill(ctx):
    rows = ctx.args.rows
    ctx.sim.reset()
    ensure_service(ctx)
    name = "patients_bulk_20261202.csv"
    staged = os.path.join(ctx.data, name)
    with open(staged, "wb") as f:
        f.write(patients_csv(rows, seed=12))
    expected = set(expected_records(staged))
    sha = sha256_file(staged)
    expect(len(expected) == rows, "the generated file should have %d rows" % rows, len(expected))
    mark = len(read(ctx.log))
    base = outbox_bytes(ctx)
    os.rename(staged, os.path.join(ctx.incoming, name))
    # The ingest commits slices (CSV.md): once the outbox has grown by a megabyte, some are in, most are not.
    wait_until(lambda: outbox_bytes(ctx) >= base + KILL_AFTER_BYTES, 60, interval=0.02,
               what="the outbox growing by %d bytes with the rows of %s" % (KILL_AFTER_BYTES, name))
    at_kill = ctx.sim.stats()["records_unique"]
    did = ctx.service.kill(ctx.args.kill)
    ctx.service_ready = False
    log = read(ctx.log)[mark:]
    snap = outbox_snapshot(ctx.outbox, os.path.join(ctx.data, "scratch"))
    progress = [p for p in snap["progress"] if p[0] == sha]
    recorded = [f for f in snap["files"] if f[0] == sha]
    mid_ingest = bool(progress) and not recorded
    ctx.say("killed (%s) with %d of %d rows at the simulator; outbox: %d records, ingest progress (rows done, "
            "ok) %s, file recorded %s; the file %s" % (did, at_kill, rows, snap["records"],
                                                       [p[1:] for p in progress], bool(recorded),
                                                       "still in the watch folder" if name in
                                                       csv_names(ctx.incoming) else "moved"))
    expect(mid_ingest and not re.search(r"connector: %s: queued" % re.escape(name), log),
           "the kill should land in the middle of the ingest (use more --rows)",
           "progress %s, recorded %s" % (progress, recorded))
    expect(snap["integrity"] == [("ok",)], "the outbox should survive the kill", snap["integrity"])
    expect(snap["distinct_rows"] == snap["records"], "no row may be queued twice", snap)
    expect(not ctx.service.alive(), "nothing of the agent may survive the kill", ctx.service.pids())
    started = time.monotonic()
    ensure_service(ctx)
    wait_records(ctx, expected, 150, "all %d rows after the restart" % rows)
    time.sleep(2)  # a sync interval: a second copy would be on its way
    stats = ctx.sim.stats()
    ids = set(ctx.sim.record_ids())
    ctx.say("after the restart: all rows in %.1f s; simulator unique %d, total %d, duplicate %d, batches %d "
            "(re-sent as duplicate_batch %d)" % (time.monotonic() - started, stats["records_unique"],
                                                 stats["records_total"], stats["records_duplicate"],
                                                 stats["batches"], stats["batches_duplicate"]))
    expect(ids == expected, "exactly the file's record ids should arrive",
           "%d extra, %d missing" % (len(ids - expected), len(expected - ids)))
    expect((stats["records_unique"], stats["records_total"], stats["records_duplicate"]) == (rows, rows, 0),
           "every row exactly once (unique = total = %d, no duplicate)" % rows, stats)
    line = wait_log(ctx, r"connector: %s: [^\n]*" % re.escape(name), 30)
    ctx.say("the agent's own account: " + line.group(0))
    rc, state, out = ctx.service.stop()
    ctx.service_ready = False
    snap = outbox_snapshot(ctx.outbox, os.path.join(ctx.data, "scratch"))
    ctx.say("stopped (%s, %s); outbox %d records" % (rc, state.get("STATE"), snap["records"]))
    expect(snap["records"] == 0 and not snap["progress"], "the outbox should be empty after the delivery", snap)
