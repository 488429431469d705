// Finding and loading the configuration for every command; `check-config` and `version`.
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <zlib.h>

#include <boost/version.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <spdlog/version.h>

#include "agent/app/commands.h"
#include "agent/app/exit_codes.h"
#include "agent/app/output_redactor.h"
#include "agent/service/windows_service.h"

namespace opescare::app {

std::string ResolveConfigPath(const GlobalOptions& global) {
  if (!global.config_path.empty()) return global.config_path;
  if (const char* env = std::getenv("OPESCARE_BRIDGE_CONFIG"); env && *env) return env;
  // The service's own file last: /etc/opescare-bridge/config.yaml, or %ProgramData%\OpesCare\Bridge\config.yaml.
  const std::string candidates[] = {"config.yaml", "bridge_config.json", service::DefaultServicePaths().config_file};
  for (const std::string& c : candidates) {
    std::error_code ec;
    if (std::filesystem::exists(c, ec)) return c;
  }
  return candidates[0];
}

std::optional<config::Config> LoadConfigOrReport(const GlobalOptions& global) {
  config::LoadOptions options;
  options.strict = global.strict;
  if (!global.log_level.empty()) options.overrides["log_level"] = global.log_level;
  config::LoadResult result = config::LoadConfigFile(ResolveConfigPath(global), options);
  for (const auto& p : result.problems) {
    std::cerr << (p.severity == config::Problem::Severity::kWarning ? "warning: " : "") << p.ToString() << "\n";
  }
  if (!result.ok()) return std::nullopt;
  if (global.redactor) global.redactor->Add(config::Secrets(*result.config));
  return std::move(result.config);
}

int CmdCheckConfig(const GlobalOptions& global, bool print) {
  auto cfg = LoadConfigOrReport(global);
  if (!cfg) return kExitUsage;
  if (print) {
    std::cout << config::DumpRedacted(*cfg);
  } else {
    std::cout << cfg->source_path << ": configuration is valid\n";
  }
  return kExitOk;
}

int CmdVersion() {
  std::cout << "opescare-bridge " << OB_VERSION << " (" << OB_BUILD_TYPE << " build)\n";
  std::cout << "  Boost   " << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "."
            << BOOST_VERSION % 100 << "\n";
  std::cout << "  OpenSSL " << OpenSSL_version(OPENSSL_VERSION) << "\n";
  std::cout << "  SQLite  " << sqlite3_libversion() << "\n";
  std::cout << "  spdlog  " << SPDLOG_VER_MAJOR << "." << SPDLOG_VER_MINOR << "." << SPDLOG_VER_PATCH << "\n";
  std::cout << "  zlib    " << zlibVersion() << "\n";
  return kExitOk;
}

}  // namespace opescare::app
