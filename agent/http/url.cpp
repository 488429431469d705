// Parsing of base and proxy URLs and the loopback / NO_PROXY rules (see url.h).
#include "agent/http/url.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>

namespace opescare::http {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string BracketIfV6(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return InvalidArgument("bad percent-encoding");
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return InvalidArgument("bad percent-encoding");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// Splits "host[:port]" / "[v6][:port]" into lower-case host and port (0 when absent).
Status SplitHostPort(std::string_view authority, std::string* host, uint16_t* port) {
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument("unclosed '[' in host");
    *host = Lower(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return InvalidArgument("unexpected text after ']'");
      port_text = rest.substr(1);
    }
    if (!IsIpLiteral(*host) || host->find(':') == std::string::npos) return InvalidArgument("bad IPv6 literal");
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    *host = Lower(authority);
  }
  if (host->empty()) return InvalidArgument("missing host");
  for (unsigned char c : *host) {
    if (std::isalnum(c) == 0 && c != '-' && c != '.' && c != '_' && c != ':') {
      return InvalidArgument("invalid character in host");
    }
  }
  *port = 0;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return InvalidArgument("invalid port '" + std::string(port_text) + "'");
    }
    *port = static_cast<uint16_t>(value);
  }
  return Status::Ok();
}

}  // namespace

std::string Endpoint::HostPort() const { return BracketIfV6(host) + ":" + std::to_string(port); }

std::string Endpoint::HostHeader() const {
  bool default_port = (tls() && port == 443) || (!tls() && port == 80);
  return default_port ? BracketIfV6(host) : HostPort();
}

std::string ProxySpec::HostPort() const { return BracketIfV6(host) + ":" + std::to_string(port); }

Result<Endpoint> ParseBaseUrl(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return InvalidArgument("URL must start with https:// or http://");
  Endpoint e;
  e.scheme = Lower(url.substr(0, sep));
  if (e.scheme != "https" && e.scheme != "http") {
    return InvalidArgument("unsupported URL scheme '" + e.scheme + "' (use https)");
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos)
    return InvalidArgument("URL must not have a query or fragment");
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) return InvalidArgument("URL must not contain user:password@");
  if (Status s = SplitHostPort(authority, &e.host, &e.port); !s.ok()) return InvalidArgument("URL " + s.message());
  if (e.port == 0) e.port = e.tls() ? 443 : 80;
  if (slash != std::string_view::npos) {
    e.base_path = std::string(rest.substr(slash));
    while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
    for (unsigned char c : e.base_path) {
      if (c <= 0x20 || c >= 0x7f) return InvalidArgument("URL path contains a space or non-ASCII character");
    }
  }
  return e;
}

Result<ProxySpec> ParseProxyUrl(std::string_view url) {
  size_t sep = url.find("://");
  if (sep != std::string_view::npos) {
    std::string scheme = Lower(url.substr(0, sep));
    if (scheme != "http") return InvalidArgument("proxy scheme '" + scheme + "' is not supported (use http://)");
    url = url.substr(sep + 3);
  }
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.find('/') != std::string_view::npos) return InvalidArgument("proxy URL must not have a path");
  ProxySpec p;
  size_t at = url.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = url.substr(0, at);
    url = url.substr(at + 1);
    size_t colon = userinfo.find(':');
    auto user = PercentDecode(userinfo.substr(0, colon));
    if (!user.ok()) return InvalidArgument("proxy user name: " + user.status().message());
    p.username = std::move(*user);
    if (colon != std::string_view::npos) {
      auto pass = PercentDecode(userinfo.substr(colon + 1));
      if (!pass.ok()) return InvalidArgument("proxy password: " + pass.status().message());
      p.password = std::move(*pass);
    }
  }
  if (Status s = SplitHostPort(url, &p.host, &p.port); !s.ok()) return InvalidArgument("proxy " + s.message());
  if (p.port == 0) p.port = 80;
  return p;
}

bool IsIpLiteral(std::string_view host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(host), ec);
  return !ec;
}

bool IsLoopbackHost(std::string_view host_in) {
  std::string host = Lower(host_in);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost" || host == "localhost.") return true;
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(host, ec);
  if (ec) return false;
  if (addr.is_v4()) return addr.to_v4().is_loopback();
  auto v6 = addr.to_v6();
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).is_loopback();
  return v6.is_loopback();
}

bool NoProxyMatches(std::string_view host_in, uint16_t port, std::string_view no_proxy) {
  std::string host = Lower(host_in);
  size_t pos = 0;
  while (pos < no_proxy.size()) {
    size_t end = no_proxy.find_first_of(", \t", pos);
    if (end == std::string_view::npos) end = no_proxy.size();
    std::string entry = Lower(no_proxy.substr(pos, end - pos));
    pos = end + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    // An entry may carry a port ("host:port", "[v6]:port"); a bare IPv6 literal has colons too.
    uint16_t entry_port = 0;
    if (!IsIpLiteral(entry)) {
      std::string entry_host;
      if (!SplitHostPort(entry, &entry_host, &entry_port).ok()) continue;
      entry = entry_host;
    }
    if (entry_port != 0 && entry_port != port) continue;
    if (entry.front() == '.') entry.erase(0, 1);
    if (host == entry) return true;
    if (!IsIpLiteral(entry) && host.size() > entry.size() && host.ends_with(entry) &&
        host[host.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

bool SecretAllowedOn(const Endpoint& target, const ProxySpec* proxy) {
  if (target.tls()) return true;
  return IsLoopbackHost(target.host) && (proxy == nullptr || IsLoopbackHost(proxy->host));
}

}  // namespace opescare::http
