// The Event Log pieces (agent/env/event_log_win.cpp) under wine: the source's registry key written
// and removed as `service install | uninstall` do, and the sink taking warnings without throwing.
// Wine's ReadEventLog returns nothing, so what reaches the log itself is left to real Windows.
#include <windows.h>

#include <spdlog/logger.h>
#include <spdlog/sinks/sink.h>

#include <cstdio>
#include <string>

#include "agent/env/event_log.h"
#include "tests/windows/check.h"

namespace {

constexpr wchar_t kKey[] = L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\OpesCareBridge";

bool KeyExists() {
  HKEY key = nullptr;
  if (::RegOpenKeyExW(HKEY_LOCAL_MACHINE, kKey, 0, KEY_READ, &key) != ERROR_SUCCESS) return false;
  ::RegCloseKey(key);
  return true;
}

std::wstring ReadString(const wchar_t* name, DWORD* type) {
  wchar_t value[512] = {};
  DWORD size = sizeof value;
  if (::RegGetValueW(HKEY_LOCAL_MACHINE, kKey, name, RRF_RT_ANY | RRF_NOEXPAND, type, value, &size) != ERROR_SUCCESS)
    return L"";
  return value;
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  using namespace opescare;
  CHECK(env::RemoveEventLogSource().ok());  // nothing there yet: still Ok
  Status registered = env::RegisterEventLogSource();
  std::printf("event log: register: %s\n", registered.ToString().c_str());
  CHECK(registered.ok());
  CHECK(KeyExists());
  DWORD type = 0, types = 0, size = sizeof types;
  CHECK(::RegGetValueW(HKEY_LOCAL_MACHINE, kKey, L"TypesSupported", RRF_RT_REG_DWORD, &type, &types, &size) ==
        ERROR_SUCCESS);
  CHECK(types == (EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE));
  const std::wstring file = ReadString(L"EventMessageFile", &type);
  CHECK(type == REG_EXPAND_SZ && file == L"%SystemRoot%\\System32\\mscoree.dll");

  auto sink = env::NewEventLogSink();
  CHECK(sink != nullptr);
  if (sink) {
    CHECK(sink->level() == spdlog::level::warn);
    spdlog::logger logger("opescare-bridge", sink);
    bool threw = false;
    try {
      logger.warn("event log check: a warning");
      logger.error("event log check: an error");
      logger.info("event log check: info, filtered out by the sink's level");
    } catch (...) {
      threw = true;
    }
    CHECK(!threw);
  }
  CHECK(env::RemoveEventLogSource().ok());
  CHECK(!KeyExists());
  const int failures = opescare::wintest::failures;
  std::printf(failures == 0 ? "event_log_check: all checks passed\n" : "event_log_check: %d check(s) failed\n",
              failures);
  return failures == 0 ? 0 : 1;
}
