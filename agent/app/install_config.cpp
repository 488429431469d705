#include "agent/app/install_config.h"

#include <map>
#include <utility>
#include <vector>

#include "agent/config/config.h"
#include "agent/util/files.h"

namespace opescare::app {

std::string QuoteConfigValue(std::string_view value) {
  std::string out = "\"";
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '"' || c == '\\') out += '\\';
    if (c == '$' && value.substr(i, 2) == "${") out += '$';  // the loader's escape for a literal "${"
    out += c;
  }
  return out + "\"";
}

namespace {

// The offset of the line "key:" at the top level (no indentation), or npos.
size_t FindTopLevelKey(std::string_view text, std::string_view key) {
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') return pos;
    pos = end + 1;
  }
  return std::string_view::npos;
}

bool HasControlCharacter(std::string_view value) {
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

Result<std::string> RenderInstallConfig(std::string_view template_text, const InstallSettings& settings) {
  const std::vector<std::pair<std::string_view, const std::string*>> edits = {
      {"server_url", &settings.server_url},
      {"agent_id", &settings.agent_id},
      {"facility_id", &settings.facility_id},
      {"agent_key_file", &settings.agent_key_file},
  };
  std::string text(template_text);
  for (const auto& [key, value] : edits) {
    if (value->empty()) continue;
    if (HasControlCharacter(*value)) {
      return InvalidArgument(std::string(key) + ": the value holds a line break or another control character; " +
                             "give it on one line");
    }
    size_t at = FindTopLevelKey(text, key);
    if (at == std::string::npos) {
      return InvalidArgument("the configuration template has no top-level '" + std::string(key) +
                             ":' line to set; reinstall the package or set " + std::string(key) + " by hand");
    }
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    text.replace(at, end - at, std::string(key) + ": " + QuoteConfigValue(*value));
  }
  return text;
}

Result<std::string> CheckedInstallConfig(std::string_view template_text, const InstallSettings& settings,
                                         const std::string& name) {
  Result<std::string> text = RenderInstallConfig(template_text, settings);
  if (!text.ok()) return text.status();
  // The key is not needed to judge the rest; a placeholder stands in for it, so a key file that is put in
  // place after the install is no error here (doctor and the service's start check it).
  std::map<std::string, std::string> no_env = {{"OPESCARE_AGENT_KEY", "placeholder-for-the-install-check"}};
  config::LoadOptions options;
  options.env = &no_env;
  config::LoadResult loaded = config::LoadConfigString(*text, name, options);
  if (!loaded.ok()) {
    std::string problems;
    for (const auto& p : loaded.problems) {
      if (p.severity == config::Problem::Severity::kError) problems += "\n  " + p.ToString();
    }
    return InvalidArgument("the installer's settings make an invalid configuration; nothing was written:" +
                           problems);
  }
  return text;
}

Result<bool> WriteConfigOnce(const std::string& config_path, const std::string& text, env::Env& env) {
  if (env.Stat(config_path).ok()) return false;
  if (Status dirs = env.CreateDirs(env::ParentDir(config_path)); !dirs.ok()) return dirs;
  if (Status written = WriteFileAtomic(config_path, text, 0640, env); !written.ok()) return written;
  return true;
}

}  // namespace opescare::app
