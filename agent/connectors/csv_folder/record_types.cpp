// Record type from a file name.
#include "agent/connectors/csv_folder/record_types.h"

#include <algorithm>

#include "agent/connectors/csv_folder/field_rules.h"

namespace opescare::csv_folder {
namespace {

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

RecordTypeTable::RecordTypeTable(const std::map<std::string, config::RecordTypeRule>& rules) {
  for (const auto& [fragment, rule] : rules) {
    if (fragment.empty()) continue;
    TypeRule r{LowerAscii(fragment), rule.type, {}};
    for (const std::string& column : rule.required) r.required.push_back(NormalizeHeaderName(column));
    rules_.push_back(std::move(r));
  }
  std::sort(rules_.begin(), rules_.end(), [](const TypeRule& a, const TypeRule& b) { return a.fragment < b.fragment; });
}

const TypeRule* RecordTypeTable::Match(std::string_view file_name) const {
  std::string name = LowerAscii(file_name);
  const TypeRule* best = nullptr;
  for (const TypeRule& rule : rules_) {
    if (name.find(rule.fragment) == std::string::npos) continue;
    if (best == nullptr || rule.fragment.size() > best->fragment.size()) best = &rule;
  }
  return best;
}

std::string RecordTypeTable::KnownFragments() const {
  std::string out;
  for (const TypeRule& rule : rules_) {
    if (!out.empty()) out += ", ";
    out += rule.fragment;
  }
  return out.empty() ? "(none configured)" : out;
}

}  // namespace opescare::csv_folder
