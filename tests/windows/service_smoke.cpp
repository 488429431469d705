// Smoke test of the Windows-only sources of agent/service, cross-compiled with mingw-w64 and run
// under wine by scripts/ci-windows.sh: the service session's reports and stop requests without
// the SCM, the ReadDirectoryChangesW watcher on a temporary folder, and the console fallback.
//   service_smoke.exe          the checks below; exit 0 when all pass
//   service_smoke.exe scm      also install, start, stop and remove a real service (needs an SCM),
//                              through StartInstalledService / StopInstalledService, watching the
//                              SCM's STOP_PENDING with its wait hint during the drain
//   service_smoke.exe run ...  what the SCM starts in `scm` mode: the service itself
#include <windows.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/env/service_install_win.h"
#include "agent/env/service_session_win.h"
#include "agent/env/win_text.h"
#include "agent/service/windows_service.h"

namespace {

using namespace opescare;
using namespace opescare::service;
using std::chrono::milliseconds;

int failures = 0;

#define CHECK(cond)                                               \
  do {                                                            \
    if (!(cond)) {                                                \
      std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                 \
    }                                                             \
  } while (0)

// Records what the session reports, as the SCM would see it.
class Recorder {
 public:
  void Report(const SERVICE_STATUS& s) {
    std::lock_guard<std::mutex> lock(mutex_);
    statuses_.push_back(s);
    changed_.notify_all();
  }
  bool WaitForState(DWORD state, milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      for (const auto& s : statuses_) {
        if (s.dwCurrentState == state) return true;
      }
      return false;
    });
  }
  std::vector<SERVICE_STATUS> statuses() {
    std::lock_guard<std::mutex> lock(mutex_);
    return statuses_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<SERVICE_STATUS> statuses_;
};

