// The sync batch body (PROTOCOL.md "Sync batches"), written straight into one string: this is on the
// delivery hot path, so records' data are spliced in as the JSON text the outbox stored, not re-parsed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::bridge {

struct SyncEnvelope {
  std::string_view agent_id;
  std::string_view facility_id;
  std::string_view batch_id;
  std::chrono::system_clock::time_point sent_at;
};

// Views into the caller's storage; they must live until Add() returns.
struct SyncRecord {
  std::string_view id;
  std::string_view type;
  std::string_view source_file;  // empty: no "source" object (records enqueued by other means)
  int64_t source_row = 0;
  std::string_view data_json;  // a serialised JSON object, e.g. {"first_name":"Marie"}
};

// Builds {"agent_id","facility_id","batch_id","sent_at","records":[...]}. Not thread-safe.
class SyncBodyWriter {
 public:
  explicit SyncBodyWriter(const SyncEnvelope& envelope, size_t reserve_bytes = 0);

  // Always appends the record, so that it is never silently left out of a batch the server then acks.
  // data_json is checked only to be brace-delimited (it is the outbox's own serialisation, not re-parsed);
  // when it is not, it is sent as a JSON string instead, keeping the body valid JSON so that the server
  // refuses just that record (and it is dead-lettered), and the returned status says so.
  Status Add(const SyncRecord& record);
  size_t records() const { return records_; }
  size_t size() const { return out_.size() + 2; }  // bytes once finished
  std::string Finish() &&;

 private:
  std::string out_;
  size_t records_ = 0;
};

std::string BuildSyncBody(const SyncEnvelope& envelope, std::span<const SyncRecord> records);


}  // namespace opescare::bridge
