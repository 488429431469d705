// The agent's HTTPS client: one verified, kept-alive connection to one server (Beast over OpenSSL 3),
// with proxy CONNECT, timeouts, response size limits and gzip request bodies. Asio stays out of this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/util/status.h"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}
namespace opescare {
class Clock;
}
namespace opescare::http {
class TlsContext;
}

namespace opescare::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ClientOptions {
  std::string base_url;  // "https://host[:port][/base]": every Request::target is appended to its path
  std::chrono::milliseconds connect_timeout{10'000};  // DNS + TCP + proxy CONNECT + TLS handshake, together
  std::chrono::milliseconds request_timeout{60'000};  // the whole request, connecting included (from
                                                      // when it leaves the queue, not from Send())
  std::chrono::milliseconds idle_timeout{30'000};     // a kept-alive connection idle longer is not reused
  // false: every request says Connection: close and its connection closes after the answer (requests further
  // apart than idle_timeout, such as the heartbeat, would never reuse one).
  bool keep_alive = true;
  std::string ca_file;                                // extra PEM CA bundle, trusted besides the system store
  std::string client_cert;                            // mTLS certificate chain (PEM); empty: none
  std::string client_key;                             // mTLS private key (PEM)
  std::string proxy;                 // "http://[user:pass@]host:port"; empty: direct (config fills it from HTTPS_PROXY)
  std::string no_proxy;              // hosts reached directly even with a proxy (see NoProxyMatches in url.h)
  bool allow_insecure_http = false;  // http:// to a non-loopback host (secrets still refused)
  uint64_t max_response_bytes = 8u << 20;  // response body limit
  uint32_t max_header_bytes = 64u << 10;   // response header limit
  size_t max_queued = 8;                   // requests waiting behind the one in flight
  size_t max_connections = 1;  // kept-alive connections at once, one request in flight on each (1..64)
  // When a request counts as sent (Request::on_sent): 0, once it is written to the socket; N, once no more
  // than N bytes of the connection are still to cross the link, or it retransmits (send_drain.h; Linux, links
  // with a round trip of 10 ms or more). N is also each connection's unsent low-water mark
  // (env::SetUnsentLowWater).
  int sent_backlog_bytes = 0;
  std::string user_agent;                  // sent unless the request sets its own
  // Header names whose values are secrets: never logged, refused on unsafe plain-text hops.
  std::vector<std::string> secret_headers = {"X-Bridge-Agent-Key", "Authorization"};
  const Clock* clock = nullptr;  // borrowed, must outlive the client; null: the system clock
  // PROTOCOL.md "Clock": the newest server time seen over a verified connection (epoch: none), asked
  // before each TLS handshake (on the io thread; must be thread-safe). Certificates are checked at
  // max(the real local clock, AgentBuildTime(), this); TLS errors use it to name a clock far ahead.
  std::function<std::chrono::system_clock::time_point()> verify_time_floor;
};

struct Request {
  std::string method = "POST";
  std::string target;  // path (and query) below the base URL, e.g. "/api/v1/bridge/heartbeat"
  Headers headers;
  std::string body;
  bool gzip_body = false;  // body is gzip (the caller compressed it, http::GzipCompress): Content-Encoding: gzip
  // Send Accept-Encoding: gzip. A gzip response (asked for or not) is inflated, within max_response_bytes.
  bool accept_gzip = false;
  // Runs at most once, on the io thread, never inside Send(): when the request counts as sent (see
  // ClientOptions::sent_backlog_bytes). Not when it failed or was answered first; the outcome follows either way.
  std::function<void()> on_sent;
};

struct Response {
  int status = 0;
  std::string reason;
  Headers headers;
  std::string body;

  // Case-insensitive lookup of the first header with this name.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// Where a request failed; kNone when a response (of any status) arrived.
enum class FailureStage {
  kNone,
  kDns,           // the server's (or the proxy's) name did not resolve
  kConnect,       // TCP connect to the server failed
  kProxy,         // the proxy could not be reached or refused the CONNECT
  kTlsHandshake,  // TLS failed for another reason than the certificate (e.g. the server has no TLS 1.2+)
  kTlsVerify,     // the server's certificate was refused (chain, expiry, hostname)
  kWrite,         // the connection broke while sending
  kRead,          // the connection broke while receiving (or closed before answering)
  kTimeout,       // connect_timeout or request_timeout elapsed
  kTooLarge,      // the response header or body exceeded its limit
  kProtocol,      // the server's bytes were not HTTP, or the request itself was malformed
  kInsecure,      // refused to send a secret header over plain HTTP beyond loopback
  kQueueFull,     // more than max_queued requests were waiting
  kClosed,        // Close() was called before it completed
};

const char* FailureStageName(FailureStage stage);

// Whether a refused certificate names the local clock as the likely cause (PROTOCOL.md "Clock"):
// kAhead when it looks expired but was valid at the last known server time (or has been expired longer
// than it was ever valid); kBehind when it looks not yet valid.
enum class ClockSuspect { kNone, kBehind, kAhead };

// What the server's certificate said, when the TLS handshake got far enough to see it.
struct PeerCertificate {
  std::string subject;  // RFC 2253, e.g. "CN=api.opescare.com,O=OpesCare"
  std::string issuer;
  std::vector<std::string> names;  // subjectAltName DNS names and IP addresses
  std::chrono::system_clock::time_point not_before{};
  std::chrono::system_clock::time_point not_after{};
};

struct Outcome {
  std::optional<Response> response;  // set exactly when stage == kNone
  FailureStage stage = FailureStage::kNone;
  std::string error;  // human text naming the host/proxy and the reason; empty on success
  std::optional<PeerCertificate> peer_certificate;
  std::string tls_version;  // "TLSv1.3" when TLS completed
  // Local clock (ClientOptions::clock) when the request's first byte was written and when the response
  // was complete: their midpoint is when the server's Date was taken. Epoch when not reached.
  std::chrono::system_clock::time_point sent_at{};
  std::chrono::system_clock::time_point received_at{};
  bool reused_connection = false;  // the response came over a connection kept alive from before
  // The response came over TLS whose peer was verified: only then may its Date move the time floor.
  bool verified_tls = false;
  ClockSuspect clock_suspect = ClockSuspect::kNone;  // set with kTlsVerify when the clock is named in error

  bool ok() const { return response.has_value(); }
};

// One server, up to max_connections connections, one request at a time on each: Send() queues (up to
// max_queued) and requests leave the queue in order, over an idle kept-alive connection when one is still
// there, else over a new connection while fewer than max_connections are open (with 1: strictly one after
// the other, in order). A request over a reused
// connection that the server had closed while idle is sent again once on a fresh connection, but only
// when not one byte of its response had arrived.
//
// The TLS peer (chain, validity, hostname) is verified before any byte of a request is written.
//
// Threads: Send() may be called from any thread; completions run on the io_context's thread, never
// inside Send(). Close() and the destructor must run on the io_context's thread (or while it is not
// running). After the destructor no completion is called; after Close() the pending ones get kClosed.
class Client {
 public:
  // Checks the options (URL, proxy, CA file, client certificate) and builds the TLS context.
  // io must outlive the client. logger may be null (no logging).
  static Result<std::unique_ptr<Client>> Create(boost::asio::io_context& io, ClientOptions options,
                                                std::shared_ptr<spdlog::logger> logger);
  // The same over a TLS context made once (TlsContext::Create) and shared by several clients. It must
  // have been made from the same ca_file/client_cert/client_key as options (InvalidArgument otherwise);
  // null for a plain http:// URL is allowed.
  static Result<std::unique_ptr<Client>> Create(boost::asio::io_context& io, ClientOptions options,
                                                std::shared_ptr<TlsContext> tls_context,
                                                std::shared_ptr<spdlog::logger> logger);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void Send(Request request, std::function<void(Outcome)> done);

  // Fails the queued requests and those in flight with kClosed and drops the connections.
  void Close();

  // "https://host:port/base", for messages.
  const std::string& base_url() const;

  class Impl;

 private:
  explicit Client(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Sends one request on a private io_context and waits for it: for CLI commands (heartbeat, doctor).
// Fails only when the options are invalid; network failures are in the Outcome.
Result<Outcome> SendBlocking(const ClientOptions& options, Request request, std::shared_ptr<spdlog::logger> logger);
Result<Outcome> SendBlocking(const ClientOptions& options, std::shared_ptr<TlsContext> tls_context, Request request,
                             std::shared_ptr<spdlog::logger> logger);

}  // namespace opescare::http
