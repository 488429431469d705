// The configuration loader (config_loader.h): YAML (or JSON) text -> settings with positions -> environment
// and command-line overrides -> Config, collecting every problem on the way instead of stopping at the first.
// The checks across settings and the key are in config_validate.cpp.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <set>

#include "agent/config/config.h"
#include "agent/util/redact.h"
#include "agent/config/config_internal.h"
#include "agent/config/config_loader.h"

namespace opescare::config {
namespace {

using internal::Origin;
using internal::QuoteValue;

constexpr size_t kMaxConfigBytes = 1024 * 1024;

Origin At(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1, ""};
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "is a mapping";
    case YAML::NodeType::Sequence:
      return "is a list";
    case YAML::NodeType::Null:
      return "is empty";
    default:
      return "is a value";
  }
}

// "First Name" -> "first_name", as the CSV connector normalises header names (CSV.md).
std::string NormaliseColumn(const std::string& name) {
  size_t b = name.find_first_not_of(" \t");
  size_t e = name.find_last_not_of(" \t");
  if (b == std::string::npos) return "";
  std::string out = internal::AsciiLower(name.substr(b, e - b + 1));
  for (char& c : out)
    if (c == ' ' || c == '-') c = '_';
  return out;
}

bool IsTypeName(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

}  // namespace

