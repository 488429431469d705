// Sync body building by direct string appends (see sync_body.h).
#include "agent/bridge/sync_body.h"

#include <charconv>

#include "agent/util/clock.h"
#include "agent/util/json_text.h"

namespace opescare::bridge {
namespace {

std::string_view TrimWhitespace(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace


SyncBodyWriter::SyncBodyWriter(const SyncEnvelope& e, size_t reserve_bytes) {
  out_.reserve(reserve_bytes + 256);
  out_.append("{\"agent_id\":");
  AppendJsonString(out_, e.agent_id);
  out_.append(",\"facility_id\":");
  AppendJsonString(out_, e.facility_id);
  out_.append(",\"batch_id\":");
  AppendJsonString(out_, e.batch_id);
  out_.append(",\"sent_at\":");
  AppendJsonString(out_, FormatIso8601Utc(e.sent_at));
  out_.append(",\"records\":[");
}

Status SyncBodyWriter::Add(const SyncRecord& r) {
  std::string_view data = TrimWhitespace(r.data_json);
  bool is_object = data.size() >= 2 && data.front() == '{' && data.back() == '}';
  if (records_ > 0) out_.push_back(',');
  out_.append("{\"id\":");
  AppendJsonString(out_, r.id);
  out_.append(",\"type\":");
  AppendJsonString(out_, r.type);
  if (!r.source_file.empty()) {
    out_.append(",\"source\":{\"file\":");
    AppendJsonString(out_, r.source_file);
    out_.append(",\"row\":");
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, r.source_row);
    out_.append(buf, res.ptr);
    out_.push_back('}');
  }
  out_.append(",\"data\":");
  if (is_object) {
    out_.append(data);
  } else {
    AppendJsonString(out_, r.data_json);
  }
  out_.push_back('}');
  ++records_;
  if (!is_object)
    return InvalidArgument("record " + std::string(r.id) + " data is not a JSON object; sent as a string");
  return Status::Ok();
}

std::string SyncBodyWriter::Finish() && {
  out_.append("]}");
  return std::move(out_);
}

std::string BuildSyncBody(const SyncEnvelope& envelope, std::span<const SyncRecord> records) {
  size_t estimate = 0;
  for (const auto& r : records) estimate += r.data_json.size() + r.id.size() + r.source_file.size() + 64;
  SyncBodyWriter writer(envelope, estimate);
  for (const auto& r : records) (void)writer.Add(r);  // a refused record still goes, as a string
  return std::move(writer).Finish();
}

}  // namespace opescare::bridge
