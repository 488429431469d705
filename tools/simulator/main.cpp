// opescare-simulator: a strict local OpesCare Bridge API for tests, benchmarks and the demo (PROTOCOL.md).
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "agent/util/files.h"
#include "tools/simulator/server.h"
#include "tools/simulator/sim_core.h"
#include "tools/simulator/test_cert.h"

namespace opescare::simulator {
namespace {

namespace json = boost::json;

constexpr const char* kHelpFooter = R"(
Agents are given as ID:SHA256HEX (the SHA-256 of the agent key, hex); the simulator never sees a
plain key except in requests, compares hashes in constant time and never logs or stores the key.

When ready it prints one JSON line on stdout (and writes it atomically to --ready-file):
  {"https_port":N,"http_port":N,"admin_port":N,"ca_file":"PATH"|null,"bind":"127.0.0.1","pid":N}
A disabled listener's port is -1. SIGINT/SIGTERM stop it cleanly (exit 0). Logs go to stderr.
A connection idle (or a request unfinished) for --read-timeout seconds is closed.

Bridge API (HTTPS and HTTP listeners), checked like a strict OpesCare:
  POST /api/v1/bridge/heartbeat   {agent_id, facility_id, version[, status{}]} -> 200 {"status":"ok","server_time"}
  POST /api/v1/bridge/sync        Idempotency-Key = batch_id (UUID);
       {agent_id, facility_id, batch_id, sent_at, records:[{id,type,data{strings}[,source{file,row}]}]}
       -> 200 {"accepted":[ids],"rejected":[{"id","error":"invalid_record","message"}]}
       -> 409 duplicate_batch when the Idempotency-Key was already processed
  Errors: {"error": code, "message": text, "status": N}. 401 bridge_token_invalid (missing/wrong key or
  unknown agent), 401 timestamp_out_of_window (X-Bridge-Timestamp missing, not whole decimal seconds, or
  beyond --timestamp-window of the simulator clock), 415 unsupported_media_type (Content-Type not
  application/json), 415 unsupported_content_encoding, 400 idempotency_key_missing, 400 invalid_json,
  400 invalid_gzip, 400 invalid_request (shape), 403 agent_mismatch (body agent_id != header),
  404 facility_not_found, 404 not_found, 405 method_not_allowed, 413 payload_too_large.
  Every response carries Date from the simulator clock (real clock + --clock-offset). A bridge answer with a
  body is gzip-encoded (Content-Encoding: gzip, Vary: Accept-Encoding) when the request's Accept-Encoding
  takes gzip (q > 0), faults' bodies included: with "oversized_body_bytes" that is a small wire body that
  inflates beyond the limit.

Admin API under /_sim/ (no auth; on every listener, and alone on --admin-port, which faults never touch):
  GET  /_sim/health                {"ok":true}
  GET  /_sim/stats                 counters: heartbeats, heartbeat_requests, sync_requests, batches,
                                   batches_duplicate, batches_refused, batches_reset, records_total,
                                   records_unique, records_duplicate, records_duplicate_mismatch,
                                   records_rejected, requests_total, requests_by_status{"200":N}, bytes_received
                                   (wire body bytes), bytes_inflated, gzip_requests, bytes_sent (bridge
                                   response bodies as written), gzip_responses, connections,
                                   tls_handshakes, tls_handshake_failures, outage_dropped_connections,
                                   faults_applied{name:N}, admin_requests, clock_offset_seconds, sim_time
  GET  /_sim/records[?offset=N&limit=N][&ids_only=1]
                                   {"total","offset","count","next_offset"|null,
                                    "records":{id:{"type","data","source"|null,"batch_id"}}} (or "ids":[...]),
                                   unique accepted records in arrival order (first payload kept)
  GET  /_sim/heartbeats            last --keep-heartbeats heartbeat requests: received_unix, sim_unix, tls,
                                   status (0 = not answered), error, headers{lower-case name: value} with
                                   x-bridge-agent-key "REDACTED", timestamp_skew_seconds, body, body_bytes
  GET  /_sim/requests              last --keep-requests bridge requests: received_unix, sim_unix, method, path,
                                   status, outcome (answered|dropped|garbage|hang|truncated|unreadable), error,
                                   tls, gzip, body_bytes, response_gzip, response_bytes, agent_id, idempotency_key
                                   [, records, accepted, rejected, duplicates] (sync)
  GET  /_sim/faults                the active faults
  POST /_sim/faults                merge a JSON fault patch (below); 400 invalid_fault on a bad one
  DELETE /_sim/faults, POST /_sim/faults/clear    clear every fault (ends an outage)
  POST /_sim/reset                 forget counters, records, batches, heartbeats, requests and faults
  GET  /_sim/config, POST /_sim/config   {"agents":{id:sha256hex}, "replace_agents":bool,
                                   "remove_agents":[ids], "facilities":[ids] ([] = any),
                                   "clock_offset_seconds":N, "timestamp_window_seconds":N}

Fault patch keys (POST /_sim/faults or --faults-file; unknown keys are refused):
  "path": "heartbeat"|"sync"|"any"|"/literal"   which endpoint the counted faults in this patch hit (default any)
  "status": N, "count": K, "retry_after": "3" or HTTP-date, "error": code, "message": text
        answer N with the JSON error body to the next K requests (K=-1: until cleared), unprocessed
  "garbage": K                  answer non-HTTP bytes, then close the connection
  "hang": K                     read the request, never answer (connection left open)
  "reset_after_processing": K   sync only: process the next K batches fully (counted, key remembered),
                                then drop the TCP connection (RST) without answering
  "reset_mid_response": K       process as usual, send the headers and half the body, then reset (RST)
  "oversized_body_bytes": N, "oversized_count": K (default 1)   answer 200 with an N-byte body, unprocessed
  "delay_ms": D, "delay_count": K (default -1 = until cleared)  wait D ms before answering
  "max_body_bytes": N           413 payload_too_large when the request body, AFTER gzip decompression, is
                                above N bytes (0 = off)
  "reject_ids": [ids]           those records are rejected per record (error invalid_record) in a 200
  "reject_ids_batch_status": S  instead, a batch holding any of those ids gets S (e.g. 422, error
                                invalid_batch) with no per-record detail, and is not remembered
  "reject_gzip": true           415 unsupported_content_encoding to Content-Encoding: gzip
  "not_receipt": "html"|"empty"|"invalid_json"|"other_batch"|"omit_ids", "not_receipt_count": K (default 1)
                                sync only: a 200 that is not a receipt for the next K batches; html, empty,
                                invalid_json and other_batch answer unprocessed (a portal, a proxy); omit_ids
                                processes the first half of the records and names only those
  "outage_seconds": T, "outage_mode": "refuse"|"close"   for T s the bridge listeners are closed
                                (refuse: connection refused) or reset every connection at accept (close);
                                live bridge connections are reset; the admin port stays up
  "clear": true                 clear everything before applying the rest
Order of checks: outage, path, method, delay, hang, garbage, status, not_receipt, oversized, key, timestamp,
Content-Type, Content-Encoding/reject_gzip, Idempotency-Key/duplicate, gzip, max_body_bytes, JSON, shape,
reject_ids, reset_after_processing, reset_mid_response.
)";

struct Flags {
  ServerOptions server;
  SimSettings sim;
  std::vector<std::string> agents;
  std::string agents_file, faults_file, ready_file, ca_out, log_level = "info";
  int cert_days = 30;
};

Status AddAgent(const std::string& id, const std::string& hex, SimSettings* sim) {
  Sha256Digest digest{};
  if (id.empty() || !ParseSha256Hex(hex, &digest)) {
    return InvalidArgument("agent \"" + id + "\": expected ID:SHA256HEX with 64 hex digits");
  }
  sim->agents[id] = digest;
  return Status::Ok();
}

Result<json::object> ReadJsonObject(const std::string& path) {
  Result<std::string> text = ReadFileLimited(path, 16u << 20);
  if (!text.ok()) return text.status();
  json::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return InvalidArgument(path + ": expected a JSON object");
  return std::move(v.get_object());
}

Status LoadFlags(Flags* f) {
  for (const std::string& spec : f->agents) {
    size_t colon = spec.rfind(':');
    if (colon == std::string::npos) return InvalidArgument("--agent wants ID:SHA256HEX, got \"" + spec + "\"");
    if (Status s = AddAgent(spec.substr(0, colon), spec.substr(colon + 1), &f->sim); !s.ok()) return s;
  }
  if (!f->agents_file.empty()) {
    Result<json::object> agents = ReadJsonObject(f->agents_file);
    if (!agents.ok()) return agents.status();
    for (const auto& kv : *agents) {
      if (!kv.value().is_string()) return InvalidArgument(f->agents_file + ": values must be SHA-256 hex strings");
      if (Status s = AddAgent(std::string(kv.key()), std::string(kv.value().get_string()), &f->sim); !s.ok()) return s;
    }
  }
  if (f->server.cert_file.empty() != f->server.key_file.empty()) {
    return InvalidArgument("--cert and --key go together");
  }
  if (f->sim.timestamp_window_seconds < 0) return InvalidArgument("--timestamp-window must be >= 0");
  f->server.max_body_bytes = f->sim.max_body_bytes;
  return Status::Ok();
}

// The command line: every flag, into f.
void AddOptions(CLI::App& app, Flags& f) {
  app.footer(kHelpFooter);
  app.get_formatter()->column_width(34);
  app.set_version_flag("--version", OB_VERSION);
  app.add_option("--bind", f.server.bind_address, "loopback address to listen on")->capture_default_str();
  app.add_option("--https-port", f.server.https_port, "HTTPS port (0 = ephemeral, -1 = off)")->capture_default_str();
  app.add_option("--http-port", f.server.http_port, "plain HTTP port (0 = ephemeral, -1 = off)")->capture_default_str();
  app.add_option("--admin-port", f.server.admin_port, "admin-only plain HTTP port (0 = ephemeral, -1 = off)")
      ->capture_default_str();
  app.add_option("--cert", f.server.cert_file, "server certificate chain (PEM); default: made at start");
  app.add_option("--key", f.server.key_file, "server private key (PEM), with --cert");
  app.add_option("--ca-out", f.ca_out, "write the CA certificate made at start here (PEM), for http.ca_file");
  app.add_option("--cert-days", f.cert_days, "validity of the certificates made at start")->capture_default_str();
  app.add_option("--tls-min-version", f.server.tls_min_version, "1.0|1.1|1.2|1.3 (below 1.2: tests only)")
      ->capture_default_str();
  app.add_option("--tls-max-version", f.server.tls_max_version, "1.0|1.1|1.2|1.3 (default: none)");
  app.add_option("--agent", f.agents, "ID:SHA256HEX of the agent key (repeatable)");
  app.add_option("--agents-file", f.agents_file, "JSON {\"agent id\": \"sha256hex\"}");
  app.add_option("--facility", f.sim.facilities, "known facility id (repeatable; none = accept any)");
  app.add_option("--timestamp-window", f.sim.timestamp_window_seconds, "allowed |X-Bridge-Timestamp - clock|, s")
      ->capture_default_str();
  app.add_option("--clock-offset", f.sim.clock_offset_seconds,
                 "skew the simulator clock by this many seconds (window check and Date header)")
      ->capture_default_str();
  app.add_option("--sync-path", f.sim.sync_path, "path of the sync endpoint")->capture_default_str();
  app.add_option("--faults-file", f.faults_file, "JSON fault patch applied at start (see below)");
  app.add_option("--ready-file", f.ready_file, "write the ready JSON here (atomically) once listening");
  app.add_option("--max-body-bytes", f.sim.max_body_bytes, "request body limit, on the wire and inflated (413)")
      ->capture_default_str();
  app.add_option("--read-timeout", f.server.read_timeout, "seconds to receive a whole request (and idle keep-alive)")
      ->capture_default_str();
  app.add_option("--keep-heartbeats", f.sim.keep_heartbeats, "heartbeat requests kept for /_sim/heartbeats")
      ->capture_default_str();
  app.add_option("--keep-requests", f.sim.keep_requests, "bridge requests kept for /_sim/requests")
      ->capture_default_str();
  app.add_option("--max-stored-payloads", f.sim.max_stored_payloads,
                 "records whose data is kept for /_sim/records (ids are always kept)")
      ->capture_default_str();
  app.add_option("--log-level", f.log_level, "trace|debug|info|warn|error|off")->capture_default_str();
}

// The test CA and a server certificate made at start when HTTPS is on and no --cert was given; the CA
// written to --ca-out.
Status MakeCertificates(Flags* f) {
  if (f->server.https_port < 0 || !f->server.cert_file.empty()) return Status::Ok();
  Result<TestCertificates> certs = MakeTestCertificates(f->cert_days);
  if (!certs.ok()) return certs.status();
  f->server.cert_pem = certs->cert_pem;
  f->server.key_pem = certs->key_pem;
  if (f->ca_out.empty()) return Status::Ok();
  Status s = WriteFileAtomic(f->ca_out, certs->ca_pem, 0644);
  return s.ok() ? s : Status(s.code(), "cannot write --ca-out: " + s.message());
}

// The ready line (bound ports, the CA file, the pid), also written to --ready-file.
Result<std::string> ReadyLine(const Flags& f, const BoundPorts& ports) {
  bool wrote_ca = f.server.https_port >= 0 && f.server.cert_file.empty() && !f.ca_out.empty();
  json::object ready{
      {"https_port", ports.https},     {"http_port", ports.http},
      {"admin_port", ports.admin},     {"ca_file", wrote_ca ? json::value(f.ca_out) : json::value(nullptr)},
      {"bind", f.server.bind_address}, {"pid", static_cast<int64_t>(getpid())}};
  std::string line = json::serialize(ready);
  if (!f.ready_file.empty()) {
    if (Status s = WriteFileAtomic(f.ready_file, line + "\n", 0644); !s.ok())
      return Status(s.code(), "cannot write --ready-file: " + s.message());
  }
  return line;
}

int Main(int argc, char** argv) {
  Flags f;
  CLI::App app{"opescare-simulator " OB_VERSION
               ": a strict local OpesCare Bridge API (heartbeat + sync) with counters and fault injection, "
               "for tests, benchmarks and the demo. Loopback only."};
  AddOptions(app, f);
  CLI11_PARSE(app, argc, argv);

  auto log = std::make_shared<spdlog::logger>("simulator", std::make_shared<spdlog::sinks::stderr_sink_st>());
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l simulator: %v");
  log->set_level(spdlog::level::from_str(f.log_level));
  log->flush_on(spdlog::level::trace);

  if (Status s = LoadFlags(&f); !s.ok()) {
    log->error("{}", s.message());
    return 2;
  }
  if (Status s = MakeCertificates(&f); !s.ok()) {
    log->error("{}", s.message());
    return 1;
  }
  if (f.sim.agents.empty()) log->warn("no agents configured: every bridge request will get 401");

  SimCore core(f.sim, log);
  if (!f.faults_file.empty()) {
    Result<json::object> patch = ReadJsonObject(f.faults_file);
    Status s = patch.ok() ? core.ApplyFaults(*patch) : patch.status();
    if (!s.ok()) {
      log->error("--faults-file: {}", s.message());
      return 2;
    }
  }
  Result<std::unique_ptr<Server>> server = Server::Create(core, f.server, log);
  if (!server.ok()) {
    log->error("{}", server.status().message());
    return 1;
  }

  BoundPorts ports = (*server)->ports();
  Result<std::string> line = ReadyLine(f, ports);
  if (!line.ok()) {
    log->error("{}", line.status().message());
    return 1;
  }
  std::cout << *line << std::endl;
  log->info("listening on {}: https {} http {} admin {} ({} agents, window ±{} s, clock offset {} s)",
            f.server.bind_address, ports.https, ports.http, ports.admin, f.sim.agents.size(),
            f.sim.timestamp_window_seconds, f.sim.clock_offset_seconds);
  (*server)->Run();
  return 0;
}

}  // namespace
}  // namespace opescare::simulator

int main(int argc, char** argv) { return opescare::simulator::Main(argc, argv); }