namespace internal {

std::optional<std::string> Loader::Env(const std::string& name) const {
  if (options_.env) {
    auto it = options_.env->find(name);
    if (it == options_.env->end()) return std::nullopt;
    return it->second;
  }
  const char* value = std::getenv(name.c_str());
  if (!value) return std::nullopt;
  return std::string(value);
}

void Loader::Report(Problem::Severity severity, const Origin& origin, const std::string& key, std::string message) {
  Problem p;
  p.severity = severity;
  p.key = key;
  if (origin.via.empty()) {
    p.file = file_;
    p.line = origin.line;
    p.column = origin.column;
    p.message = std::move(message);
  } else {
    p.message = std::move(message) + " (from " + origin.via + ")";
  }
  problems_.push_back(std::move(p));
}

void Loader::UnknownKey(const Origin& origin, const std::string& dotted, const std::string& name,
                        const std::vector<std::string>& siblings) {
  std::string suggestion = internal::ClosestName(name, siblings);
  if (suggestion.empty()) {
    // Maybe the key belongs to another section: "watch_folder" at the top for "connector.watch_folder".
    std::string lower = internal::AsciiLower(name);
    for (const internal::FieldSpec* f : internal::Fields()) {
      std::string_view key = internal::FieldKey(*f);
      size_t dot = key.rfind('.');
      if (dot != std::string_view::npos && key.substr(dot + 1) == lower && key != dotted) {
        suggestion = std::string(key);
        break;
      }
    }
    if (dotted == "log.level") suggestion = "log_level";
  }
  std::string message = "unknown key";
  if (!suggestion.empty()) message += " (did you mean \"" + suggestion + "\"?)";
  Report(options_.strict ? Problem::Severity::kError : Problem::Severity::kWarning, origin, dotted, message);
}

std::optional<std::string> Loader::Expand(const YAML::Node& scalar, const std::string& key) {
  Result<std::string> expanded =
      internal::ExpandEnv(scalar.Scalar(), [this](const std::string& name) { return Env(name); });
  if (!expanded.ok()) {
    Error(At(scalar.Mark()), key, expanded.status().message());
    return std::nullopt;
  }
  return std::move(expanded.value());
}

void Loader::Walk(const YAML::Node& map, const std::string& section) {
  std::vector<std::string> siblings = internal::KeysUnder(section);
  std::map<std::string, int> seen;  // name -> line of its first appearance
  for (const auto& entry : map) {   // one value per entry: a reference to it->first would dangle
    const YAML::Node& key_node = entry.first;
    const YAML::Node& value = entry.second;
    Origin key_origin = At(key_node.Mark());
    if (!key_node.IsScalar()) {
      Error(key_origin, section, "a key " + Describe(key_node) + "; keys must be plain names");
      continue;
    }
    const std::string& name = key_node.Scalar();
    std::string dotted = section.empty() ? name : section + "." + name;
    if (auto [first, inserted] = seen.emplace(name, key_origin.line); !inserted) {
      Error(key_origin, dotted, "appears twice (first on line " + std::to_string(first->second) + "); keep one");
      continue;
    }
    Origin value_origin = value.IsNull() ? key_origin : At(value.Mark());
    if (section.empty() && internal::IsSection(name)) {
      if (value.IsMap()) {
        Walk(value, name);
      } else if (!value.IsNull()) {
        std::string names;
        for (const std::string& n : internal::KeysUnder(name)) names += (names.empty() ? "" : ", ") + n;
        Error(value_origin, dotted, Describe(value) + "; expected a section of keys (" + names + ")");
      }
      continue;
    }
    if (dotted == "connector.record_types") {
      ReadRecordTypes(value, value_origin);
      continue;
    }
    if (!internal::FindField(dotted)) {
      UnknownKey(key_origin, dotted, name, siblings);
      continue;
    }
    if (value.IsNull()) continue;  // "key:" with nothing after it keeps the default
    if (!value.IsScalar()) {
      Error(value_origin, dotted, Describe(value) + "; expected a single value");
      continue;
    }
    if (std::optional<std::string> text = Expand(value, dotted)) settings_[dotted] = {*text, value_origin};
  }
}

void Loader::ReadRecordTypes(const YAML::Node& node, const Origin& origin) {
  const std::string key = "connector.record_types";
  record_types_origin_ = origin;
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    Error(origin, key, Describe(node) + "; expected a mapping of filename fragment to {type: ..., required: [...]}");
    return;
  }
  std::set<std::string> seen_fragments;
  for (const auto& entry : node) {
    Origin at = At(entry.first.Mark());
    if (!entry.first.IsScalar()) {
      Error(at, key, "a fragment " + Describe(entry.first) + "; fragments are parts of file names");
      continue;
    }
    std::string fragment = internal::AsciiLower(entry.first.Scalar());
    std::string entry_key = key + "." + entry.first.Scalar();
    if (fragment.empty()) {
      Error(at, key, "an empty fragment would match every file");
      continue;
    }
    if (!seen_fragments.insert(fragment).second) {
      Error(at, entry_key, "appears twice (fragments are compared without case); keep one");
      continue;
    }
    const YAML::Node& value = entry.second;
    Origin value_at = value.IsNull() ? at : At(value.Mark());
    RecordTypeRule rule;
    std::optional<Origin> type_at;
    bool ok = true;
    if (value.IsScalar()) {  // shorthand "invoices_: invoice"
      std::optional<std::string> type = Expand(value, entry_key);
      if (!type) continue;
      rule.type = *type;
      type_at = value_at;
    } else if (value.IsMap()) {
      for (const auto& field : value) {
        std::string name = field.first.IsScalar() ? field.first.Scalar() : "";
        const YAML::Node& v = field.second;
        Origin v_at = v.IsNull() ? At(field.first.Mark()) : At(v.Mark());
        if (name == "type") {
          if (!v.IsScalar()) {
            Error(v_at, entry_key + ".type", Describe(v) + "; expected a record type name such as patient");
            ok = false;
          } else if (std::optional<std::string> type = Expand(v, entry_key + ".type")) {
            rule.type = *type;
            type_at = v_at;
          } else {
            ok = false;
          }
        } else if (name == "required") {
          if (v.IsNull()) continue;
          if (!v.IsSequence()) {
            Error(v_at, entry_key + ".required",
                  Describe(v) + "; expected a list of column names, e.g. [health_id, date]");
            ok = false;
            continue;
          }
          for (const YAML::Node& column : v) {
            std::optional<std::string> text;
            if (column.IsScalar()) text = Expand(column, entry_key + ".required");
            if (!column.IsScalar() || (text && NormaliseColumn(*text).empty())) {
              Error(At(column.Mark()), entry_key + ".required",
                    (column.IsScalar() ? std::string("an empty column name") : "a column " + Describe(column)) +
                        "; expected column names");
              ok = false;
            } else if (text) {
              rule.required.push_back(NormaliseColumn(*text));
            } else {
              ok = false;
            }
          }
        } else {
          UnknownKey(At(field.first.Mark()), entry_key + "." + name, name, {"type", "required"});
        }
      }
    } else {
      Error(value_at, entry_key, Describe(value) + "; expected {type: ..., required: [...]} or a type name");
      continue;
    }
    if (!ok) continue;
    if (!type_at) {
      Error(value_at, entry_key, "has no type (write {type: ..., required: [...]})");
      continue;
    }
    std::string type = rule.type;
    rule.type = internal::AsciiLower(rule.type);
    if (!IsTypeName(rule.type)) {
      Error(*type_at, entry_key + ".type",
            QuoteValue(type) + " is not a record type name (lower-case letters, digits and _, e.g. lab_result)");
      continue;
    }
    file_record_types_[fragment] = std::move(rule);
  }
}

