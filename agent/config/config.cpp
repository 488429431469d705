// The Config struct's helpers and the small parsers the loader and other components share:
// problem formatting, default record types, URL and host:port parsing, loopback detection.
#include "agent/config/config.h"

#include <cctype>
#include <charconv>
#include <filesystem>

#include "agent/config/config_internal.h"

namespace opescare::config {
namespace {

std::optional<uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

bool IsIpv4Loopback(std::string_view host) {
  // Strict dotted quad whose first octet is 127.
  int parts = 0;
  unsigned first = 0;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    std::string_view part = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || part.size() > 3 || ec != std::errc() || end != part.data() + part.size() || value > 255)
      return false;
    if (parts == 0) first = value;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4 && first == 127;
}

// A host as it may appear in a URL authority: a name, an IPv4 address or a bracketed IPv6 address
// (brackets removed on success).
bool ParseHost(std::string_view text, std::string* host) {
  if (text.empty()) return false;
  if (text.front() == '[') {
    if (text.size() < 3 || text.back() != ']') return false;
    std::string_view inner = text.substr(1, text.size() - 2);
    for (char c : inner)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    *host = std::string(inner);
    return true;
  }
  for (char c : text)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  *host = internal::AsciiLower(text);
  return true;
}

}  // namespace

std::map<std::string, RecordTypeRule> DefaultRecordTypes() {
  return {
      {"patients_", {"patient", {"first_name", "last_name", "dob", "sex"}}},
      {"encounters_", {"encounter", {"health_id", "date"}}},
      {"lab_results_", {"lab_result", {"health_id", "test", "result", "date"}}},
      {"prescriptions_", {"prescription", {"health_id", "medication", "date"}}},
      {"appointments_", {"appointment", {"health_id", "date"}}},
      {"pharmacy_stock_", {"pharmacy_stock", {"item_code", "quantity"}}},
  };
}

std::string Config::ProcessedFolder() const {
  if (!connector.processed_folder.empty()) return connector.processed_folder;
  return (std::filesystem::path(connector.watch_folder) / "processed").string();
}

std::string Config::FailedFolder() const {
  if (!connector.failed_folder.empty()) return connector.failed_folder;
  return (std::filesystem::path(connector.watch_folder) / "failed").string();
}

std::string Problem::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += (out.empty() ? "" : ":") + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  if (!out.empty()) out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

bool IsLoopbackHost(const std::string& host) {
  std::string h = internal::AsciiLower(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost" || h == "localhost." || h == "::1" || h == "0:0:0:0:0:0:0:1") return true;
  if (h.rfind("::ffff:", 0) == 0) h = h.substr(7);  // IPv4-mapped IPv6
  return IsIpv4Loopback(h);
}

std::optional<HttpUrl> ParseHttpUrl(const std::string& url) {
  HttpUrl out;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  out.scheme = internal::AsciiLower(std::string_view(url).substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  std::string_view rest = std::string_view(url).substr(scheme_end + 3);
  if (rest.find_first_of("?# \t\r\n") != std::string_view::npos) return std::nullopt;
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    out.userinfo = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  std::string_view host_part = authority;
  std::string_view port_part;
  size_t colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  bool has_port = colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
  if (has_port) {
    host_part = authority.substr(0, colon);
    port_part = authority.substr(colon + 1);
  }
  if (!ParseHost(host_part, &out.host)) return std::nullopt;
  if (has_port) {
    std::optional<uint16_t> port = ParsePort(port_part);
    if (!port || *port == 0) return std::nullopt;
    out.port = *port;
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.path = std::string(path);
  return out;
}

std::optional<HostPort> ParseHostPort(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string_view host_part = std::string_view(text).substr(0, colon);
  if (host_part.find(':') != std::string_view::npos && host_part.front() != '[') return std::nullopt;
  HostPort out;
  if (!ParseHost(host_part, &out.host)) return std::nullopt;
  std::optional<uint16_t> port = ParsePort(std::string_view(text).substr(colon + 1));
  if (!port) return std::nullopt;
  out.port = *port;
  return out;
}

std::vector<std::string> Secrets(const Config& config) {
  std::vector<std::string> secrets;
  if (!config.agent_key.empty()) secrets.push_back(config.agent_key);
  if (std::optional<HttpUrl> proxy = ParseHttpUrl(config.http.proxy); proxy && !proxy->userinfo.empty()) {
    size_t colon = proxy->userinfo.find(':');
    if (colon != std::string::npos && colon + 1 < proxy->userinfo.size())
      secrets.push_back(proxy->userinfo.substr(colon + 1));
  }
  return secrets;
}

}  // namespace opescare::config
