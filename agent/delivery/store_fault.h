// Store faults in delivery (issue 10): what an outbox error means for a person, and how long delivery
// waits before trying the outbox again. Pure: the delivery loop reports and schedules from it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "agent/util/status.h"

namespace opescare::delivery {

enum class StoreFaultKind {
  kDiskFull,  // kResourceExhausted: SQLITE_FULL, the volume or max_page_count is full
  kCorrupt,   // kDataLoss: the database is damaged
  kLocked,    // kUnavailable: another connection held the write lock beyond busy_timeout
  kIo,        // kIoError: the OS refused a read or write
  kOther,     // any other code (a bug or a state this loop does not expect)
};

// "disk_full", "corrupt", "locked", "io", "other": DeliveryCounters::store_fault_kind.
const char* StoreFaultKindName(StoreFaultKind kind);

struct StoreFault {
  StoreFaultKind kind = StoreFaultKind::kOther;
  std::chrono::milliseconds retry_in{0};  // before delivery touches the outbox again
  std::string message;                    // what failed, then the fix, for the log and status
  std::string fix;                        // the fix alone
};

// Classifies a failed outbox call. what says what delivery was doing ("read the next batch", "record the
// outcome of batch X"); consecutive counts this failure among those in a row (1 = the first), so the wait
// doubles from a per-kind base up to a per-kind cap: a full disk is retried every few seconds (space may
// come back at any moment), a corrupt file every few minutes at most. No jitter: one local store.
StoreFault ClassifyStoreFault(const Status& status, const std::string& what, int64_t consecutive);

}  // namespace opescare::delivery
