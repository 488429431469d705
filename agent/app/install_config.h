// The config.yaml that a new installation starts from: the packaged template (config.example.yaml with
// the service's paths, packaging/CPackConfig.cmake) with the few settings an installer is given. The
// Windows installer passes its SERVER_URL, AGENT_ID, FACILITY_ID and AGENT_KEY_FILE properties to
// `service install`, which calls this. Pure text in, text out; the caller loads the result with the
// configuration loader before writing it, so a bad value is reported with the loader's own message.
#pragma once

#include <string>
#include <string_view>

#include "agent/env/env.h"
#include "agent/util/status.h"

namespace opescare::app {

struct InstallSettings {
  std::string server_url;      // empty: keep the template's line
  std::string agent_id;
  std::string facility_id;
  std::string agent_key_file;  // a path; the key itself never passes through an installer's command line
  bool empty() const {
    return server_url.empty() && agent_id.empty() && facility_id.empty() && agent_key_file.empty();
  }
};

// Replaces the top-level `server_url:`, `agent_id:`, `facility_id:` and `agent_key_file:` lines of
// template_text with double-quoted values (a literal "${" is escaped as "$${"), keeping every comment.
// kInvalidArgument, naming the setting, when the template lacks the key or a value holds a line break or
// another control character.
Result<std::string> RenderInstallConfig(std::string_view template_text, const InstallSettings& settings);

// The text to write for a new installation: RenderInstallConfig, then loaded by the configuration loader (the
// key file need not exist yet: a placeholder key stands in); its errors come back as kInvalidArgument with
// the loader's lines, naming `name` as the file.
Result<std::string> CheckedInstallConfig(std::string_view template_text, const InstallSettings& settings,
                                         const std::string& name);

// Writes text to config_path (creating its folder) unless config_path exists: an upgrade or a second install
// keeps the facility's edits. True when it wrote the file.
Result<bool> WriteConfigOnce(const std::string& config_path, const std::string& text,
                             env::Env& env = *env::Env::Default());

// value as a YAML double-quoted scalar that the configuration loader reads back as value.
std::string QuoteConfigValue(std::string_view value);

}  // namespace opescare::app
