// URL pieces the HTTPS client needs: the server's base URL, the proxy URL, loopback and NO_PROXY rules.
// Pure functions, no I/O (no DNS: a name is loopback only if it is "localhost" or a loopback literal).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::http {

// Where requests go: "https://api.opescare.com:8443/prefix" -> {https, api.opescare.com, 8443, "/prefix"}.
struct Endpoint {
  std::string scheme;     // "https" or "http" (lower-case)
  std::string host;       // lower-case; an IPv6 literal without its brackets
  uint16_t port = 0;      // explicit or the scheme's default
  std::string base_path;  // "" or "/prefix" without a trailing slash; prepended to every request target

  bool tls() const { return scheme == "https"; }
  // "host:port", IPv6 in brackets: for messages and CONNECT.
  std::string HostPort() const;
  // The Host header: like HostPort() but without the scheme's default port.
  std::string HostHeader() const;
};

// Accepts http and https URLs with an optional port and path; no userinfo, query or fragment.
Result<Endpoint> ParseBaseUrl(std::string_view url);

// An HTTP proxy reached with CONNECT: "http://[user:pass@]host:port" (the scheme may be omitted).
struct ProxySpec {
  std::string host;
  uint16_t port = 0;
  std::string username;  // percent-decoded; empty: no Proxy-Authorization
  std::string password;  // a secret: never logged

  std::string HostPort() const;
};

Result<ProxySpec> ParseProxyUrl(std::string_view url);

// True for "localhost" (and "localhost."), 127.0.0.0/8, ::1 and ::ffff:127.x.y.z.
bool IsLoopbackHost(std::string_view host);

// True when host is an IPv4 or IPv6 literal (no SNI for those; hostname checks use the IP SAN).
bool IsIpLiteral(std::string_view host);

// NO_PROXY semantics (curl's): a comma/space separated list; "*" matches everything; "example.com" and
// ".example.com" match example.com and its subdomains; IP literals match exactly; "host:port" entries
// match only that port. Case-insensitive.
bool NoProxyMatches(std::string_view host, uint16_t port, std::string_view no_proxy);

// Whether a secret may travel in plain text: only when every hop (the target and the proxy, if any)
// is loopback. TLS targets always may (the peer is verified before any byte of the request is sent).
bool SecretAllowedOn(const Endpoint& target, const ProxySpec* proxy);

}  // namespace opescare::http
