// Internal to agent/config: the loader behind LoadConfigFile/LoadConfigString, one object a load. Its
// reading and conversion are in config_load.cpp, its checks across settings and the key in config_validate.cpp.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/config.h"

namespace opescare::config::internal {

// Where a value came from: a position in the file, or another source named by `via`.
struct Origin {
  int line = 0;  // 1-based; 0 when not from the file
  int column = 0;
  std::string via;  // "environment OPESCARE_AGENT_ID", "command line"; empty for the file
};

struct Setting {
  std::string text;
  Origin origin;
};

class Loader {
 public:
  Loader(std::string file, const LoadOptions& options) : file_(std::move(file)), options_(options) {}

  LoadResult LoadText(const std::string& text);
  LoadResult Fail(const std::string& message);  // a file that cannot be read at all

 private:
  std::optional<std::string> Env(const std::string& name) const;
  void Report(Problem::Severity severity, const Origin& origin, const std::string& key, std::string message);
  void Error(const Origin& origin, const std::string& key, std::string message) {
    Report(Problem::Severity::kError, origin, key, std::move(message));
  }
  void UnknownKey(const Origin& origin, const std::string& dotted, const std::string& name,
                  const std::vector<std::string>& siblings);
  std::optional<std::string> Expand(const YAML::Node& scalar, const std::string& key);

  void Walk(const YAML::Node& map, const std::string& section);
  void ReadRecordTypes(const YAML::Node& node, const Origin& origin);
  void ApplyEnvironment();
  void ApplyOverrides();
  void Convert();
  void Validate();
  void ValidateServerUrl();
  void ValidateProxy();
  void ValidateFiles();
  void ResolveKey();
  LoadResult Finish();

  const Origin& OriginOf(const std::string& key) const {
    static const Origin kNone;
    auto it = settings_.find(key);
    return it == settings_.end() ? kNone : it->second.origin;
  }

  std::string file_;
  const LoadOptions& options_;
  Config config_;
  std::map<std::string, Setting> settings_;  // dotted key -> text, after ${} expansion
  std::map<std::string, RecordTypeRule> file_record_types_;
  Origin record_types_origin_;
  std::vector<std::string> secrets_;  // every candidate key value, hidden from all messages
  std::vector<Problem> problems_;
};

}  // namespace opescare::config::internal
