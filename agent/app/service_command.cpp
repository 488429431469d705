// `service install | uninstall | start | stop`: the agent as a Windows service (the service control
// manager); elsewhere each says which systemctl command does it instead.
#include <filesystem>
#include <iostream>
#include <optional>

#include "agent/app/commands.h"
#include "agent/app/exit_codes.h"
#include "agent/app/install_config.h"
#include "agent/app/service_config.h"
#include "agent/env/env.h"
#include "agent/service/windows_service.h"
#include "agent/util/files.h"

namespace opescare::app {
namespace {

constexpr uint64_t kMaxExampleBytes = 1 << 20;

// For a Windows install with the default configuration path and no config.yaml there yet: the text to write,
// config.example.yaml beside the executable with its paths moved under the service's folders and the
// installer's settings. nullopt (with `note` saying why and what to do) when there is nothing to write;
// an error when the settings make an invalid configuration, so the install stops before it registers.
Result<std::optional<std::string>> NewServiceConfig(env::Env& env, const std::string& exe,
                                                    const service::ServicePaths& paths,
                                                    const InstallSettings& settings, std::string* note) {
  if (env.Stat(paths.config_file).ok()) {
    *note = "configuration: " + paths.config_file + " (kept as it is)";
    return std::optional<std::string>();
  }
  const std::string example = (std::filesystem::path(exe).parent_path() / "config.example.yaml").string();
  const std::string how = "copy config.example.yaml there, set outbox.path, connector.watch_folder and log.file "
                          "under " + paths.base_dir + ", then check it: opescare-bridge check-config --config " +
                          paths.config_file;
  Result<std::string> text = ReadFileLimited(example, kMaxExampleBytes, env);
  Result<std::string> moved = text.ok() ? ServiceConfigFromExample(*text, paths) : text.status();
  if (!moved.ok()) {
    if (!settings.empty()) return FailedPrecondition("cannot apply the installer's settings: " + moved.status().message());
    *note = "no configuration in " + paths.config_file + " yet (" + moved.status().message() + "): " + how;
    return std::optional<std::string>();
  }
  Result<std::string> checked = CheckedInstallConfig(*moved, settings, paths.config_file);
  if (!checked.ok()) return checked.status();
  *note = "configuration: wrote " + paths.config_file + " from " + example +
          (settings.empty() ? "; set agent_id, facility_id and the key in it" : "") +
          ", then: opescare-bridge doctor --config " + paths.config_file;
  return std::optional<std::string>(*checked);
}

Status Install(const GlobalOptions& global, const InstallSettings& settings) {
  env::Env& env = *env::Env::Default();
  Result<std::string> own = env.ExecutablePath();
  if (!own.ok()) return own.status();
  const service::ServicePaths paths = service::DefaultServicePaths();
  std::error_code ec;
  const std::string config = global.config_path.empty() ? paths.config_file
                                                        : std::filesystem::absolute(global.config_path, ec).string();
  std::string note;
  Result<std::optional<std::string>> text = std::optional<std::string>();
  if (config == paths.config_file) {
    text = NewServiceConfig(env, *own, paths, settings, &note);
  } else if (!settings.empty()) {
    text = FailedPrecondition("--server-url, --agent-id, --facility-id and --key-file fill a new " +
                              paths.config_file + " only; edit " + config + " instead");
  }
  if (!text.ok()) return text.status();
  if (Status s = service::InstallService(*own, config); !s.ok()) return s;
  std::cout << "service " << service::kWindowsServiceName << " installed (starts automatically after boot; now: "
            << "opescare-bridge service start)\n";
  if (text->has_value()) {
    Result<bool> wrote = WriteConfigOnce(paths.config_file, **text, env);
    if (!wrote.ok()) note = "no configuration written (" + wrote.status().message() + ")";
  }
  if (!note.empty()) std::cout << note << "\n";
  return Status::Ok();
}

}  // namespace

int CmdService(const GlobalOptions& global, const std::string& action, const InstallSettings& settings) {
  Status s;
  if (action == "install") {
    s = Install(global, settings);
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
