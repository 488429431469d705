// The subcommands of opescare-bridge, each a function returning the process exit code.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/app/install_config.h"
#include "agent/config/config.h"

namespace opescare::app {

class OutputRedactor;

// Options every command shares.
struct GlobalOptions {
  std::string config_path;  // empty: the default search (see ResolveConfigPath)
  bool strict = false;      // unknown configuration keys are errors
  std::string log_level;    // command-line override of log_level
  // Borrowed: hides the loaded configuration's secrets in everything printed (null: nothing hidden).
  OutputRedactor* redactor = nullptr;
};

// --config, else $OPESCARE_BRIDGE_CONFIG, else ./config.yaml, ./bridge_config.json, the service's file
// (service::DefaultServicePaths: /etc/opescare-bridge/config.yaml, on Windows
// %ProgramData%\OpesCare\Bridge\config.yaml) - the first that exists; the first candidate when none does.
std::string ResolveConfigPath(const GlobalOptions& global);

// Loads the configuration, prints every problem (warnings too) to stderr; nullopt on errors. Its secrets are
// hidden in all later output (global.redactor).
std::optional<config::Config> LoadConfigOrReport(const GlobalOptions& global);

int CmdCheckConfig(const GlobalOptions& global, bool print);
int CmdVersion();
int CmdRun(const GlobalOptions& global);
int CmdHeartbeat(const GlobalOptions& global);
int CmdStatus(const GlobalOptions& global, bool json);
int CmdEnqueue(const GlobalOptions& global, const std::vector<std::string>& files);
int CmdDeadLetters(const GlobalOptions& global, const std::string& action, const std::vector<std::string>& ids,
                   bool all);
int CmdDoctor(const GlobalOptions& global);
// settings: what `service install` writes into a new config.yaml (install_config.h); ignored otherwise.
int CmdService(const GlobalOptions& global, const std::string& action, const InstallSettings& settings);

}  // namespace opescare::app
