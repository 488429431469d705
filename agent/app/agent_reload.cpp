// SIGHUP: re-read the configuration file and apply what may change in place (reload_plan.h). A file with
// errors changes nothing; a key that needs a restart keeps its old value and the log says so.
#include <boost/asio/post.hpp>
#include <spdlog/logger.h>

#include "agent/app/agent_internal.h"
#include "agent/app/reload_plan.h"
#include "agent/app/wiring.h"
#include "agent/config/logging.h"

namespace opescare::app {

namespace asio = boost::asio;

namespace {
std::string Join(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}
}  // namespace

void Agent::Reload() {
  (void)notifier_.Reloading();
  auto current = cfg();
  config::LoadOptions options;
  options.strict = global_.strict;
  if (!global_.log_level.empty()) options.overrides["log_level"] = global_.log_level;
  config::LoadResult result = config::LoadConfigFile(current->source_path, options);
  for (const auto& p : result.problems) {
    if (p.severity == config::Problem::Severity::kError) log_->error("reload: {}", p.ToString());
    else log_->warn("reload: {}", p.ToString());
  }
  if (!result.ok()) {
    log_->error("reload: {} has errors; the previous configuration keeps running", current->source_path);
    (void)notifier_.Reloaded();
    return;
  }
  ReloadPlan plan = PlanReload(*current, *result.config);
  if (!plan.needs_restart.empty())
    log_->warn("reload: {} changed; they keep their old value until a restart (systemctl restart opescare-bridge)",
               Join(plan.needs_restart));
  auto next = std::make_shared<const config::Config>(std::move(plan.effective));
  cfg_.store(next);  // from here on every thread sees the new snapshot whole

  spdlog::level::level_enum level;
  if (logging::ParseLevel(next->log.level, &level)) log_->set_level(level);
  if (heartbeat_) heartbeat_->UpdateOptions(HeartbeatOptionsFromConfig(*next));
  if (delivery_) {
    delivery_->UpdateOptions(DeliveryOptionsFromConfig(*next));
    delivery_->ConnectivityRegained();  // a fixed sync_path or key deserves a try now
  }
  if (outbox_open_) {  // the connector restarts with its new settings; files waiting in the folder are listed again
    asio::post(disk_, [this, next] {
      Status s = StartConnector(next->connector, next->outbox.max_size_mb);
      if (!s.ok()) log_->error("reload: connector: {}", s.message());
    });
  }
  log_->info("reload: configuration re-read from {} ({}; log level {}, heartbeat every {} s)", next->source_path,
             plan.applied.empty() ? "nothing changed that applies now" : "applied: " + Join(plan.applied),
             next->log.level, next->heartbeat_interval_seconds);
  (void)notifier_.Reloaded();
}

}  // namespace opescare::app