void Loader::ApplyEnvironment() {
  for (const auto& [var, key] : {std::pair<const char*, const char*>{"OPESCARE_AGENT_ID", "agent_id"},
                                 {"OPESCARE_FACILITY_ID", "facility_id"}}) {
    std::optional<std::string> value = Env(var);
    if (value && !value->empty()) settings_[key] = {*value, {0, 0, std::string("environment ") + var}};
  }
  // The proxy variables are defaults: the file's http.proxy / http.no_proxy win over them.
  auto from_env = [&](const std::string& key, std::initializer_list<const char*> vars) {
    auto it = settings_.find(key);
    if (it != settings_.end() && !it->second.text.empty()) return;
    for (const char* var : vars) {
      std::optional<std::string> value = Env(var);
      if (value && !value->empty()) {
        settings_[key] = {*value, {0, 0, std::string("environment ") + var}};
        return;
      }
    }
  };
  from_env("http.proxy", {"HTTPS_PROXY", "https_proxy"});
  from_env("http.no_proxy", {"NO_PROXY", "no_proxy"});
}

void Loader::ApplyOverrides() {
  const Origin cli{0, 0, "command line"};
  std::vector<std::string> all_keys;
  for (const internal::FieldSpec* f : internal::Fields()) all_keys.emplace_back(internal::FieldKey(*f));
  for (const auto& [key, value] : options_.overrides) {
    if (key == "agent_key") {
      secrets_.push_back(value);
      Error(cli, key,
            "cannot be given on the command line, where other users could see it; use OPESCARE_AGENT_KEY "
            "or agent_key_file");
    } else if (internal::FindField(key)) {
      settings_[key] = {value, cli};
    } else {
      std::string suggestion = internal::ClosestName(key, all_keys);
      Error(cli, key, "unknown key" + (suggestion.empty() ? "" : " (did you mean \"" + suggestion + "\"?)"));
    }
  }
}

void Loader::Convert() {
  for (const auto& [key, setting] : settings_) {
    const internal::FieldSpec* field = internal::FindField(key);
    if (key == "agent_key") secrets_.push_back(setting.text);
    if (std::optional<std::string> complaint = internal::SetField(*field, setting.text, &config_))
      Error(setting.origin, key, *complaint);
  }
  if (config_.connector.replace_default_record_types) config_.connector.record_types.clear();
  for (auto& [fragment, rule] : file_record_types_) config_.connector.record_types[fragment] = rule;
  if (config_.connector.record_types.empty())
    Error(record_types_origin_, "connector.record_types",
          "no record types left (replace_default_record_types is true but no entries are given)");
}

LoadResult Loader::Finish() {
  LoadResult result;
  bool has_error = false;
  for (Problem& p : problems_) {
    p.message = RedactSecrets(p.message, secrets_);
    has_error = has_error || p.severity == Problem::Severity::kError;
  }
  // File order; problems without a position (missing keys, environment, flags) after those with one.
  std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
    constexpr int kLast = std::numeric_limits<int>::max();
    int la = a.line > 0 ? a.line : kLast, lb = b.line > 0 ? b.line : kLast;
    return la != lb ? la < lb : (a.line > 0 && a.column < b.column);
  });
  result.problems = std::move(problems_);
  if (!has_error) {
    config_.source_path = file_;
    result.config = std::move(config_);
  }
  return result;
}

LoadResult Loader::Fail(const std::string& message) {
  Problem p;
  p.file = file_;
  p.message = message;
  problems_.push_back(std::move(p));
  return Finish();
}

LoadResult Loader::LoadText(const std::string& text) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    Origin at = At(e.mark);
    Error(at, "", "invalid YAML: " + e.msg);
    return Finish();
  }
  if (documents.size() > 1) {
    Error(At(documents[1].Mark()), "", "a second YAML document (after ---); the file must hold only one");
  }
  if (!documents.empty() && !documents[0].IsNull()) {
    if (documents[0].IsMap()) {
      Walk(documents[0], "");
    } else {
      Error(At(documents[0].Mark()), "",
            "the file " + Describe(documents[0]) + "; expected a mapping of keys (key: value lines, or a JSON object)");
      return Finish();  // nothing else in it can be understood
    }
  }
  ApplyEnvironment();
  ApplyOverrides();
  Convert();
  Validate();
  ResolveKey();
  return Finish();
}

}  // namespace internal

LoadResult LoadConfigString(const std::string& text, const std::string& name, const LoadOptions& options) {
  return internal::Loader(name, options).LoadText(text);
}

LoadResult LoadConfigFile(const std::string& path, const LoadOptions& options) {
  internal::Loader loader(path, options);
  Result<std::string> text = internal::ReadSmallFile(path, kMaxConfigBytes);
  if (!text.ok()) {
    std::string message = text.status().message();
    if (text.status().code() == Code::kPermissionDenied) message += " (the agent's user needs read access)";
    return loader.Fail(message);
  }
  return loader.LoadText(text.value());
}

}  // namespace opescare::config
