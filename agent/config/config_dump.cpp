// check-config --print: the effective configuration as YAML that loads back to the same values,
// with the agent key shown as *** and a proxy password hidden.
#include <yaml-cpp/yaml.h>

#include "agent/config/config.h"
#include "agent/util/redact.h"
#include "agent/config/config_internal.h"

namespace opescare::config {
namespace {

std::string SectionOf(std::string_view key) {
  size_t dot = key.find('.');
  return dot == std::string_view::npos ? "" : std::string(key.substr(0, dot));
}

void EmitRecordTypes(YAML::Emitter& out, const std::map<std::string, RecordTypeRule>& types) {
  out << YAML::Key << "record_types" << YAML::Value << YAML::BeginMap;
  for (const auto& [fragment, rule] : types) {
    out << YAML::Key << fragment << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "type" << YAML::Value << rule.type;
    out << YAML::Key << "required" << YAML::Value << YAML::Flow << rule.required;
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

// A value that holds "${" literally must not be expanded when the dump is loaded again.
std::string EscapeReferences(std::string value) {
  for (size_t pos = 0; (pos = value.find("${", pos)) != std::string::npos; pos += 3) value.insert(pos, "$");
  return value;
}

}  // namespace

std::string DumpRedacted(const Config& config) {
  Config shown = config;
  shown.connector.processed_folder = config.ProcessedFolder();
  shown.connector.failed_folder = config.FailedFolder();
  if (std::optional<HttpUrl> proxy = ParseHttpUrl(config.http.proxy); proxy && !proxy->userinfo.empty()) {
    size_t colon = proxy->userinfo.find(':');
    std::string user = proxy->userinfo.substr(0, colon);
    shown.http.proxy = proxy->scheme + "://" + user + (colon == std::string::npos ? "" : ":***") + "@" +
                       config.http.proxy.substr(config.http.proxy.rfind('@') + 1);
  }

  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string open_section;
  for (const internal::FieldSpec* field : internal::Fields()) {
    std::string_view key = internal::FieldKey(*field);
    std::string section = SectionOf(key);
    if (section != open_section) {
      if (!open_section.empty()) {
        if (open_section == "connector") EmitRecordTypes(out, shown.connector.record_types);
        out << YAML::EndMap;
      }
      if (!section.empty()) out << YAML::Key << section << YAML::Value << YAML::BeginMap;
      open_section = section;
    }
    std::string name(section.empty() ? key : key.substr(section.size() + 1));
    out << YAML::Key << name << YAML::Value;
    if (key == "agent_key") {
      out << (config.agent_key.empty() ? "" : "***");
      if (!config.agent_key_source.empty()) out << YAML::Comment("from " + config.agent_key_source);
    } else {
      out << EscapeReferences(internal::GetField(*field, shown));
    }
  }
  if (!open_section.empty()) {
    if (open_section == "connector") EmitRecordTypes(out, shown.connector.record_types);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  // Belt and braces: nothing else may carry the key either.
  return RedactSecrets(std::string(out.c_str()) + "\n", Secrets(config));
}

}  // namespace opescare::config
