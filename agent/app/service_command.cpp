// `service install | uninstall | start | stop`: the agent as a Windows service (the service control
// manager); elsewhere each says which systemctl command does it instead.
#include <filesystem>
#include <iostream>

#include "agent/app/commands.h"
#include "agent/app/exit_codes.h"
#include "agent/app/service_config.h"
#include "agent/env/env.h"
#include "agent/service/windows_service.h"
#include "agent/util/files.h"

namespace opescare::app {
namespace {

constexpr uint64_t kMaxExampleBytes = 1 << 20;

// After a Windows install with the default configuration path: when no config.yaml is there yet,
// writes one from the config.example.yaml beside the executable (paths moved under the service's
// folders), else says how to make one. Never replaces an existing file. Returns what to tell the user.
std::string EnsureServiceConfig(env::Env& env, const std::string& exe, const service::ServicePaths& paths) {
  if (env.Stat(paths.config_file).ok()) return "configuration: " + paths.config_file + " (kept as it is)";
  const std::string example = (std::filesystem::path(exe).parent_path() / "config.example.yaml").string();
  const std::string how = "copy config.example.yaml there, set outbox.path, connector.watch_folder and log.file "
                          "under " + paths.base_dir + ", then check it: opescare-bridge check-config --config " +
                          paths.config_file;
  Result<std::string> text = ReadFileLimited(example, kMaxExampleBytes, env);
  if (!text.ok()) return "no configuration in " + paths.config_file + " yet (" + text.status().message() + "): " + how;
  Result<std::string> config = ServiceConfigFromExample(*text, paths);
  if (!config.ok()) return "no configuration written: " + config.status().message() + ": " + how;
  if (Status s = WriteFileAtomic(paths.config_file, *config, 0600, env); !s.ok()) {
    return "no configuration written (" + s.message() + "): " + how;
  }
  return "configuration: wrote " + paths.config_file + " from " + example +
         "; set agent_id, facility_id and the key in it, then: opescare-bridge doctor --config " + paths.config_file;
}

Status Install(const GlobalOptions& global) {
  env::Env& env = *env::Env::Default();
  Result<std::string> own = env.ExecutablePath();
  if (!own.ok()) return own.status();
  const service::ServicePaths paths = service::DefaultServicePaths();
  std::error_code ec;
  const std::string config = global.config_path.empty() ? paths.config_file
                                                        : std::filesystem::absolute(global.config_path, ec).string();
  if (Status s = service::InstallService(*own, config); !s.ok()) return s;
  std::cout << "service " << service::kWindowsServiceName << " installed (starts automatically after boot; now: "
            << "opescare-bridge service start)\n";
  if (config == paths.config_file) std::cout << EnsureServiceConfig(env, *own, paths) << "\n";
  return Status::Ok();
}

}  // namespace

int CmdService(const GlobalOptions& global, const std::string& action) {
  Status s;
  if (action == "install") {
    s = Install(global);
  } else if (action == "start") {
    s = service::StartInstalledService();
    if (s.ok()) std::cout << "service " << service::kWindowsServiceName << " running\n";
  } else if (action == "stop") {
    s = service::StopInstalledService();
    if (s.ok()) std::cout << "service " << service::kWindowsServiceName << " stopped (its queue is kept)\n";
  } else {
    s = service::UninstallService();
    if (s.ok()) std::cout << "service " << service::kWindowsServiceName << " removed; its data folder is kept\n";
  }
  if (s.ok()) return kExitOk;
  if (s.code() == Code::kFailedPrecondition) {
    std::cout << s.message() << "\n";  // what to do on this system instead
    return kExitFailure;
  }
  std::cerr << "service " << action << ": " << s.message() << "\n";
  return kExitFailure;
}

}  // namespace opescare::app
