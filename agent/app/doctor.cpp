// `doctor`: one line per check of the set-up, ✓ or ✗ with the fix; exit 0 only when every check passes.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "agent/app/commands.h"
#include "agent/app/exit_codes.h"
#include "agent/app/output_redactor.h"
#include "agent/app/unit_checks.h"
#include "agent/app/wiring.h"
#include "agent/bridge/clock_offset.h"
#include "agent/bridge/headers.h"
#include "agent/bridge/heartbeat.h"
#include "agent/bridge/time_floor.h"
#include "agent/config/logging.h"
#include "agent/env/env.h"
#include "agent/http/tls_context.h"
#include "agent/outbox/outbox.h"
#include "agent/util/files.h"

namespace opescare::app {
namespace {

constexpr uint64_t kMinFreeDiskBytes = 256ull << 20;  // below this a clinic's outbox can fill during an outage
constexpr auto kCertificateWarnBefore = std::chrono::hours(24 * 14);

class Report {
 public:
  void Pass(const std::string& check, const std::string& detail) { Line(true, check, detail, ""); }
  void Fail(const std::string& check, const std::string& detail, const std::string& fix) {
    Line(false, check, detail, fix);
    ok_ = false;
  }
  void Skip(const std::string& check, const std::string& why) {
    std::cout << "- " << check << ": skipped (" << OneLine(why) << ")\n";
    ok_ = false;
  }
  bool ok() const { return ok_; }

