// Fault: a problem the agent keeps running through (ARCHITECTURE.md "Durability rules"), as status,
// /readyz, /metrics and the heartbeat show it. One vocabulary of kinds for every component.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace opescare {

struct Fault {
  std::string kind;     // one of kFaultKinds
  std::string message;  // what is wrong, in words; never a record's content or a secret
  std::string fix;      // what a person should do
};

inline constexpr std::string_view kFaultDiskFull = "disk_full";              // outbox volume below min_free_mb
inline constexpr std::string_view kFaultOutboxError = "outbox_error";        // the store cannot be read/written
inline constexpr std::string_view kFaultOutboxUnavailable = "outbox_unavailable";  // cannot be opened
inline constexpr std::string_view kFaultNoReceipt = "no_receipt";            // a 2xx that was not a receipt
inline constexpr std::string_view kFaultWatchFolder = "watch_folder";        // a read/write there failed
inline constexpr std::string_view kFaultNotRegularFile = "not_regular_file";  // a folder/FIFO/link named as an export
inline constexpr std::string_view kFaultClockBehind = "clock_behind";        // behind the last known server time
inline constexpr std::string_view kFaultClockAhead = "clock_ahead";          // certificates look expired
inline constexpr std::string_view kFaultIngestPaused = "ingest_paused";      // outbox above max_size_mb

inline constexpr std::array<std::string_view, 9> kFaultKinds = {
    kFaultDiskFull,    kFaultOutboxError,      kFaultOutboxUnavailable, kFaultNoReceipt,   kFaultWatchFolder,
    kFaultNotRegularFile, kFaultClockBehind, kFaultClockAhead,        kFaultIngestPaused};

}  // namespace opescare
