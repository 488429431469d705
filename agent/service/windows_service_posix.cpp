// Off Windows there is no service control manager: systemd runs the agent (systemd/opescare-bridge.service).
#include "agent/service/windows_service.h"

namespace opescare::service {

Result<int> RunAsWindowsService(RunLoop) {
  return FailedPrecondition("not started by the Windows service control manager");
}

ServicePaths DefaultServicePaths() {
  return {"/var/lib/opescare-bridge", "/etc/opescare-bridge/config.yaml", "/var/lib/opescare-bridge/outbox.db",
          "/var/spool/opescare-bridge/incoming", "/var/log/opescare-bridge"};
}

Status InstallService(const std::string&, const std::string&) {
  return FailedPrecondition(
      "services are managed by systemd here: install the opescare-bridge package, put the key in "
      "/etc/opescare-bridge/agent.key (mode 0600), then run: systemctl enable --now opescare-bridge");
}

Status UninstallService() {
  return FailedPrecondition(
      "services are managed by systemd here: systemctl disable --now opescare-bridge "
      "(the outbox in /var/lib/opescare-bridge is kept)");
}

Status StartInstalledService() {
  return FailedPrecondition("services are managed by systemd here: systemctl start opescare-bridge");
}

Status StopInstalledService() {
  return FailedPrecondition(
      "services are managed by systemd here: systemctl stop opescare-bridge (the queue is kept and sent after a "
      "start)");
}

}  // namespace opescare::service
