// `run` and `heartbeat`: the daemon, and one heartbeat by hand with a full report.
#include <iostream>

#include "agent/app/agent.h"
#include "agent/app/commands.h"
#include "agent/app/exit_codes.h"
#include "agent/app/wiring.h"
#include "agent/bridge/clock_offset.h"
#include "agent/bridge/headers.h"
#include "agent/bridge/heartbeat.h"
#include "agent/config/logging.h"
#include "agent/env/env.h"
#include "agent/env/event_log.h"
#include "agent/outbox/outbox.h"
#include "agent/service/windows_service.h"

namespace opescare::app {

std::shared_ptr<spdlog::logger> MakeAgentLogger(const config::Config& cfg) {
  return logging::MakeLogger(cfg.log, config::Secrets(cfg));
}

namespace {

// The configuration loaded inside the run: under the SCM, a bad one is then a service stopped with
// exit code 2 (`sc query`), not a process that never answered the SCM.
int LoadAndRun(const GlobalOptions& global, service::StopSignal* service_stop) {
  auto cfg = LoadConfigOrReport(global);
  if (!cfg) return kExitUsage;
  auto logger = MakeAgentLogger(*cfg);
  // Windows: warnings and errors also go to the Application event log (redacted like the file).
  logging::AddRedactedSink(*logger, env::NewEventLogSink(), config::Secrets(*cfg), spdlog::level::warn,
                           "the Windows event log");
  return RunAgent(global, std::move(*cfg), logger, service_stop);
}

}  // namespace

int CmdRun(const GlobalOptions& global) {
  // Started by the Windows SCM: a service. Anywhere else (a console, systemd): the foreground loop.
  Result<int> as_service =
      service::RunAsWindowsService([&global](service::StopSignal& stop) { return LoadAndRun(global, &stop); });
  if (as_service.ok()) return *as_service;
  if (as_service.status().code() != Code::kFailedPrecondition) {
    std::cerr << "run: " << as_service.status().message() << "\n";
    return kExitFailure;
  }
  return LoadAndRun(global, nullptr);
}

namespace {

void PrintSent(const http::Request& request, const std::string& url) {
  std::cout << "sent:     POST " << url << request.target << "\n";
  for (const auto& [name, value] : bridge::RedactHeaders(request.headers)) {
    std::cout << "          " << name << ": " << value << "\n";
  }
  std::cout << "          " << request.body << "\n";
}

// The heartbeat's "status" object as a one-off command can know it: queue figures from the outbox file
// (read-only, it may be in use by the running agent), no uptime or sync history of its own.
bridge::AgentStatus OneShotStatus(const config::Config& cfg) {
  bridge::AgentStatus s;
  if (Result<std::string> host = env::Env::Default()->HostName(); host.ok()) s.hostname = *host;
  s.os = bridge::OsName();
  outbox::OutboxOptions o = OutboxOptionsFromConfig(cfg);
  o.read_only = true;
  if (auto ob = outbox::OpenOutbox(o); ob.ok()) {
    if (auto st = (*ob)->GetStats(); st.ok()) {
      s.queue.pending = st->queued;
      s.queue.dead = st->dead;
      if (st->queued > 0) s.queue.oldest_pending_age_seconds = st->oldest_queued_age_seconds;
    }
  }
  return s;
}

}  // namespace

int CmdHeartbeat(const GlobalOptions& global) {
  auto cfg = LoadConfigOrReport(global);
  if (!cfg) return kExitUsage;
  auto logger = MakeAgentLogger(*cfg);
  http::ClientOptions options = ClientOptionsFromConfig(*cfg);

  bridge::ClockOffsetTracker offset;
  bridge::HeartbeatResult result;
  // A refused timestamp with a clock far off is retried once with the offset the first answer revealed,
  // as the daemon would on its next beat.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bridge::HeartbeatInputs inputs;
    inputs.agent_id = cfg->agent_id;
    inputs.facility_id = cfg->facility_id;
    inputs.version = OB_VERSION;
    if (cfg->heartbeat.include_status) inputs.status = OneShotStatus(*cfg);
    http::Request request;
    request.target = cfg->heartbeat_path;
    request.headers = bridge::BuildHeaders(
        CredentialsFromConfig(*cfg),
        bridge::BridgeTimestamp(std::chrono::system_clock::now(), offset.offset_seconds()), bridge::UserAgent());
    request.body = bridge::BuildHeartbeatBody(inputs);
    PrintSent(request, cfg->server_url);

    auto outcome = http::SendBlocking(options, request, logger);
    if (!outcome.ok()) {
      std::cerr << "heartbeat: " << outcome.status().message() << "\n";
      return kExitUsage;
    }
    offset.AddResponse(*outcome);
    result = bridge::ClassifyHeartbeat(*outcome, offset.offset_seconds());
    std::cout << "outcome:  " << bridge::ConnectionStateName(result.state);
    if (result.http_status) std::cout << " (HTTP " << result.http_status << ")";
    std::cout << "\n";
    if (result.error) {
      std::cout << "server:   " << result.error->error << ": " << result.error->message << "\n";
    }
    if (!result.message.empty()) std::cout << "detail:   " << result.message << "\n";
    if (!result.fix.empty()) std::cout << "fix:      " << result.fix << "\n";
    if (outcome->peer_certificate) {
      // Without a version the handshake did not complete: the certificate named is the one refused
      // (at whatever depth of the chain verification failed), not necessarily the server's own.
      if (outcome->tls_version.empty()) {
        std::cout << "tls:      not established, refused certificate " << outcome->peer_certificate->subject << "\n";
      } else {
        std::cout << "tls:      " << outcome->tls_version << ", certificate " << outcome->peer_certificate->subject
                  << "\n";
      }
    }
    if (offset.has_sample()) {
      std::cout << "clock:    server - local = " << offset.offset_seconds() << " s";
      if (bridge::ClockSkewWorthWarning(offset.offset_seconds())) std::cout << " (set this computer's clock: enable NTP)";
      std::cout << "\n";
    }
    bool retry = attempt == 0 && result.state == bridge::ConnectionState::kUnauthorized &&
                 bridge::ClockLikelyCausesAuthFailure(offset.offset_seconds());
    if (!retry) break;
    std::cout << "retrying once with the measured clock offset...\n";
  }
  return result.state == bridge::ConnectionState::kConnected ? kExitOk : kExitUnreachable;
}

}  // namespace opescare::app