 private:
  // Details may quote multi-line text (SQLite's integrity_check rows, server messages): one line per check.
  static std::string OneLine(std::string text) {
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    return text;
  }
  void Line(bool pass, const std::string& check, const std::string& detail, const std::string& fix) {
    std::cout << (pass ? "✓ " : "✗ ") << check << ": " << OneLine(detail);
    if (!fix.empty()) std::cout << "\n    fix: " << OneLine(fix);
    std::cout << "\n";
  }
  bool ok_ = true;
};

std::string Endpoint(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string FormatDate(std::chrono::system_clock::time_point t) { return FormatIso8601Utc(t).substr(0, 10); }

void CheckFolder(Report& r, const std::string& label, const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    // The agent creates missing folders (and their missing parents) when it can; doctor checks that it could,
    // in the nearest folder that exists.
    std::filesystem::path ancestor = std::filesystem::path(dir).parent_path();
    while (!ancestor.empty() && !std::filesystem::exists(ancestor, ec) && ancestor != ancestor.parent_path())
      ancestor = ancestor.parent_path();
    std::string parent = ancestor.empty() ? "." : ancestor.string();
    if (Result<bool> w = env::Env::Default()->CanWriteDir(parent); w.ok() && *w) {
      r.Pass(label, dir + " does not exist yet; the agent will create it");
    } else {
      r.Fail(label, dir + " does not exist and " + parent + " is not writable",
             "mkdir -p " + dir + " && chown <service user> " + dir);
    }
    return;
  }
  env::Env& env = *env::Env::Default();
  std::string probe = dir + "/.opescare-doctor-" + std::to_string(env.ProcessId());
  auto file = env.NewWritableFile(probe, env::OpenMode::kExclusive, 0600);
  if (!file.ok()) {
    const std::string& m = file.status().message();  // "<path>: <what>: <the OS's words>"
    r.Fail(label, dir + " is not writable (" + m.substr(m.rfind(": ") + 2) + ")",
           "give the service user write access: chown <service user> " + dir + " (or chmod u+w)");
    return;
  }
  file->reset();
  (void)env.RemoveFile(probe);
  r.Pass(label, dir + " writable");
}

// The time floor the agent keeps in its outbox (PROTOCOL.md "Clock"), read without changing the file.
void RestoreTimeFloor(const config::Config& cfg, bridge::TimeFloor& floor) {
  std::error_code ec;
  if (!std::filesystem::exists(cfg.outbox.path, ec)) return;
  outbox::OutboxOptions oo = OutboxOptionsFromConfig(cfg);
  oo.read_only = true;
  auto ob = outbox::OpenOutbox(oo);
  if (!ob.ok()) return;
  auto stored = (*ob)->GetMeta(outbox::kMetaVerifiedServerTime);
  if (stored.ok() && *stored) floor.Restore(**stored);
}

// The trust the agent would use: the system CA bundle found (as Go does) and http.ca_file.
std::shared_ptr<http::TlsContext> CheckTrust(Report& r, const http::ClientOptions& options) {
  auto made = http::TlsContext::Create(options);
  if (!made.ok()) {
    r.Fail("trust", made.status().message(), "correct http.ca_file / http.client_cert / http.client_key");
    return nullptr;
  }
  const auto& ca = (*made)->system_ca();
  if (ca.file.empty() && ca.dirs.empty() && options.ca_file.empty() && (*made)->os_trust().certificates == 0) {
    r.Fail("trust", (*made)->TrustDescription(),
           "install the system CA certificates (ca-certificates), set SSL_CERT_FILE, or set http.ca_file");
  } else {
    r.Pass("trust", (*made)->TrustDescription());
  }
  return *made;
}

const config::Problem* FirstError(const config::LoadResult& loaded) {
  for (const auto& p : loaded.problems)
    if (p.severity == config::Problem::Severity::kError) return &p;
  return nullptr;
}

bool KeyAloneAtFault(const config::LoadResult& loaded) {
  int errors = 0;
  for (const auto& p : loaded.problems) errors += p.severity == config::Problem::Severity::kError;
  const config::Problem* first = FirstError(loaded);
  return errors == 1 && first && (first->key == "agent_key_file" || first->key.rfind("agent key", 0) == 0);
}

// The key file systemd reads as root for LoadCredential=: present and private.
void CheckCredentialFile(Report& r, const std::string& file) {
  auto mode = FileMode(file);
  if (mode.ok() && (*mode & 077) != 0) {
    r.Fail("key", "the service's credential file " + file + " is readable by others", "chmod 600 " + file);
  } else {
    r.Pass("key", "not set in this shell; the service gets it from the credential file " + file +
                      " (LoadCredential=agent_key:" + file + ", mode 0600)");
  }
}

// The folders the service writes, against the unit's writable paths (ProtectSystem=strict).
void CheckServicePaths(Report& r, const InstalledUnit& unit, const config::Config& cfg) {
  const auto& c = cfg.connector;
  std::vector<std::pair<std::string, std::string>> folders = {
      {"outbox.path's folder", std::filesystem::path(cfg.outbox.path).parent_path().string()},
      {"connector.watch_folder", c.watch_folder}};
  // processed/ and failed/ are inside the watch folder unless configured elsewhere.
  if (!c.processed_folder.empty()) folders.emplace_back("connector.processed_folder", c.processed_folder);
  if (!c.failed_folder.empty()) folders.emplace_back("connector.failed_folder", c.failed_folder);
  for (const UnitCheck& check : WritablePathChecks(unit.view, folders)) {
    if (check.pass) {
      r.Pass(check.check, check.detail);
    } else {
      r.Fail(check.check, check.detail + " per " + unit.files.back(), check.fix);
    }
  }
}

const char* kClockFix = "set the correct time and enable NTP (timedatectl set-ntp true)";

}  // namespace

int CmdDoctor(const GlobalOptions& global) {
  Report r;
  std::string path = ResolveConfigPath(global);
  config::LoadOptions lo;
  lo.strict = global.strict;
  config::LoadResult loaded = config::LoadConfigFile(path, lo);
  const std::optional<InstalledUnit> unit = ReadInstalledUnit();
  const bool global_credentials = std::getenv("CREDENTIALS_DIRECTORY") != nullptr;  // run inside the unit
  std::string credential_file;
  if (!loaded.ok()) {
    // From a shell the key is "not set" although the service gets it as a credential: check that file.
    std::optional<std::string> source = unit ? CredentialSource(unit->view, "agent_key") : std::nullopt;
    if (KeyAloneAtFault(loaded) && source && !global_credentials) {
      lo.overrides["agent_key_file"] = *source;
      loaded = config::LoadConfigFile(path, lo);
      if (loaded.ok()) credential_file = *source;
    }
  }
  if (!loaded.ok()) {
    const config::Problem* first = FirstError(loaded);
    // The key alone at fault (missing, unreadable, or readable by others): the key line says how to fix it.
    bool about_key = KeyAloneAtFault(loaded);
    if (about_key) {
      constexpr std::string_view kFix = "make it private: ";  // KeyFileModeProblem's words before the command
      size_t fix = first->message.find(kFix);
      r.Fail("key", first->ToString(),
             fix != std::string::npos
                 ? first->message.substr(fix + kFix.size())
                 : "set OPESCARE_AGENT_KEY, agent_key_file (private to the service), or the systemd credential "
                   "agent_key");
      return kExitUsage;
    }
    for (const auto& p : loaded.problems)
      if (p.severity == config::Problem::Severity::kError) std::cout << "    " << p.ToString() << "\n";
    r.Fail("config", first ? first->ToString() : path + " does not load",
           "correct the lines above; `opescare-bridge check-config` lists them all");
    return kExitUsage;
  }
  const config::Config& cfg = *loaded.config;
  if (global.redactor) global.redactor->Add(config::Secrets(cfg));  // a server's words may quote the key
  r.Pass("config", cfg.source_path + " valid");

  // Key: present (loading refuses an empty one) and, from a file, private.
  if (!credential_file.empty()) {
    CheckCredentialFile(r, credential_file);
  } else if (!cfg.agent_key_file.empty() && cfg.agent_key_source.find("file") != std::string::npos) {
    auto mode = FileMode(cfg.agent_key_file);
    if (mode.ok() && (*mode & 077) != 0) {
      r.Fail("key", cfg.agent_key_file + " is readable by others", config::KeyFilePrivacyFix(cfg.agent_key_file));
    } else {
      r.Pass("key", "from " + cfg.agent_key_source + " (mode 0600)");
    }
  } else {
    r.Pass("key", "from " + cfg.agent_key_source);
  }

  if (unit) CheckServicePaths(r, *unit, cfg);

  auto server = config::ParseHttpUrl(cfg.server_url);
  std::optional<config::HttpUrl> proxy;
  if (!cfg.http.proxy.empty()) proxy = config::ParseHttpUrl(cfg.http.proxy);
  const std::string host = proxy ? proxy->host : server->host;
  const uint16_t port = proxy ? proxy->port : server->port;
  const std::string what = proxy ? "proxy " + Endpoint(host, port) : Endpoint(host, port);

  bool network_ok = false;
  Status tcp = env::Env::Default()->ProbeTcpConnect(
      host, port, std::chrono::milliseconds(static_cast<int64_t>(cfg.http.connect_timeout_seconds * 1000)));
  if (tcp.code() == Code::kNotFound) {  // the name did not resolve
    r.Fail("dns", "cannot resolve " + host + ": " + tcp.message(),
           proxy ? "check http.proxy and this computer's DNS settings (/etc/resolv.conf)"
                 : "check server_url and this computer's DNS settings (/etc/resolv.conf)");
  } else {
    r.Pass("dns", host + " resolves");
    if (!tcp.ok()) {
      r.Fail("tcp", "cannot connect to " + what + ": " + tcp.message(),
             "check that the " + std::string(proxy ? "proxy" : "server") + " is up and that a firewall allows " +
                 "outgoing connections to port " + std::to_string(port));
    } else {
      r.Pass("tcp", "connected to " + what);
      network_ok = true;
    }
  }

  bridge::TimeFloor time_floor;
  RestoreTimeFloor(cfg, time_floor);
  http::ClientOptions client_options = ClientOptionsFromConfig(cfg);
  client_options.verify_time_floor = time_floor.Hook();
  std::shared_ptr<http::TlsContext> tls_context;
  if (server->scheme == "https") tls_context = CheckTrust(r, client_options);

  int64_t offset_seconds = 0;
  if (network_ok && (tls_context || server->scheme != "https")) {
    bridge::ClockOffsetTracker offset;
    bridge::HeartbeatInputs inputs{cfg.agent_id, cfg.facility_id, OB_VERSION, std::nullopt};
    http::Request request;
    request.target = cfg.heartbeat_path;
    auto make = [&] {
      request.headers = bridge::BuildHeaders(
          CredentialsFromConfig(cfg), bridge::BridgeTimestamp(std::chrono::system_clock::now(), offset.offset_seconds()),
          bridge::UserAgent());
      request.body = bridge::BuildHeartbeatBody(inputs);
    };
    make();
    config::LogConfig quiet;
    quiet.level = "error";
    auto logger = logging::MakeLogger(quiet, config::Secrets(cfg));
    auto outcome = http::SendBlocking(client_options, tls_context, request, logger);
    if (outcome.ok() && offset.AddResponse(*outcome)) {
      // A clock far off fails the first heartbeat's timestamp check; the agent corrects it, so does doctor.
      if (outcome->response && outcome->response->status == 401 &&
          bridge::ClockLikelyCausesAuthFailure(offset.offset_seconds())) {
        make();
        auto again = http::SendBlocking(client_options, tls_context, request, logger);
        if (again.ok()) outcome = std::move(again);
      }
    }
    if (!outcome.ok()) {
      r.Fail("https", outcome.status().message(), "correct the http.* settings");
    } else {
      const http::Outcome& o = *outcome;
      if (proxy) {
        if (o.stage == http::FailureStage::kProxy) {
          r.Fail("proxy", o.error, "check http.proxy (address, user and password) and that it allows CONNECT to " +
                                       Endpoint(server->host, server->port));
        } else {
          r.Pass("proxy", "CONNECT to " + Endpoint(server->host, server->port) + " allowed");
        }
      }
      if (server->scheme == "https") {
        if (o.stage == http::FailureStage::kTlsVerify || o.stage == http::FailureStage::kTlsHandshake) {
          r.Fail("tls", o.error,
                 o.clock_suspect != http::ClockSuspect::kNone ? std::string(kClockFix)
                 : o.stage == http::FailureStage::kTlsVerify
                     ? "the server's certificate is not trusted for " + server->host +
                           ": if it uses a private CA, set http.ca_file to that CA's PEM file; check the clock too"
                     : "the server must offer TLS 1.2 or newer");
        } else if (o.peer_certificate) {
          const auto& pc = *o.peer_certificate;
          auto left = pc.not_after - std::chrono::system_clock::now();
          std::string detail = o.tls_version + ", certificate for " + server->host + " valid until " +
                               FormatDate(pc.not_after) + ", issued by " + pc.issuer;
          if (left < kCertificateWarnBefore) {
            r.Fail("tls", detail + " — expires in less than 14 days", "ask OpesCare (or your proxy's admin) to renew it");
          } else {
            r.Pass("tls", detail);
          }
        } else if (o.stage != http::FailureStage::kNone) {
          r.Skip("tls", "no TLS session: " + o.error);
        }
      }
      offset_seconds = offset.offset_seconds();
      std::string behind = time_floor.BehindMessage();
      if (o.clock_suspect == http::ClockSuspect::kAhead) {
        r.Fail("clock",
               "this computer's clock (" + FormatIso8601Utc(std::chrono::system_clock::now()) +
                   ") is likely far ahead: the server's certificate looks expired by it",
               kClockFix);
      } else if (o.clock_suspect == http::ClockSuspect::kBehind) {
        r.Fail("clock",
               "this computer's clock (" + FormatIso8601Utc(std::chrono::system_clock::now()) +
                   ") is likely behind: the server's certificate looks not yet valid by it",
               kClockFix);
      } else if (!behind.empty()) {
        r.Fail("clock", behind,
               std::string(kClockFix) +
                   "; the agent checks certificates at the last known server "
                   "time meanwhile");
      } else if (!offset.has_sample()) {
        r.Skip("clock", o.response ? "the server sent no Date header" : "no answer from the server");
      } else if (bridge::ClockSkewWorthWarning(offset_seconds)) {
        r.Fail("clock", "this computer's clock is " + std::to_string(std::llabs(offset_seconds)) + " s " +
                            (offset_seconds > 0 ? "behind" : "ahead of") + " the server's",
               "set the time and enable NTP (timedatectl set-ntp true); the agent corrects its timestamps meanwhile");
      } else {
        r.Pass("clock", "within " + std::to_string(std::llabs(offset_seconds)) + " s of the server");
      }
      bridge::HeartbeatResult hb = bridge::ClassifyHeartbeat(o, offset_seconds);
      if (hb.state == bridge::ConnectionState::kConnected) {
        r.Pass("heartbeat", "accepted by " + cfg.server_url);
      } else {
        std::string detail = std::string(bridge::ConnectionStateName(hb.state)) + ": " + hb.message;
        if (hb.error) detail += " (" + hb.error->error + ")";
        r.Fail("heartbeat", detail, hb.fix.empty() ? "see the lines above" : hb.fix);
      }
    }
  } else {
    r.Skip("tls", "no connection");
    r.Skip("heartbeat", "no connection");
  }

  // Outbox: readable, intact, its size and oldest record. Opened read-only: doctor never changes it.
  {
    std::error_code ec;
    if (!std::filesystem::exists(cfg.outbox.path, ec)) {
      std::string dir = std::filesystem::path(cfg.outbox.path).parent_path().string();
      if (dir.empty()) dir = ".";
      if (Result<bool> w = env::Env::Default()->CanWriteDir(dir); w.ok() && *w) {
        r.Pass("outbox", cfg.outbox.path + " does not exist yet; the agent will create it");
      } else {
        r.Fail("outbox", cfg.outbox.path + " does not exist and " + dir + " is not writable",
               "create " + dir + " writable by the service user, or set outbox.path");
      }
    } else {
      outbox::OutboxOptions oo = OutboxOptionsFromConfig(cfg);
      oo.read_only = true;
      auto ob = outbox::OpenOutbox(oo);
      if (!ob.ok()) {
        r.Fail("outbox", ob.status().message(),
               "keep the file (it holds undelivered records); move it aside only after copying it, and ask OpesCare "
               "support to recover it");
      } else {
        Status integrity = (*ob)->IntegrityCheck();
        auto stats = (*ob)->GetStats();
        if (!integrity.ok()) {
          r.Fail("outbox", cfg.outbox.path + ": integrity check failed: " + integrity.message(),
                 "stop the agent, copy the file, and run: sqlite3 " + cfg.outbox.path +
                     " '.recover' | sqlite3 recovered.db (keep the original)");
        } else if (!stats.ok()) {
          r.Fail("outbox", stats.status().message(), "check the file's permissions");
        } else {
          std::string detail = "integrity ok, " + std::to_string(stats->file_bytes / 1024) + " KiB, " +
                               std::to_string(stats->queued) + " queued, " + std::to_string(stats->dead) + " dead";
          if (stats->queued > 0) detail += ", oldest " + std::to_string(stats->oldest_queued_age_seconds) + " s";
          r.Pass("outbox", detail);
        }
      }
    }
  }

  CheckFolder(r, "watch folder", cfg.connector.watch_folder);
  CheckFolder(r, "processed folder", cfg.ProcessedFolder());
  CheckFolder(r, "failed folder", cfg.FailedFolder());

  std::string disk_path = std::filesystem::path(cfg.outbox.path).parent_path().string();
  if (disk_path.empty()) disk_path = ".";
  auto free_bytes = FreeDiskBytes(disk_path);
  if (!free_bytes.ok()) {
    r.Fail("disk", free_bytes.status().message(), "check that " + disk_path + " exists");
  } else if (*free_bytes < kMinFreeDiskBytes) {
    r.Fail("disk", std::to_string(*free_bytes >> 20) + " MiB free on " + disk_path,
           "free space on that disk: the outbox needs room to hold records during an outage");
  } else {
    r.Pass("disk", std::to_string(*free_bytes >> 20) + " MiB free on " + disk_path);
  }

  std::cout << (r.ok() ? "all checks passed\n" : "some checks failed: see the fixes above\n");
  return r.ok() ? kExitOk : kExitFailure;
}

}  // namespace opescare::app
