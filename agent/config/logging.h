// The agent's logger: spdlog with level, text or JSON lines, stderr or a rotating file, and a
// redaction layer that replaces every secret (the agent key) by *** before any sink sees a line.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "agent/config/config.h"

namespace opescare::logging {

// Builds the logger. Secrets shorter than 4 characters are still redacted. Throws nothing:
// an unopenable log file falls back to stderr and says so, and so does a file that fails while
// writing (disk full). text lines: "2026-01-02T03:04:05.678Z info name: msg"; json lines:
// {"ts":"2026-01-02T03:04:05.678Z","level":"info","logger":"name","msg":"..."}. Every line is
// flushed. Not registered with spdlog's global registry. Thread-safe. Pass config::Secrets(config).
std::shared_ptr<spdlog::logger> MakeLogger(const config::LogConfig& log, std::vector<std::string> secrets,
                                           const std::string& name = "opescare-bridge");

// Adds `target` (e.g. env::NewEventLogSink(), the Windows Event Log) to the logger behind the same
// redaction, at `level` and up, with "level name: msg" lines. A null target adds nothing.
void AddRedactedSink(spdlog::logger& logger, std::shared_ptr<spdlog::sinks::sink> target,
                     std::vector<std::string> secrets, spdlog::level::level_enum level, const std::string& target_name);

// Replaces every occurrence of each secret in text by "***".
std::string Redact(std::string text, const std::vector<std::string>& secrets);

// Parses "info", "INFO", "warning"...; false when unknown.
bool ParseLevel(const std::string& name, spdlog::level::level_enum* out);

}  // namespace opescare::logging
