// Routing of status requests to the renderers, listen-address parsing and the Host check.
#include "agent/status/router.h"

#include <boost/asio/ip/address.hpp>
#include <charconv>

#include "agent/status/render.h"

namespace opescare::status {
namespace {

Reply Text(unsigned status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string_view PathOf(std::string_view target) {
  std::size_t q = target.find_first_of("?#");
  return q == std::string_view::npos ? target : target.substr(0, q);
}

// Splits "host:port" / "[v6]:port" / "host" into host (without brackets) and port text.
void SplitHostPort(std::string_view in, std::string_view* host, std::string_view* port) {
  *port = {};
  if (!in.empty() && in.front() == '[') {
    std::size_t close = in.find(']');
    if (close == std::string_view::npos) {
      *host = in;
      return;
    }
    *host = in.substr(1, close - 1);
    if (close + 1 < in.size() && in[close + 1] == ':')
      *port = in.substr(close + 2);
    else if (close + 1 < in.size())
      *host = in;  // junk after ']' keeps the whole thing: it will not parse
    return;
  }
  std::size_t colon = in.rfind(':');
  if (colon == std::string_view::npos || in.find(':') != colon) {  // no port, or a bare IPv6 address
    *host = in;
    return;
  }
  *host = in.substr(0, colon);
  *port = in.substr(colon + 1);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

}  // namespace

Reply Route(const Request& request, const Sources& sources) {
  if (request.method != "GET" && request.method != "HEAD") {
    Reply r = Text(405, "method not allowed: this server is read-only (GET, HEAD)\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (!sources.allow_remote && !IsLoopbackHost(request.host)) {
    return Text(421, "this status server answers only to localhost, 127.0.0.1 or [::1]\n");
  }
  std::string_view path = PathOf(request.target);
  if (path == "/healthz") {
    bool healthy = sources.healthy ? sources.healthy() : true;
    return healthy ? Text(200, "ok\n") : Text(503, "unhealthy: the event loop or the disk worker is not responding\n");
  }
  if (path == "/readyz") {
    Readiness readiness = CheckReadiness(sources.snapshot());
    return readiness.ready ? Text(200, "ready\n") : Text(503, "not ready: " + readiness.reason + "\n");
  }
  if (path == "/status.json") {
    Reply r = Text(200, RenderStatusJson(sources.snapshot(), sources.now));
    r.content_type = "application/json";
    return r;
  }
  if (path == "/metrics") {
    Reply r = Text(200, RenderMetrics(sources.snapshot()));
    r.content_type = std::string(kMetricsContentType);
    return r;
  }
  if (path == "/" || path == "/index.html") {
    Reply r = Text(200, RenderStatusPage(sources.snapshot(), sources.now));
    r.content_type = "text/html; charset=utf-8";
    // The page needs no script, no outside resource and no framing; say so to the browser.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'");
    return r;
  }
  return Text(404, "not found; try /, /status.json, /metrics, /healthz or /readyz\n");
}

Result<ListenAddress> ParseListen(std::string_view listen) {
  std::string_view host, port_text;
  SplitHostPort(listen, &host, &port_text);
  if (host.empty() || port_text.empty()) {
    return InvalidArgument("status.listen \"" + std::string(listen) + "\": expected HOST:PORT, e.g. 127.0.0.1:9469");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return InvalidArgument("status.listen \"" + std::string(listen) + "\": port must be 0..65535");
  }
  ListenAddress out;
  out.port = static_cast<uint16_t>(port);
  if (EqualsIgnoreCase(host, "localhost")) {
    out.ip = "127.0.0.1";  // not resolved: the name must never lead anywhere but here
    out.loopback = true;
    return out;
  }
  boost::system::error_code error;
  boost::asio::ip::address address = boost::asio::ip::make_address(std::string(host), error);
  if (error) {
    return InvalidArgument("status.listen \"" + std::string(listen) +
                           "\": the host must be an IP address or localhost");
  }
  out.ip = address.to_string();
  out.loopback = address.is_loopback();
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  if (host.empty()) return true;  // HTTP/1.0 without Host: only a local tool does that
  std::string_view name, port;
  SplitHostPort(host, &name, &port);
  if (EqualsIgnoreCase(name, "localhost")) return true;
  boost::system::error_code error;
  boost::asio::ip::address address = boost::asio::ip::make_address(std::string(name), error);
  return !error && address.is_loopback();
}

}  // namespace opescare::status
