// doctor's checks of the way to the server: the name, the connection, the trust store, the proxy, TLS, the
// clock and one real heartbeat, each line with its fix.
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "agent/app/doctor_checks.h"
#include "agent/app/wiring.h"
#include "agent/bridge/clock_offset.h"
#include "agent/bridge/headers.h"
#include "agent/bridge/heartbeat.h"
#include "agent/bridge/time_floor.h"
#include "agent/config/logging.h"
#include "agent/env/env.h"
#include "agent/http/tls_context.h"
#include "agent/outbox/outbox.h"
#include "agent/util/clock.h"

namespace opescare::app::doctor {
namespace {

constexpr auto kCertificateWarnBefore = std::chrono::hours(24 * 14);
const char* kClockFix = "set the correct time and enable NTP (timedatectl set-ntp true)";

std::string Endpoint(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string FormatDate(std::chrono::system_clock::time_point t) { return FormatIso8601Utc(t).substr(0, 10); }

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

// dns and tcp to the server (or its proxy); true when connected.
bool CheckReachable(Report& r, const config::Config& cfg, const config::HttpUrl& server,
                    const std::optional<config::HttpUrl>& proxy) {
  const std::string host = proxy ? proxy->host : server.host;
  const uint16_t port = proxy ? proxy->port : server.port;
  const std::string what = proxy ? "proxy " + Endpoint(host, port) : Endpoint(host, port);
  Status tcp = env::Env::Default()->ProbeTcpConnect(
      host, port, std::chrono::milliseconds(static_cast<int64_t>(cfg.http.connect_timeout_seconds * 1000)));
  if (tcp.code() == Code::kNotFound) {  // the name did not resolve
    r.Fail("dns", "cannot resolve " + host + ": " + tcp.message(),
           proxy ? "check http.proxy and this computer's DNS settings (/etc/resolv.conf)"
                 : "check server_url and this computer's DNS settings (/etc/resolv.conf)");
    return false;
  }
  r.Pass("dns", host + " resolves");
  if (!tcp.ok()) {
    r.Fail("tcp", "cannot connect to " + what + ": " + tcp.message(),
           "check that the " + std::string(proxy ? "proxy" : "server") + " is up and that a firewall allows " +
               "outgoing connections to port " + std::to_string(port));
    return false;
  }
  r.Pass("tcp", "connected to " + what);
  return true;
}

// One heartbeat as the agent sends it. A clock far off fails the first one's timestamp check; the agent
// corrects it by the server's Date, and so does doctor, once.
Result<http::Outcome> SendHeartbeat(const config::Config& cfg, const http::ClientOptions& options,
                                    const std::shared_ptr<http::TlsContext>& tls,
                                    bridge::ClockOffsetTracker& offset) {
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
  auto outcome = http::SendBlocking(options, tls, request, logger);
  if (outcome.ok() && offset.AddResponse(*outcome) && outcome->response && outcome->response->status == 401 &&
      bridge::ClockLikelyCausesAuthFailure(offset.offset_seconds())) {
    make();
    auto again = http::SendBlocking(options, tls, request, logger);
    if (again.ok()) outcome = std::move(again);
  }
  return outcome;
}

void ReportProxyAndTls(Report& r, const http::Outcome& o, const config::HttpUrl& server, bool proxied) {
  if (proxied) {
    if (o.stage == http::FailureStage::kProxy) {
      r.Fail("proxy", o.error, "check http.proxy (address, user and password) and that it allows CONNECT to " +
                                   Endpoint(server.host, server.port));
    } else {
      r.Pass("proxy", "CONNECT to " + Endpoint(server.host, server.port) + " allowed");
    }
  }
  if (server.scheme != "https") return;
  if (o.stage == http::FailureStage::kTlsVerify || o.stage == http::FailureStage::kTlsHandshake) {
    r.Fail("tls", o.error,
           o.clock_suspect != http::ClockSuspect::kNone ? std::string(kClockFix)
           : o.stage == http::FailureStage::kTlsVerify
               ? "the server's certificate is not trusted for " + server.host +
                     ": if it uses a private CA, set http.ca_file to that CA's PEM file; check the clock too"
               : "the server must offer TLS 1.2 or newer");
  } else if (o.peer_certificate) {
    const auto& pc = *o.peer_certificate;
    auto left = pc.not_after - std::chrono::system_clock::now();
    std::string detail = o.tls_version + ", certificate for " + server.host + " valid until " +
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

void ReportClock(Report& r, const http::Outcome& o, const bridge::ClockOffsetTracker& offset,
                 const bridge::TimeFloor& time_floor) {
  const int64_t offset_seconds = offset.offset_seconds();
  const std::string now = FormatIso8601Utc(std::chrono::system_clock::now());
  std::string behind = time_floor.BehindMessage();
  if (o.clock_suspect == http::ClockSuspect::kAhead) {
    r.Fail("clock", "this computer's clock (" + now + ") is likely far ahead: the server's certificate looks expired by it",
           kClockFix);
  } else if (o.clock_suspect == http::ClockSuspect::kBehind) {
    r.Fail("clock",
           "this computer's clock (" + now + ") is likely behind: the server's certificate looks not yet valid by it",
           kClockFix);
  } else if (!behind.empty()) {
    r.Fail("clock", behind, std::string(kClockFix) + "; the agent checks certificates at the last known server time meanwhile");
  } else if (!offset.has_sample()) {
    r.Skip("clock", o.response ? "the server sent no Date header" : "no answer from the server");
  } else if (bridge::ClockSkewWorthWarning(offset_seconds)) {
    r.Fail("clock", "this computer's clock is " + std::to_string(std::llabs(offset_seconds)) + " s " +
                        (offset_seconds > 0 ? "behind" : "ahead of") + " the server's",
           "set the time and enable NTP (timedatectl set-ntp true); the agent corrects its timestamps meanwhile");
  } else {
    r.Pass("clock", "within " + std::to_string(std::llabs(offset_seconds)) + " s of the server");
  }
}

void ReportHeartbeat(Report& r, const config::Config& cfg, const http::Outcome& o, int64_t offset_seconds) {
  bridge::HeartbeatResult hb = bridge::ClassifyHeartbeat(o, offset_seconds);
  if (hb.state == bridge::ConnectionState::kConnected) {
    r.Pass("heartbeat", "accepted by " + cfg.server_url);
    return;
  }
  std::string detail = std::string(bridge::ConnectionStateName(hb.state)) + ": " + hb.message;
  if (hb.error) detail += " (" + hb.error->error + ")";
  r.Fail("heartbeat", detail, hb.fix.empty() ? "see the lines above" : hb.fix);
}

}  // namespace

void CheckServer(Report& r, const config::Config& cfg) {
  auto server = config::ParseHttpUrl(cfg.server_url);  // the config loaded: it parses
  std::optional<config::HttpUrl> proxy;
  if (!cfg.http.proxy.empty()) proxy = config::ParseHttpUrl(cfg.http.proxy);
  const bool network_ok = CheckReachable(r, cfg, *server, proxy);

  bridge::TimeFloor time_floor;
  RestoreTimeFloor(cfg, time_floor);
  http::ClientOptions client_options = ClientOptionsFromConfig(cfg);
  client_options.verify_time_floor = time_floor.Hook();
  std::shared_ptr<http::TlsContext> tls_context;
  if (server->scheme == "https") tls_context = CheckTrust(r, client_options);

  if (!network_ok || (!tls_context && server->scheme == "https")) {
    r.Skip("tls", "no connection");
    r.Skip("heartbeat", "no connection");
    return;
  }
  bridge::ClockOffsetTracker offset;
  Result<http::Outcome> outcome = SendHeartbeat(cfg, client_options, tls_context, offset);
  if (!outcome.ok()) {
    r.Fail("https", outcome.status().message(), "correct the http.* settings");
    return;
  }
  ReportProxyAndTls(r, *outcome, *server, proxy.has_value());
  ReportClock(r, *outcome, offset, time_floor);
  ReportHeartbeat(r, cfg, *outcome, offset.offset_seconds());
}

}  // namespace opescare::app::doctor
