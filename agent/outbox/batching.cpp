// Pure decisions of the outbox (see batching.h).
#include "agent/outbox/batching.h"

#include <string>

namespace opescare::outbox {
namespace {

// `{"id":"","type":"","source":{"file":"","row":},"data":}` plus a row number and a separating comma.
constexpr uint64_t kFramingBytes = 64;

bool LooksLikeJsonObject(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b != std::string::npos && s[b] == '{' && s[e] == '}';
}

}  // namespace

Status ValidateRecord(const Record& r) {
  if (r.id.empty() || r.id.size() > kMaxIdBytes)
    return InvalidArgument("record id must be 1.." + std::to_string(kMaxIdBytes) + " bytes (got " +
                           std::to_string(r.id.size()) + ")");
  if (r.type.empty() || r.type.size() > kMaxTypeBytes)
    return InvalidArgument("record " + r.id + ": type must be 1.." + std::to_string(kMaxTypeBytes) + " bytes");
  if (r.data_json.size() > kMaxDataBytes)
    return InvalidArgument("record " + r.id + ": data is " + std::to_string(r.data_json.size()) +
                           " bytes, above the limit of " + std::to_string(kMaxDataBytes));
  if (!LooksLikeJsonObject(r.data_json)) return InvalidArgument("record " + r.id + ": data must be a JSON object");
  if (r.source_file.size() > kMaxSourceFileBytes)
    return InvalidArgument("record " + r.id + ": source file name is too long");
  if (r.source_row < 0) return InvalidArgument("record " + r.id + ": source row must not be negative");
  return Status::Ok();
}

uint64_t RecordWireSize(const Record& r) {
  return r.data_json.size() + r.id.size() + r.type.size() + r.source_file.size() + kFramingBytes;
}

bool TakeNext(size_t taken, uint64_t taken_bytes, uint64_t next_size, const BatchLimits& limits) {
  if (taken == 0) return true;
  if (taken >= limits.max_records) return false;
  return taken_bytes + next_size <= limits.max_bytes;
}

size_t SplitPoint(size_t n) { return n / 2; }

}  // namespace opescare::outbox
