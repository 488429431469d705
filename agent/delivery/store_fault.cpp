// Store fault classification: kind, backoff and the fix in words.
#include "agent/delivery/store_fault.h"

#include <algorithm>

namespace opescare::delivery {
namespace {

using std::chrono::milliseconds;

struct KindPolicy {
  StoreFaultKind kind;
  milliseconds base;
  milliseconds cap;
  const char* what_failed;
  const char* fix;
};

KindPolicy PolicyFor(Code code) {
  switch (code) {
    case Code::kResourceExhausted:
      return {StoreFaultKind::kDiskFull, milliseconds(1000), milliseconds(5000), "the outbox volume is full",
              "free space on the volume holding the outbox (outbox.path); delivery resumes by itself within seconds"};
    case Code::kDataLoss:
      return {StoreFaultKind::kCorrupt, milliseconds(5000), milliseconds(300'000), "the outbox database is damaged",
              "stop the agent, keep a copy of the outbox file, and run `opescare-bridge doctor`; nothing is deleted"};
    case Code::kUnavailable:
      return {StoreFaultKind::kLocked, milliseconds(500), milliseconds(10'000),
              "another process holds the outbox's write lock",
              "let the other opescare-bridge command finish; only one agent may use an outbox.path"};
    case Code::kIoError:
      return {StoreFaultKind::kIo, milliseconds(2000), milliseconds(60'000),
              "the outbox file cannot be read or written",
              "check the disk (dmesg) and the permissions of the outbox file and its folder"};
    default:
      return {StoreFaultKind::kOther, milliseconds(5000), milliseconds(60'000), "the outbox refused the operation",
              "see the error; if it persists, run `opescare-bridge doctor` and report it"};
  }
}

}  // namespace

const char* StoreFaultKindName(StoreFaultKind kind) {
  switch (kind) {
    case StoreFaultKind::kDiskFull:
      return "disk_full";
    case StoreFaultKind::kCorrupt:
      return "corrupt";
    case StoreFaultKind::kLocked:
      return "locked";
    case StoreFaultKind::kIo:
      return "io";
    case StoreFaultKind::kOther:
      return "other";
  }
  return "other";
}

StoreFault ClassifyStoreFault(const Status& status, const std::string& what, int64_t consecutive) {
  const KindPolicy p = PolicyFor(status.code());
  int64_t wait = p.base.count();
  for (int64_t i = 1; i < consecutive && wait < p.cap.count(); ++i) wait *= 2;
  StoreFault f;
  f.kind = p.kind;
  f.retry_in = std::min(milliseconds(wait), p.cap);
  f.fix = p.fix;
  f.message = std::string(p.what_failed) + ": delivery cannot " + what + " (" + status.ToString() +
              "); records stay queued. Fix: " + p.fix;
  return f;
}

}  // namespace opescare::delivery
