// Pure helpers of the configuration loader (env expansion, key suggestions, message quoting),
// exposed so their unit tests can call them directly. Not for use outside agent/config.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"
#include "agent/util/status.h"

namespace opescare::config::internal {

// One scalar key of the file (dotted, e.g. "connector.delimiter") and where its value lives in Config.
// connector.record_types is not a scalar and is read separately.
struct FieldSpec;

// Every scalar key, in the order config.example.yaml and DumpRedacted list them.
const std::vector<const FieldSpec*>& Fields();
std::string_view FieldKey(const FieldSpec& field);
const FieldSpec* FindField(std::string_view dotted_key);

// Converts text (as written in the file, env or a flag) into the field, normalising it (e.g. "INFO" ->
// "info"). On failure returns the complaint, e.g. "\"sixty\" is not a number (5..3600 seconds)".
std::optional<std::string> SetField(const FieldSpec& field, const std::string& text, Config* config);

// The field's current value as text, in the form SetField accepts.
std::string GetField(const FieldSpec& field, const Config& config);

// Names of the keys directly under a section ("" for the top level, "connector" ...).
std::vector<std::string> KeysUnder(std::string_view section);
bool IsSection(std::string_view dotted_key);

// Reads a small file whole. Errors say what is wrong after the path: "does not exist",
// "is a directory, not a file", "cannot be read: Permission denied", "is larger than N bytes".
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

// Where the agent key comes from, in CONFIG.md's order.
struct KeySources {
  std::optional<std::string> environment;            // OPESCARE_AGENT_KEY
  std::string key_file;                              // agent_key_file
  std::optional<std::string> credentials_directory;  // $CREDENTIALS_DIRECTORY (systemd)
  std::string inline_key;                            // agent_key in the file
};
struct ResolvedKey {
  std::string key;
  std::string source;     // "environment OPESCARE_AGENT_KEY", "file <path>", ...
  std::string error_key;  // on failure: "agent_key_file", "agent key", ...
  std::string error;      // on failure: what is wrong and how to fix it (never the key)
};
// The Python agent's placeholder counts as unset, like an empty value.
ResolvedKey ResolveAgentKey(const KeySources& sources);
constexpr std::string_view kKeyPlaceholder = "SET_VIA_OPESCARE_AGENT_KEY_ENV_VAR";

// A path for a shell command line, single-quoted when it needs to be.
std::string ShellQuote(const std::string& path);

// Looks a variable up in the environment; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Expands ${NAME} and ${NAME:-default} (the default also applies when NAME is set but empty).
// "$${" is a literal "${"; any other '$' is kept as is. The error names the variable, never a value.
Result<std::string> ExpandEnv(std::string_view text, const EnvLookup& env);

// Levenshtein distance, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to name when it is close enough to be a likely typo, else "".
std::string ClosestName(std::string_view name, const std::vector<std::string>& candidates);

// A value found in the file, for a message: double-quoted, control characters escaped, long values cut.
std::string QuoteValue(std::string_view value);

// What is wrong with a key file whose permission bits are `mode` (on Windows derived from its access
// list), with the command that makes it private there (chmod, or on Windows icacls); "" when private.
std::string KeyFileModeProblem(const std::string& path, unsigned mode, bool windows);
// The command that makes a key file private: chmod 600, or on Windows icacls (config.h's KeyFilePrivacyFix).
std::string KeyFilePrivacyFix(const std::string& path, bool windows);

// Lower-cases ASCII letters.
std::string AsciiLower(std::string_view text);

}  // namespace opescare::config::internal
