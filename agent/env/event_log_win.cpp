// The Windows Event Log: spdlog's win_eventlog sink behind one that never throws, and the source's
// registry key (written by `service install`, removed by `service uninstall`).
#include <windows.h>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/win_eventlog_sink.h>

#include <mutex>
#include <string>

#include "agent/env/event_log.h"
#include "agent/env/win_text.h"

namespace opescare::env {
namespace {

using service::internal::Widen;
using service::internal::WindowsError;

constexpr wchar_t kSourceKey[] = L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\OpesCareBridge";
// Its message 1000 (spdlog's event id) is "%1": Event Viewer shows the line as it was written.
constexpr wchar_t kMessageFile[] = L"%SystemRoot%\\System32\\mscoree.dll";

// A line the Event Log refuses (source not registered, log full) is dropped: the log file has it, and a
// failure here must neither throw into the caller nor move the file's lines to stderr.
class EventLogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  EventLogSink() : inner_(kEventLogSource) {
    // Lines arrive formatted and redacted (logging.cpp's redacting sink): pass them through.
    inner_.set_formatter(std::make_unique<spdlog::pattern_formatter>("%v", spdlog::pattern_time_type::utc, ""));
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    try {
      inner_.log(msg);
    } catch (const std::exception&) {
      // spdlog_ex from RegisterEventSource or ReportEvent: nothing better to do with it (see above).
    }
  }
  void flush_() override {}

 private:
  spdlog::sinks::win_eventlog_sink_st inner_;  // serialised by this sink's mutex
};

Status RegistryError(const std::string& what, LSTATUS err) {
  std::string message = WindowsError(what, static_cast<DWORD>(err));
  if (err == ERROR_ACCESS_DENIED) return PermissionDenied(message + "; run it from an administrator prompt");
  return IoError(message);
}

}  // namespace

std::shared_ptr<spdlog::sinks::sink> NewEventLogSink() {
  auto sink = std::make_shared<EventLogSink>();
  sink->set_level(spdlog::level::warn);
  return sink;
}

Status RegisterEventLogSource() {
  HKEY key = nullptr;
  LSTATUS err = ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, kSourceKey, 0, nullptr, REG_OPTION_NON_VOLATILE, KEY_SET_VALUE,
                                  nullptr, &key, nullptr);
  if (err != ERROR_SUCCESS) return RegistryError("registering the event log source OpesCareBridge", err);
  const DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
  err = ::RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD, reinterpret_cast<const BYTE*>(&types), sizeof types);
  if (err == ERROR_SUCCESS) {
    err = ::RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ, reinterpret_cast<const BYTE*>(kMessageFile),
                           sizeof kMessageFile);
  }
  ::RegCloseKey(key);
  if (err != ERROR_SUCCESS) return RegistryError("writing the event log source OpesCareBridge", err);
  return Status::Ok();
}

Status RemoveEventLogSource() {
  const LSTATUS err = ::RegDeleteKeyW(HKEY_LOCAL_MACHINE, kSourceKey);
  if (err == ERROR_SUCCESS || err == ERROR_FILE_NOT_FOUND) return Status::Ok();
  return RegistryError("removing the event log source OpesCareBridge", err);
}

}  // namespace opescare::env
