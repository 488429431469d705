// The Windows service: ServiceMain and its control handler under the SCM, registration with the
// SCM (install/uninstall), and the %ProgramData% folders with their access control.
#include <windows.h>
// After windows.h, which they need.
#include <aclapi.h>
#include <shlobj.h>

#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "agent/env/event_log.h"
#include "agent/env/scm_win.h"
#include "agent/env/service_install_win.h"
#include "agent/env/service_session_win.h"
#include "agent/env/win_text.h"
#include "agent/service/service_control.h"
#include "agent/service/windows_service.h"

namespace opescare::service {
namespace {

using internal::Narrow;
using internal::OpenManager;
using internal::ScHandle;
using internal::ScmError;
using internal::ServiceSession;
using internal::Widen;
using internal::WindowsError;

// The SCM calls ServiceMain without a context argument, so the run loop reaches it through this
// file-level pointer, set by RunAsWindowsService for the duration of the dispatcher. The SCM API
// leaves no other way; nothing else in the agent is global.
RunLoop* g_run_loop = nullptr;
int g_exit_code = 0;

constexpr wchar_t kVirtualAccount[] = L"NT SERVICE\\OpesCareBridge";

DWORD WINAPI ControlHandler(DWORD control, DWORD, LPVOID, LPVOID context) {
  return static_cast<ServiceSession*>(context)->HandleControl(control);
}

void WINAPI ServiceMain(DWORD, LPWSTR*) {
  SERVICE_STATUS_HANDLE handle = nullptr;
  ServiceSession session(*g_run_loop, [&handle](const SERVICE_STATUS& status) {
    SERVICE_STATUS copy = status;
    ::SetServiceStatus(handle, &copy);
  });
  const std::wstring name = Widen(kWindowsServiceName);
  handle = ::RegisterServiceCtrlHandlerExW(name.c_str(), ControlHandler, &session);
  if (handle == nullptr) {
    // Without a handle nothing can be reported; the SCM sees the process end and applies recovery.
    g_exit_code = 1;
    return;
  }
  g_exit_code = session.Run();
}

// One ChangeServiceConfig2W setting. An SCM without that setting (ERROR_INVALID_LEVEL: wine, old
// Windows) is tolerated unless the setting is `required`; any other failure is an error.
Status ChangeConfig(SC_HANDLE service, DWORD level, void* info, const char* what, bool required) {
  if (::ChangeServiceConfig2W(service, level, info)) return Status::Ok();
  const DWORD err = ::GetLastError();
  if (err == ERROR_INVALID_LEVEL && !required) return Status::Ok();
  return ScmError(what, err);
}

// Applies the service's description, delayed automatic start, recovery actions, preshutdown
// timeout and service SID.
Status ConfigureService(SC_HANDLE service) {
  std::wstring description = L"Carries this facility's exported records to OpesCare, queued safely on disk.";
  SERVICE_DESCRIPTIONW desc{description.data()};
  // Delayed: the agent starts after the network and DNS client are up, not in the boot rush.
  SERVICE_DELAYED_AUTO_START_INFO delayed{TRUE};
  const RecoveryPlan plan = DefaultRecoveryPlan();
  std::vector<SC_ACTION> actions;
  for (auto delay : plan.restart_delays) actions.push_back({SC_ACTION_RESTART, static_cast<DWORD>(delay.count())});
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod = static_cast<DWORD>(plan.reset_period.count());
  failure.cActions = static_cast<DWORD>(actions.size());
  failure.lpsaActions = actions.data();
  // Also restart after a clean exit with a non-zero code (e.g. a fatal disk error), not only a crash.
  SERVICE_FAILURE_ACTIONS_FLAG on_exit{TRUE};
  SERVICE_PRESHUTDOWN_INFO preshutdown{static_cast<DWORD>(kStopWaitHint.count())};
  // The virtual account NT SERVICE\OpesCareBridge needs the service SID in its token.
  SERVICE_SID_INFO sid{SERVICE_SID_TYPE_UNRESTRICTED};

  struct Setting {
    DWORD level;
    void* info;
    const char* what;
    bool required;
  };
  const Setting settings[] = {
      {SERVICE_CONFIG_DESCRIPTION, &desc, "setting the service description", false},
      {SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed, "setting delayed automatic start", false},
      {SERVICE_CONFIG_FAILURE_ACTIONS, &failure, "setting the recovery actions", true},
      {SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_exit, "enabling recovery on non-zero exit", false},
      {SERVICE_CONFIG_PRESHUTDOWN_INFO, &preshutdown, "setting the preshutdown timeout", false},
      {SERVICE_CONFIG_SERVICE_SID_INFO, &sid, "setting the service SID type", false},
  };
  for (const Setting& setting : settings) {
    if (Status s = ChangeConfig(service, setting.level, setting.info, setting.what, setting.required); !s.ok())
      return s;
  }
  return Status::Ok();
}

// Creates `path` and any missing parents (%ProgramData%\OpesCare does not exist on a new machine).
Status CreateFolder(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(Widen(path)), ec);
  if (ec) return IoError("creating " + path + ": " + ec.message());
  return Status::Ok();
}

using Sid = std::vector<BYTE>;

// SYSTEM and Administrators by SID: their names are translated on non-English Windows.
Result<Sid> WellKnownSid(WELL_KNOWN_SID_TYPE type, const char* what) {
  DWORD size = SECURITY_MAX_SID_SIZE;
  Sid sid(size);
  if (!::CreateWellKnownSid(type, nullptr, sid.data(), &size)) {
    return IoError(WindowsError(std::string("building the SID of ") + what, ::GetLastError()));
  }
  sid.resize(size);
  return sid;
}

// The service's virtual account exists once the service is registered.
Result<Sid> AccountSid(const wchar_t* account) {
  DWORD sid_size = 0;
  DWORD domain_size = 0;
  SID_NAME_USE use;
  ::LookupAccountNameW(nullptr, account, nullptr, &sid_size, nullptr, &domain_size, &use);
  if (sid_size == 0) return IoError(WindowsError("looking up " + Narrow(account), ::GetLastError()));
  Sid sid(sid_size);
  std::wstring domain(domain_size + 1, L'\0');
  if (!::LookupAccountNameW(nullptr, account, sid.data(), &sid_size, domain.data(), &domain_size, &use)) {
    return IoError(WindowsError("looking up " + Narrow(account), ::GetLastError()));
  }
  return sid;
}

struct Grant {
  const Sid* sid;
  DWORD access;
};

// Grants each SID its access on `path`, inherited by what is created inside. With `protect`, the
// folder stops inheriting from %ProgramData% (where every user may read) and keeps only these
// grants: the folders hold patient data.
Status GrantFolderAccess(const std::string& path, const std::vector<Grant>& grants, bool protect) {
  const std::wstring wpath = Widen(path);
  std::vector<EXPLICIT_ACCESSW> entries;
  for (const Grant& grant : grants) {
    EXPLICIT_ACCESSW ea{};
    ea.grfAccessPermissions = grant.access;
    ea.grfAccessMode = GRANT_ACCESS;
    ea.grfInheritance = SUB_CONTAINERS_AND_OBJECTS_INHERIT;
    ea.Trustee.TrusteeForm = TRUSTEE_IS_SID;
    ea.Trustee.TrusteeType = TRUSTEE_IS_UNKNOWN;
    ea.Trustee.ptstrName = reinterpret_cast<LPWSTR>(const_cast<BYTE*>(grant.sid->data()));
    entries.push_back(ea);
  }
  PACL existing = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (!protect) {
    const DWORD err = ::GetNamedSecurityInfoW(wpath.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                                              nullptr, &existing, nullptr, &descriptor);
    if (err != ERROR_SUCCESS) return IoError(WindowsError("reading the access list of " + path, err));
  }
  PACL acl = nullptr;
  DWORD err = ::SetEntriesInAclW(static_cast<ULONG>(entries.size()), entries.data(), existing, &acl);
  if (descriptor != nullptr) ::LocalFree(descriptor);
  if (err != ERROR_SUCCESS) return IoError(WindowsError("building the access list of " + path, err));
  const SECURITY_INFORMATION info = DACL_SECURITY_INFORMATION | (protect ? PROTECTED_DACL_SECURITY_INFORMATION
                                                                         : UNPROTECTED_DACL_SECURITY_INFORMATION);
  err = ::SetNamedSecurityInfoW(const_cast<wchar_t*>(wpath.c_str()), SE_FILE_OBJECT, info, nullptr, nullptr, acl,
                                nullptr);
  ::LocalFree(acl);
  if (err != ERROR_SUCCESS) return IoError(WindowsError("setting the access list of " + path, err));
  return Status::Ok();
}

}  // namespace

