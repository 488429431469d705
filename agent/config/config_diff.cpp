// Which keys differ between two configurations, and copying one key's value: what a reload plan needs.
#include "agent/config/config.h"
#include "agent/config/config_internal.h"

namespace opescare::config {

namespace {
constexpr std::string_view kRecordTypesKey = "connector.record_types";

bool SameRules(const std::map<std::string, RecordTypeRule>& a, const std::map<std::string, RecordTypeRule>& b) {
  if (a.size() != b.size()) return false;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    if (ia->first != ib->first || ia->second.type != ib->second.type || ia->second.required != ib->second.required)
      return false;
  }
  return true;
}
}  // namespace

std::vector<std::string> ChangedKeys(const Config& a, const Config& b) {
  std::vector<std::string> changed;
  for (const internal::FieldSpec* field : internal::Fields()) {
    if (internal::GetField(*field, a) != internal::GetField(*field, b))
      changed.emplace_back(internal::FieldKey(*field));
  }
  if (!SameRules(a.connector.record_types, b.connector.record_types)) changed.emplace_back(kRecordTypesKey);
  return changed;
}

void CopyKey(std::string_view key, const Config& from, Config* to) {
  if (key == kRecordTypesKey) {
    to->connector.record_types = from.connector.record_types;
    return;
  }
  const internal::FieldSpec* field = internal::FindField(key);
  if (field == nullptr) return;
  (void)internal::SetField(*field, internal::GetField(*field, from), to);  // a value it produced loads back
  if (key == "agent_key" || key == "agent_key_file") to->agent_key_source = from.agent_key_source;
}

}  // namespace opescare::config
