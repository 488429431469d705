// The status server's decisions without its sockets: which reply a request gets, whether a listen address is
// allowed, whether a Host header may be served. Pure functions, tested directly.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/status/snapshot.h"
#include "agent/util/status.h"

namespace opescare::status {

struct Reply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;  // the full body, also for HEAD (the server sends only its length then)
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Allow
};

struct Request {
  std::string_view method;  // "GET", "HEAD", ...
  std::string_view target;  // "/metrics?x=1"
  std::string_view host;    // the Host header, "" when absent
};

// Where the answers come from. `snapshot` is called only for endpoints that need it, on the I/O thread.
struct Sources {
  std::function<StatusSnapshot()> snapshot;
  std::function<bool()> healthy;
  TimePoint now;
  bool allow_remote = false;
};

// GET/HEAD on /, /status.json, /metrics, /healthz, /readyz; 405 for other methods, 404 for other paths,
// 421 for a Host that is not loopback when allow_remote is off (a web page cannot rebind a name to us).
Reply Route(const Request& request, const Sources& sources);

// "127.0.0.1:9469", "[::1]:9469", "localhost:9469", "0.0.0.0:9469"; port 0 asks for any free port.
struct ListenAddress {
  std::string ip;  // numeric, e.g. "127.0.0.1" or "::1"
  uint16_t port = 0;
  bool loopback = false;
};
Result<ListenAddress> ParseListen(std::string_view listen);

// True for "localhost", "127.x.y.z", "[::1]", with or without ":port", and for an absent Host.
bool IsLoopbackHost(std::string_view host);

}  // namespace opescare::status
