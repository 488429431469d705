// Finding the agent key: environment, key file (refused when others can read it), systemd credential,
// inline value; and reading small files with messages that say what is wrong.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "agent/config/config_internal.h"
#include "agent/util/files.h"

namespace opescare::config::internal {
namespace {

#ifdef _WIN32
constexpr bool kOnWindows = true;
#else
constexpr bool kOnWindows = false;
#endif

constexpr size_t kMaxKeyFileBytes = 64 * 1024;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

bool IsUnset(const std::string& key) { return key.empty() || key == kKeyPlaceholder; }

std::string StripTrailingNewlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

std::string KeyFilePrivacyFix(const std::string& path, bool windows) {
  // Quoted as icacls takes it (QuoteValue's escaping would double every backslash of the path).
  if (windows) return "icacls \"" + path + "\" /inheritance:r /grant:r SYSTEM:F Administrators:F";
  return "chmod 600 " + ShellQuote(path);
}

std::string KeyFileModeProblem(const std::string& path, unsigned mode, bool windows) {
  if ((mode & 077) == 0) return "";
  if (windows) {
    // The mode is read from the access list (agent/env/acl_mode.h): an entry for Users, Everyone or
    // another account beyond SYSTEM, Administrators and the owner.
    return "\"" + path + "\" can be read by other users (its access list grants more than SYSTEM, Administrators " +
           "and the owner); make it private: " + KeyFilePrivacyFix(path, true);
  }
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", mode & 07777);
  return QuoteValue(path) + " has mode " + octal + ", so other users can read the key; make it private: " +
         KeyFilePrivacyFix(path, false);
}

namespace {

// Reads a key file; on failure sets *error to what is wrong with it.
std::optional<std::string> ReadKeyFile(const std::string& path, bool check_mode, std::string* error) {
  std::string quoted = QuoteValue(path);
  if (check_mode) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) {
      Result<unsigned> mode = FileMode(path);
      if (std::string problem = mode.ok() ? KeyFileModeProblem(path, *mode, kOnWindows) : ""; !problem.empty()) {
        *error = std::move(problem);
        return std::nullopt;
      }
    }
  }
  Result<std::string> text = ReadSmallFile(path, kMaxKeyFileBytes);
  if (!text.ok()) {
    *error = quoted + " " + text.status().message();
    return std::nullopt;
  }
  std::string key = StripTrailingNewlines(std::move(text.value()));
  if (key.empty()) {
    *error = quoted + " is empty (it must hold the agent key)";
    return std::nullopt;
  }
  return key;
}

}  // namespace

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) return IoError("cannot be read: " + ec.message());
  if (!std::filesystem::exists(st)) return NotFound("does not exist");
  if (std::filesystem::is_directory(st)) return InvalidArgument("is a directory, not a file");
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    int err = errno;
    if (err == EACCES || err == EPERM) return PermissionDenied(std::string("cannot be read: ") + std::strerror(err));
    return IoError(std::string("cannot be read: ") + (err ? std::strerror(err) : "open failed"));
  }
  std::string out;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0) {
    out.append(buf, n);
    if (out.size() > max_bytes) return InvalidArgument("is larger than " + std::to_string(max_bytes) + " bytes");
  }
  if (std::ferror(file.get())) return IoError(std::string("cannot be read: ") + std::strerror(errno));
  return out;
}

ResolvedKey ResolveAgentKey(const KeySources& sources) {
  ResolvedKey out;
  if (sources.environment && !IsUnset(*sources.environment)) {
    out.key = *sources.environment;
    out.source = "environment OPESCARE_AGENT_KEY";
    return out;
  }
  if (!sources.key_file.empty()) {
    if (std::optional<std::string> key = ReadKeyFile(sources.key_file, /*check_mode=*/true, &out.error)) {
      out.key = *key;
      out.source = "file " + sources.key_file;
    } else {
      out.error_key = "agent_key_file";
    }
    return out;
  }
  if (sources.credentials_directory && !sources.credentials_directory->empty()) {
    // systemd sets CREDENTIALS_DIRECTORY whenever the unit loads any credential; ours may be absent.
    std::string path = (std::filesystem::path(*sources.credentials_directory) / "agent_key").string();
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      // systemd makes the credential private to the service: no mode check.
      if (std::optional<std::string> key = ReadKeyFile(path, /*check_mode=*/false, &out.error)) {
        out.key = *key;
        out.source = "systemd credential " + path;
      } else {
        out.error_key = "agent key (systemd credential)";
      }
      return out;
    }
  }
  if (!IsUnset(sources.inline_key)) {
    out.key = sources.inline_key;
    out.source = "config file";
    return out;
  }
  out.error_key = "agent key";
  out.error = "not set (set OPESCARE_AGENT_KEY, agent_key_file, or agent_key)";
  return out;
}

std::string ShellQuote(const std::string& path) {
  bool plain = !path.empty();
  for (char c : path)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr("/._-+:@%,=", c) == nullptr) plain = false;
  if (plain) return path;
  std::string out = "'";
  for (char c : path) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace opescare::config::internal

namespace opescare::config {

std::string KeyFilePrivacyFix(const std::string& path) { return internal::KeyFilePrivacyFix(path, internal::kOnWindows); }

}  // namespace opescare::config