// A run loop that waits for its stop token, as the real one waits on its io_context.
int WaitForStop(StopSignal& stop, int exit_code) {
  std::mutex mutex;
  std::condition_variable cv;
  bool stopped = false;
  stop.OnStop([&] {
    std::lock_guard<std::mutex> lock(mutex);
    stopped = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mutex);
  // Bounded: a broken stop path fails the check instead of hanging CI.
  cv.wait_for(lock, std::chrono::seconds(20), [&] { return stopped; });
  const bool seen = stopped;
  lock.unlock();
  stop.ClearHandler();  // before `mutex` and `cv` go out of scope
  return seen ? exit_code : 99;
}

void TestSessionStopsOnControl() {
  Recorder recorder;
  internal::ServiceSession session([](StopSignal& stop) { return WaitForStop(stop, 3); },
                                   [&recorder](const SERVICE_STATUS& s) { recorder.Report(s); });
  int exit_code = -1;
  std::thread service_thread([&] { exit_code = session.Run(); });
  CHECK(recorder.WaitForState(SERVICE_RUNNING, milliseconds(5000)));
  CHECK(session.HandleControl(SERVICE_CONTROL_INTERROGATE) == NO_ERROR);
  CHECK(session.HandleControl(200) == ERROR_CALL_NOT_IMPLEMENTED);  // a user-defined control
  CHECK(session.HandleControl(SERVICE_CONTROL_PRESHUTDOWN) == NO_ERROR);
  CHECK(recorder.WaitForState(SERVICE_STOPPED, milliseconds(5000)));
  service_thread.join();
  CHECK(session.HandleControl(SERVICE_CONTROL_SHUTDOWN) == NO_ERROR);  // late repeat: harmless
  CHECK(exit_code == 3);

  const auto s = recorder.statuses();
  CHECK(s.size() == 5);
  if (s.size() == 5) {
    CHECK(s[0].dwCurrentState == SERVICE_START_PENDING && s[0].dwControlsAccepted == 0 && s[0].dwCheckPoint == 1);
    CHECK(s[1].dwCurrentState == SERVICE_RUNNING && (s[1].dwControlsAccepted & SERVICE_ACCEPT_STOP) &&
          (s[1].dwControlsAccepted & SERVICE_ACCEPT_PRESHUTDOWN) &&
          (s[1].dwControlsAccepted & SERVICE_ACCEPT_SHUTDOWN));
    CHECK(s[2].dwCurrentState == SERVICE_RUNNING);  // the interrogation's answer
    CHECK(s[3].dwCurrentState == SERVICE_STOP_PENDING && s[3].dwWaitHint >= 10000 && s[3].dwControlsAccepted == 0);
    CHECK(s[4].dwCurrentState == SERVICE_STOPPED && s[4].dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR &&
          s[4].dwServiceSpecificExitCode == 3);
  }
  std::printf("service session: %zu reports checked\n", s.size());
}

void TestCleanExitReportsNoError() {
  Recorder recorder;
  internal::ServiceSession session([](StopSignal& stop) { return WaitForStop(stop, 0); },
                                   [&recorder](const SERVICE_STATUS& s) { recorder.Report(s); });
  std::thread stopper([&] {
    if (recorder.WaitForState(SERVICE_RUNNING, milliseconds(5000))) session.HandleControl(SERVICE_CONTROL_STOP);
  });
  CHECK(session.Run() == 0);
  stopper.join();
  const auto s = recorder.statuses();
  CHECK(!s.empty() && s.back().dwCurrentState == SERVICE_STOPPED && s.back().dwWin32ExitCode == NO_ERROR);
}

std::string MakeTempFolder() {
  wchar_t base[MAX_PATH + 1];
  ::GetTempPathW(MAX_PATH, base);
  std::wstring dir = std::wstring(base) + L"ob-watch-" + std::to_wstring(::GetCurrentProcessId());
  ::CreateDirectoryW(dir.c_str(), nullptr);
  return internal::Narrow(dir);
}

void TestFolderWatcher() {
  const std::string folder = MakeTempFolder();
  auto watcher = env::NewDirectoryChangesWatcher(folder);
  Status started = watcher->Start();
  CHECK(started.ok());
  if (!started.ok()) {
    std::printf("watcher: %s\n", started.ToString().c_str());
    return;
  }

  auto idle = watcher->Wait(milliseconds(200));
  CHECK(idle.ok() && !idle->rescan && idle->names.empty());

  // A file appears while nobody waits: the next Wait must still see it.
  const std::wstring file = internal::Widen(folder) + L"\\lab_results_001.csv";
  HANDLE h = ::CreateFileW(file.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  CHECK(h != INVALID_HANDLE_VALUE);
  DWORD written = 0;
  ::WriteFile(h, "patient_id\n1\n", 13, &written, nullptr);
  ::CloseHandle(h);
  const auto t0 = std::chrono::steady_clock::now();
  auto changed = watcher->Wait(milliseconds(5000));
  CHECK(changed.ok() && changed->rescan);
  std::printf(
      "watcher: change seen after %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count()));

  // Drain whatever else the write produced, then wake it from another thread mid-wait.
  for (int i = 0; i < 10; ++i) {
    auto more = watcher->Drain();
    if (!more.ok() || !more->rescan) break;
  }
  std::thread waker([&watcher] {
    std::this_thread::sleep_for(milliseconds(200));  // the test's one deliberate delay: let Wait block first
    watcher->Wake();
  });
  const auto t1 = std::chrono::steady_clock::now();
  auto woken = watcher->Wait(milliseconds(10000));
  waker.join();
  CHECK(woken.ok() && !woken->rescan);
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(5));
  CHECK(watcher->NewWaitFd() == -1);

  watcher->Stop();
  watcher.reset();
  ::DeleteFileW(file.c_str());
  ::RemoveDirectoryW(internal::Widen(folder).c_str());

  CHECK(env::NewDirectoryChangesWatcher(folder + "\\missing")->Start().code() == Code::kUnavailable);
}

void TestConsoleFallbackAndPaths() {
  bool called = false;
  auto result = RunAsWindowsService([&called](StopSignal&) {
    called = true;
    return 0;
  });
  CHECK(!result.ok() && result.status().code() == Code::kFailedPrecondition);
  CHECK(!called);
  std::printf("console fallback: %s\n", result.status().ToString().c_str());

  const ServicePaths p = DefaultServicePaths();
  std::printf("default paths: config %s, outbox %s\n", p.config_file.c_str(), p.outbox_file.c_str());
  CHECK(p.config_file.ends_with("\\OpesCare\\Bridge\\config.yaml"));
  CHECK(p.outbox_file.find("\\OpesCare\\Bridge\\data\\") != std::string::npos);
}

bool RunningUnderWine() { return ::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != nullptr; }

// `scm` mode: the real service control manager starts this program as the service.
std::string ThisExe() {
  wchar_t path[MAX_PATH + 1];
  const DWORD n = ::GetModuleFileNameW(nullptr, path, MAX_PATH);
  return internal::Narrow(std::wstring(path, n));
}

// The service control manager's view of the service: its state, controls and wait hint.
SERVICE_STATUS QueryStatus() {
  SERVICE_STATUS s{};
  SC_HANDLE scm = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
  SC_HANDLE svc = scm ? ::OpenServiceW(scm, L"OpesCareBridge", SERVICE_QUERY_STATUS) : nullptr;
  if (svc) ::QueryServiceStatus(svc, &s);
  if (svc) ::CloseServiceHandle(svc);
  if (scm) ::CloseServiceHandle(scm);
  return s;
}

// Sends the stop control itself (not StopInstalledService, which waits) and returns the status the
// SCM answered with: the service reports STOP_PENDING from its control handler.
SERVICE_STATUS SendStop() {
  SERVICE_STATUS s{};
  SC_HANDLE scm = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
  SC_HANDLE svc = scm ? ::OpenServiceW(scm, L"OpesCareBridge", SERVICE_STOP) : nullptr;
  CHECK(svc != nullptr && ::ControlService(svc, SERVICE_CONTROL_STOP, &s));
  if (svc) ::CloseServiceHandle(svc);
  if (scm) ::CloseServiceHandle(scm);
  return s;
}

bool FileExists(const std::string& path) {
  return ::GetFileAttributesW(internal::Widen(path).c_str()) != INVALID_FILE_ATTRIBUTES;
}

void TestRealScm(const std::string& marker) {
  const std::string release = marker + ".release";
  ::DeleteFileW(internal::Widen(marker).c_str());
  ::DeleteFileW(internal::Widen(release).c_str());
  // Not installed yet: start and stop say how to install.
  Status early = StartInstalledService();
  std::printf("scm: start before install: %s\n", early.ToString().c_str());
  CHECK(early.code() == Code::kNotFound && early.message().find("service install") != std::string::npos);
  CHECK(StopInstalledService().code() == Code::kNotFound);

  // InstallService's two halves, so that wine (no virtual service accounts, hence no folder ACL
  // for NT SERVICE\OpesCareBridge) can still run the SCM half for real.
  Status registered = internal::RegisterService(ThisExe(), marker);
  std::printf("scm: register: %s\n", registered.ToString().c_str());
  CHECK(registered.ok());
  if (!registered.ok()) return;
  Status folders = internal::PrepareFolders(DefaultServicePaths());
  if (!folders.ok() && RunningUnderWine() && folders.message().find("NT SERVICE") != std::string::npos) {
    std::printf("scm: folder ACL skipped, wine has no virtual service accounts (%s)\n", folders.ToString().c_str());
  } else {
    std::printf("scm: folders: %s\n", folders.ToString().c_str());
    CHECK(folders.ok());
  }
  CHECK(StopInstalledService().ok());  // installed, not running: nothing to stop

  Status started = StartInstalledService();
  std::printf("scm: start: %s\n", started.ToString().c_str());
  CHECK(started.ok());
  SERVICE_STATUS running = QueryStatus();
  CHECK(running.dwCurrentState == SERVICE_RUNNING);
  CHECK((running.dwControlsAccepted & SERVICE_ACCEPT_STOP) && (running.dwControlsAccepted & SERVICE_ACCEPT_SHUTDOWN));
  CHECK(StartInstalledService().ok());  // already running: Ok

  // The drain: the service holds its run loop open after the stop until `release` exists, so the
  // SCM's STOP_PENDING is seen for certain, not by timing.
  const SERVICE_STATUS answer = SendStop();
  const SERVICE_STATUS pending = QueryStatus();
  std::printf("scm: after the stop control: state %lu, wait hint %lu ms, checkpoint %lu; queried: state %lu\n",
              answer.dwCurrentState, answer.dwWaitHint, answer.dwCheckPoint, pending.dwCurrentState);
  CHECK(answer.dwCurrentState == SERVICE_STOP_PENDING && answer.dwWaitHint >= 10000 && answer.dwCheckPoint > 0);
  CHECK(pending.dwCurrentState == SERVICE_STOP_PENDING && pending.dwControlsAccepted == 0);
  HANDLE h = ::CreateFileW(internal::Widen(release).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                           FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
  Status stopped = StopInstalledService();  // already stopping: waits for that drain
  std::printf("scm: stop: %s\n", stopped.ToString().c_str());
  CHECK(stopped.ok());
  CHECK(QueryStatus().dwCurrentState == SERVICE_STOPPED);
  CHECK(FileExists(marker));  // the run loop saw the stop request

  // Started again, uninstall stops it and removes it.
  ::DeleteFileW(internal::Widen(marker).c_str());
  CHECK(StartInstalledService().ok());
  Status removed = UninstallService();
  std::printf("scm: uninstall: %s\n", removed.ToString().c_str());
  CHECK(removed.ok());
  CHECK(FileExists(marker));
  CHECK(StartInstalledService().code() == Code::kNotFound);
  ::DeleteFileW(internal::Widen(release).c_str());
}

// The service side of `scm` mode: run until stopped, hold the drain until the release file exists
// (bounded), then leave a marker (the --config path).
int RunAsService(const std::string& marker) {
  auto result = RunAsWindowsService([&marker](StopSignal& stop) {
    const int code = WaitForStop(stop, 0);
    const std::wstring release = internal::Widen(marker + ".release");
    for (int i = 0; i < 100 && ::GetFileAttributesW(release.c_str()) == INVALID_FILE_ATTRIBUTES; ++i) ::Sleep(100);
    HANDLE h = ::CreateFileW(internal::Widen(marker).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS,
                             FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
    return code;
  });
  return result.ok() ? *result : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IONBF, 0);  // progress shows even if wine hangs and is killed
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "run" && args[1] == "--config") return RunAsService(args[2]);

  TestSessionStopsOnControl();
  std::printf("clean exit...\n");
  TestCleanExitReportsNoError();
  std::printf("folder watcher...\n");
  TestFolderWatcher();
  TestConsoleFallbackAndPaths();
  if (!args.empty() && args[0] == "scm") {
    wchar_t base[MAX_PATH + 1];
    ::GetTempPathW(MAX_PATH, base);
    TestRealScm(internal::Narrow(base) + "ob-service-stopped.marker");
  }
  std::printf(failures == 0 ? "service_smoke: all checks passed\n" : "service_smoke: %d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
