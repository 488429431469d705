// `service install | uninstall`: registration with the Windows service control manager; elsewhere it
// says how systemd runs the agent instead.
#include <filesystem>
#include <iostream>

#include "agent/app/commands.h"
#include "agent/app/exit_codes.h"
#include "agent/env/env.h"
#include "agent/service/windows_service.h"

namespace opescare::app {

int CmdService(const GlobalOptions& global, const std::string& action) {
  Status s;
  if (action == "install") {
    std::error_code ec;
    Result<std::string> own = env::Env::Default()->ExecutablePath();
    std::string exe = own.ok() ? *own : std::string();
    std::string config = global.config_path.empty() ? service::DefaultServicePaths().config_file
                                                    : std::filesystem::absolute(global.config_path, ec).string();
    s = service::InstallService(exe, config);
    if (s.ok()) std::cout << "service " << service::kWindowsServiceName << " installed (starts automatically)\n";
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