namespace internal {

// The service account reads everything under the base folder (config.yaml included) and writes
// only where it must: the outbox, the watch folder and the logs.
Status PrepareFolders(const ServicePaths& paths) {
  const std::string data_dir = paths.base_dir + "\\data";
  for (const std::string& dir : {paths.base_dir, data_dir, paths.watch_folder, paths.watch_folder + "\\processed",
                                 paths.watch_folder + "\\failed", paths.log_dir}) {
    if (Status s = CreateFolder(dir); !s.ok()) return s;
  }
  auto service = AccountSid(kVirtualAccount);
  if (!service.ok()) return service.status();
  auto system = WellKnownSid(WinLocalSystemSid, "SYSTEM");
  if (!system.ok()) return system.status();
  auto admins = WellKnownSid(WinBuiltinAdministratorsSid, "Administrators");
  if (!admins.ok()) return admins.status();

  const DWORD read = GENERIC_READ | GENERIC_EXECUTE;
  const DWORD modify = GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | DELETE;
  if (Status s = GrantFolderAccess(paths.base_dir,
                                   {{&*system, GENERIC_ALL}, {&*admins, GENERIC_ALL}, {&*service, read}}, true);
      !s.ok()) {
    return s;
  }
  for (const std::string& dir : {data_dir, paths.watch_folder, paths.log_dir}) {
    if (Status s = GrantFolderAccess(dir, {{&*service, modify}}, false); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace internal

Result<int> RunAsWindowsService(RunLoop run) {
  g_run_loop = &run;
  g_exit_code = 0;
  std::wstring name = Widen(kWindowsServiceName);
  SERVICE_TABLE_ENTRYW table[] = {{name.data(), ServiceMain}, {nullptr, nullptr}};
  // Blocks until the service has stopped; ServiceMain runs on a thread the SCM creates.
  const BOOL ok = ::StartServiceCtrlDispatcherW(table);
  const DWORD err = ok ? ERROR_SUCCESS : ::GetLastError();
  g_run_loop = nullptr;
  if (!ok) {
    if (err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
      return FailedPrecondition("not started by the Windows service control manager");
    }
    return IoError(WindowsError("starting the service dispatcher", err));
  }
  return g_exit_code;
}

ServicePaths DefaultServicePaths() {
  std::string program_data = "C:\\ProgramData";
  PWSTR known = nullptr;
  if (SUCCEEDED(::SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &known))) program_data = Narrow(known);
  if (known != nullptr) ::CoTaskMemFree(known);
  const std::string base = program_data + "\\OpesCare\\Bridge";
  return {base, base + "\\config.yaml", base + "\\data\\outbox.db", base + "\\incoming", base + "\\logs"};
}

namespace internal {

Status RegisterService(const std::string& exe_path, const std::string& config_path) {
  auto scm = OpenManager(SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE);
  if (!scm.ok()) return scm.status();
  const std::wstring name = Widen(kWindowsServiceName);
  const std::wstring display = Widen(kWindowsServiceDisplayName);
  const std::wstring command = Widen(ServiceCommandLine(exe_path, config_path));
  // Start after TCP/IP (a double-NUL-terminated list).
  static constexpr wchar_t kDependencies[] = L"Tcpip\0";
  ScHandle service(::CreateServiceW(scm->get(), name.c_str(), display.c_str(), SERVICE_ALL_ACCESS,
                                    SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                                    command.c_str(), nullptr, nullptr, kDependencies, kVirtualAccount, nullptr));
  if (!service) return ScmError("registering the service", ::GetLastError());
  if (Status configured = ConfigureService(service.get()); !configured.ok()) {
    // Half-installed is worse than not installed: roll the registration back.
    ::DeleteService(service.get());
    return configured;
  }
  return Status::Ok();
}

}  // namespace internal

Status InstallService(const std::string& exe_path, const std::string& config_path) {
  if (Status s = internal::RegisterService(exe_path, config_path); !s.ok()) return s;
  if (Status s = internal::PrepareFolders(DefaultServicePaths()); !s.ok()) {
    // Without its folders the service cannot run: roll the registration back (the error is the folders').
    (void)UninstallService();
    return s;
  }
  // Warnings and errors of the service also go to the Application event log under this source.
  if (Status s = env::RegisterEventLogSource(); !s.ok()) {
    (void)UninstallService();
    return s;
  }
  return Status::Ok();
}

Status UninstallService() {
  auto service = internal::OpenBridgeService(SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE);
  if (!service.ok()) return service.status();
  SERVICE_STATUS status{};
  if (::ControlService(service->get(), SERVICE_CONTROL_STOP, &status)) {
    // A drain that outlasts the wait is no reason to keep the registration: DeleteService takes
    // effect once the process has exited.
    SERVICE_STATUS_PROCESS last{};
    (void)internal::WaitForState(service->get(), ServiceState::kStopped, kStopWaitLimit, &last);
  } else if (const DWORD err = ::GetLastError(); err != ERROR_SERVICE_NOT_ACTIVE) {
    return ScmError("stopping the service", err);
  }
  // The registration goes; %ProgramData%\OpesCare\Bridge (outbox, config, unsent files) stays.
  if (!::DeleteService(service->get())) return ScmError("removing the service", ::GetLastError());
  // The event source goes with it (earlier entries stay readable only as raw text).
  return env::RemoveEventLogSource();
}

}  // namespace opescare::service
