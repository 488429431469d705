// The HTTPS client's state machine (Beast's session shape): resolve -> connect -> [proxy CONNECT] ->
// [TLS handshake + verification] -> write -> read, one handler per step, a deadline before every step.
#include "agent/http/client.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>
#include <cstdio>
#include <deque>

#include "agent/http/build_time.h"
#include "agent/http/content_coding.h"
#include "agent/http/gzip.h"
#include "agent/http/tls.h"
#include "agent/http/tls_context.h"
#include "agent/http/url.h"
#include "agent/util/clock.h"

namespace opescare::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using SteadyTime = std::chrono::steady_clock::time_point;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Seconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

Status CheckHeader(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return IsTokenChar(c); })) {
    return InvalidArgument("invalid header name '" + std::string(name) + "'");
  }
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return InvalidArgument("header " + std::string(name) + " has a line break or NUL in its value");
  }
  return Status::Ok();
}

// A connection drop that means "the server had closed the kept-alive connection".
bool IsConnectionDrop(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

Outcome Failure(FailureStage stage, std::string error) {
  Outcome o;
  o.stage = stage;
  o.error = std::move(error);
  return o;
}

}  // namespace

std::optional<std::string_view> Response::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

const char* FailureStageName(FailureStage stage) {
  switch (stage) {
    case FailureStage::kNone:
      return "none";
    case FailureStage::kDns:
      return "dns";
    case FailureStage::kConnect:
      return "connect";
    case FailureStage::kProxy:
      return "proxy";
    case FailureStage::kTlsHandshake:
      return "tls_handshake";
    case FailureStage::kTlsVerify:
      return "tls_verify";
    case FailureStage::kWrite:
      return "write";
    case FailureStage::kRead:
      return "read";
    case FailureStage::kTimeout:
      return "timeout";
    case FailureStage::kTooLarge:
      return "too_large";
    case FailureStage::kProtocol:
      return "protocol";
    case FailureStage::kInsecure:
      return "insecure";
    case FailureStage::kQueueFull:
      return "queue_full";
    case FailureStage::kClosed:
      return "closed";
  }
  return "unknown";
}

// One TCP (+TLS) connection. Shared by the handlers of its operations, so that replacing or closing
// it never destroys a stream an operation still uses.
struct Connection {
  Connection(asio::io_context& io, ssl::context* tls_context) {
    if (tls_context != nullptr) {
      tls.emplace(io, *tls_context);
    } else {
      tcp.emplace(io);
    }
  }
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *tcp; }
  void Close() {
    error_code ignored;
    lowest().socket().close(ignored);
    open = false;
  }

  std::optional<beast::tcp_stream> tcp;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  internal::VerifyFailure verify_failure;
  bool open = false;      // connected (and verified) and usable for the next request
  bool verified = false;  // TLS with a verified peer: what its responses' Outcome says
  std::optional<PeerCertificate> peer;
  std::string tls_version;
  SteadyTime last_used{};
};

// One request from Send() to its completion.
struct Exchange {
  Request request;
  std::function<void(Outcome)> done;
  bhttp::request<bhttp::string_body> wire;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  bhttp::request<bhttp::empty_body> connect_request;
  std::optional<bhttp::response_parser<bhttp::empty_body>> connect_parser;
  Outcome outcome;
  SteadyTime started{};
  SteadyTime deadline{};          // the whole request
  SteadyTime connect_deadline{};  // establishing the connection
  bool retried = false;
  bool carries_secret = false;
};

class Client::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, ClientOptions options, Endpoint endpoint, std::optional<ProxySpec> proxy,
       std::shared_ptr<TlsContext> tls_context, std::shared_ptr<spdlog::logger> log)
      : io_(io),
        options_(std::move(options)),
        endpoint_(std::move(endpoint)),
        proxy_(std::move(proxy)),
        tls_context_(std::move(tls_context)),
        log_(std::move(log)),
        resolver_(io),
        resolve_timer_(io) {
    base_url_ = endpoint_.scheme + "://" + endpoint_.HostPort() + endpoint_.base_path;
    if (proxy_ && !proxy_->username.empty()) {
      proxy_authorization_ = "Basic " + Base64(proxy_->username + ":" + proxy_->password);
    }
  }

  asio::io_context& io() { return io_; }
  const ClientOptions& options() const { return options_; }
  const std::string& base_url() const { return base_url_; }

  // Any thread: compresses, then hands the request to the io thread.
  void Send(Request request, std::function<void(Outcome)> done) {
    auto ex = std::make_shared<Exchange>();
    ex->done = std::move(done);
    if (request.gzip_body) {
      auto compressed = GzipCompress(request.body, request.gzip_level);
      if (!compressed.ok()) {
        asio::post(io_, [self = shared_from_this(), ex, msg = compressed.status().message()] {
          self->Complete(ex, Failure(FailureStage::kProtocol, "cannot gzip the request body: " + msg));
        });
        return;
      }
      request.body = std::move(*compressed);
    }
    ex->request = std::move(request);
    asio::post(io_, [self = shared_from_this(), ex] { self->Enqueue(ex); });
  }

  void Close(bool drop_callbacks) {
    closed_ = true;
    drop_callbacks_ = drop_callbacks || drop_callbacks_;
    ++generation_;
    resolver_.cancel();
    resolve_timer_.cancel();
    if (conn_) conn_->Close();
    std::deque<std::shared_ptr<Exchange>> pending;
    pending.swap(queue_);
    busy_ = false;
    for (auto& ex : pending) Complete(ex, Failure(FailureStage::kClosed, "the HTTP client was closed"));
  }

 private:
  void Log(spdlog::level::level_enum level, std::string_view text) {
    if (log_) log_->log(level, "http: {}", text);
  }
  bool ShouldLog(spdlog::level::level_enum level) const { return log_ && log_->should_log(level); }

  std::chrono::system_clock::time_point Now() const {
    return options_.clock ? options_.clock->Now() : std::chrono::system_clock::now();
  }

  bool IsSecret(std::string_view name) const {
    return std::any_of(options_.secret_headers.begin(), options_.secret_headers.end(),
                       [&](const std::string& s) { return EqualsIgnoreCase(s, name); });
  }

  // Posts the completion: never run inside Send() or a caller's stack, never after the destructor.
  void Complete(const std::shared_ptr<Exchange>& ex, Outcome outcome) {
    asio::post(io_, [self = shared_from_this(), done = std::move(ex->done), o = std::move(outcome)]() mutable {
      if (!self->drop_callbacks_ && done) done(std::move(o));
    });
  }

  void Enqueue(std::shared_ptr<Exchange> ex) {
    if (closed_) return Complete(ex, Failure(FailureStage::kClosed, "the HTTP client was closed"));
    if (queue_.size() > options_.max_queued) {
      return Complete(ex, Failure(FailureStage::kQueueFull, "more than " + std::to_string(options_.max_queued) +
                                                                " requests are waiting for " + base_url_));
    }
    queue_.push_back(std::move(ex));
    StartNext();
  }

  void StartNext() {
    if (busy_ || closed_ || queue_.empty()) return;
    busy_ = true;
    auto ex = queue_.front();
    ex->started = std::chrono::steady_clock::now();
    ex->deadline = ex->started + options_.request_timeout;
    if (Status s = BuildWireRequest(*ex); !s.ok()) return Fail(ex, FailureStage::kProtocol, s.message());
    if (ex->carries_secret && !SecretAllowedOn(endpoint_, proxy_ ? &*proxy_ : nullptr)) {
      return Fail(ex, FailureStage::kInsecure,
                  "refusing to send a secret header over plain HTTP to " + endpoint_.HostPort() +
                      (proxy_ ? " via proxy " + proxy_->HostPort() : "") + "; use https://");
    }
    if (conn_ && conn_->open && ex->started - conn_->last_used < options_.idle_timeout && ConnectionLooksAlive()) {
      ex->outcome.reused_connection = true;
      return Write(ex);
    }
    DropConnection();
    Connect(ex);
  }

  Status BuildWireRequest(Exchange& ex) {
    Request& r = ex.request;
    bhttp::verb verb = bhttp::string_to_verb(r.method);
    if (verb == bhttp::verb::unknown) return InvalidArgument("unknown HTTP method '" + r.method + "'");
    if (r.target.empty() || r.target.front() != '/' ||
        std::any_of(r.target.begin(), r.target.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f; })) {
      return InvalidArgument("request target must be an absolute path without spaces: '" + r.target + "'");
    }
    auto& w = ex.wire;
    w.method(verb);
    w.target(endpoint_.base_path + r.target);
    w.version(11);
    bool has_user_agent = false;
    for (const auto& [name, value] : r.headers) {
      if (Status s = CheckHeader(name, value); !s.ok()) return s;
      if (IsSecret(name)) ex.carries_secret = true;
      if (EqualsIgnoreCase(name, "User-Agent")) has_user_agent = true;
      w.insert(name, value);
    }
    w.set(bhttp::field::host, endpoint_.HostHeader());
    if (!has_user_agent && !options_.user_agent.empty()) w.set(bhttp::field::user_agent, options_.user_agent);
    if (r.gzip_body) w.set(bhttp::field::content_encoding, "gzip");
    if (r.accept_gzip) w.set(bhttp::field::accept_encoding, "gzip");
    w.body() = std::move(r.body);
    w.prepare_payload();
    return Status::Ok();
  }

  // A kept-alive connection the server closed (or wrote to) while idle must not carry the next request.
  bool ConnectionLooksAlive() {
    auto& socket = conn_->lowest().socket();
    if (!socket.is_open() || conn_->buffer.size() != 0) return false;
    error_code ec;
    char byte;
    socket.non_blocking(true, ec);
    socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
    error_code ignored;
    socket.non_blocking(false, ignored);
    return ec == asio::error::would_block || ec == asio::error::try_again;
  }

  void DropConnection() {
    if (conn_) conn_->Close();
  }

  void Connect(const std::shared_ptr<Exchange>& ex) {
    uint64_t gen = ++generation_;
    ex->connect_deadline = std::min(ex->deadline, std::chrono::steady_clock::now() + options_.connect_timeout);
    const std::string& host = proxy_ ? proxy_->host : endpoint_.host;
    uint16_t port = proxy_ ? proxy_->port : endpoint_.port;
    if (ShouldLog(spdlog::level::trace)) {
      Log(spdlog::level::trace, "resolving " + host + (proxy_ ? " (proxy)" : ""));
    }
    resolve_timer_.expires_at(ex->connect_deadline);
    resolve_timer_.async_wait([self = shared_from_this(), ex, gen, host](error_code ec) {
      if (ec || gen != self->generation_) return;
      self->Fail(ex, FailureStage::kTimeout,
                 "resolving " + host + " did not finish within " + Seconds(self->options_.connect_timeout));
    });
    resolver_.async_resolve(host, std::to_string(port),
                            [self = shared_from_this(), ex, gen, host](error_code ec, tcp::resolver::results_type r) {
                              if (gen != self->generation_) return;
                              self->resolve_timer_.cancel();
                              if (ec) {
                                return self->Fail(ex, FailureStage::kDns,
                                                  std::string("cannot resolve ") + (self->proxy_ ? "proxy " : "") +
                                                      host + ": " + ec.message());
                              }
                              self->OnResolved(ex, gen, std::move(r));
                            });
  }

  void OnResolved(const std::shared_ptr<Exchange>& ex, uint64_t gen, const tcp::resolver::results_type& results) {
    conn_ = std::make_shared<Connection>(io_, endpoint_.tls() ? &tls_context_->native() : nullptr);
    auto conn = conn_;
    conn->lowest().expires_at(ex->connect_deadline);
    conn->lowest().async_connect(results, [self = shared_from_this(), ex, conn, gen](error_code ec,
                                                                                     const tcp::endpoint& ep) {
      if (gen != self->generation_) return;
      if (ec) return self->OnConnectFailed(ex, ec);
      // Requests go out in a few writes (TLS records, header then body): without TCP_NODELAY, Nagle's algorithm
      // against the server's delayed ACK holds the last piece ~40 ms, which caps delivery at ~25 batches/s.
      error_code nodelay_ec;
      conn->lowest().socket().set_option(tcp::no_delay(true), nodelay_ec);
      if (self->ShouldLog(spdlog::level::trace)) {
        self->Log(spdlog::level::trace, "connected to " + ep.address().to_string() + ":" + std::to_string(ep.port()));
      }
      if (self->proxy_) return self->ProxyConnect(ex, conn, gen);
      self->AfterTunnel(ex, conn, gen);
    });
  }

  void OnConnectFailed(const std::shared_ptr<Exchange>& ex, const error_code& ec) {
    std::string what = proxy_ ? "proxy " + proxy_->HostPort() : endpoint_.HostPort();
    if (ec == beast::error::timeout) {
      return Fail(ex, FailureStage::kTimeout,
                  "connecting to " + what + " did not finish within " + Seconds(options_.connect_timeout));
    }
    if (proxy_) {
      std::string reason =
          ec == asio::error::connection_refused ? "refused the connection" : "is unreachable: " + ec.message();
      return Fail(ex, FailureStage::kProxy, what + " " + reason);
    }
    Fail(ex, FailureStage::kConnect, "cannot connect to " + what + ": " + ec.message());
  }

  void ProxyConnect(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<Connection>& conn, uint64_t gen) {
    auto& req = ex->connect_request;
    req = {};
    req.method(bhttp::verb::connect);
    req.target(endpoint_.HostPort());
    req.version(11);
    req.set(bhttp::field::host, endpoint_.HostPort());
    if (!options_.user_agent.empty()) req.set(bhttp::field::user_agent, options_.user_agent);
    if (!proxy_authorization_.empty()) req.set(bhttp::field::proxy_authorization, proxy_authorization_);
    if (ShouldLog(spdlog::level::trace)) {
      Log(spdlog::level::trace, "CONNECT " + endpoint_.HostPort() + " via proxy " + proxy_->HostPort() +
                                    (proxy_authorization_.empty() ? "" : " (Proxy-Authorization: ***)"));
    }
    conn->lowest().expires_at(ex->connect_deadline);
    bhttp::async_write(conn->lowest(), req, [self = shared_from_this(), ex, conn, gen](error_code ec, size_t) {
      if (gen != self->generation_) return;
      if (ec) return self->OnProxyFailed(ex, ec, "while sending CONNECT");
      ex->connect_parser.emplace();
      ex->connect_parser->skip(true);  // a CONNECT answer has no body: the tunnel follows
      ex->connect_parser->header_limit(16 * 1024);
      bhttp::async_read_header(conn->lowest(), conn->buffer, *ex->connect_parser,
                               [self, ex, conn, gen](error_code ec, size_t) {
                                 if (gen != self->generation_) return;
                                 if (ec) return self->OnProxyFailed(ex, ec, "while reading its CONNECT answer");
                                 self->OnProxyAnswer(ex, conn, gen);
                               });
    });
  }

  void OnProxyFailed(const std::shared_ptr<Exchange>& ex, const error_code& ec, const std::string& when) {
    std::string what = "proxy " + proxy_->HostPort();
    if (ec == beast::error::timeout) {
      return Fail(ex, FailureStage::kTimeout,
                  what + " did not complete CONNECT within " + Seconds(options_.connect_timeout));
    }
    Fail(ex, FailureStage::kProxy, what + " failed " + when + ": " + ec.message());
  }

  void OnProxyAnswer(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<Connection>& conn, uint64_t gen) {
    const auto& answer = ex->connect_parser->get();
    int status = answer.result_int();
    if (status < 200 || status > 299) {
      // 407 is the standard answer; some proxies (tinyproxy) say 401 to a CONNECT.
      bool auth = status == 407 || status == 401;
      std::string hint = !auth                          ? ""
                         : proxy_authorization_.empty() ? " (the proxy needs a user:password in its URL)"
                                                        : " (the proxy refused the user:password in its URL)";
      return Fail(ex, FailureStage::kProxy,
                  "proxy " + proxy_->HostPort() + " refused CONNECT to " + endpoint_.HostPort() + ": " +
                      std::to_string(status) + " " + std::string(answer.reason()) + hint);
    }
    if (conn->buffer.size() != 0) {
      return Fail(ex, FailureStage::kProxy,
                  "proxy " + proxy_->HostPort() + " sent unexpected bytes after its CONNECT answer");
    }
    AfterTunnel(ex, conn, gen);
  }

  void AfterTunnel(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<Connection>& conn, uint64_t gen) {
    if (!conn->tls) {
      conn->open = true;
      return Write(ex);
    }
    Handshake(ex, conn, gen);
  }

  void Handshake(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<Connection>& conn, uint64_t gen) {
    SSL* ssl = conn->tls->native_handle();
    const std::string& host = endpoint_.host;
    // Hostname verification is ours to ask for: OpenSSL checks only the chain unless told the name.
    bool name_set = IsIpLiteral(host)
                        ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1
                        : SSL_set1_host(ssl, host.c_str()) == 1 && SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
    if (!name_set) return Fail(ex, FailureStage::kTlsHandshake, "cannot set the expected TLS host name " + host);
    ApplyTimeFloor(ssl, conn->verify_failure);
    Connection* raw = conn.get();  // the callback runs only inside this connection's handshake
    conn->tls->set_verify_callback([raw](bool preverified, ssl::verify_context& vc) {
      X509_STORE_CTX* store = vc.native_handle();
      if (!preverified && raw->verify_failure.error == 0) {
        raw->verify_failure.error = X509_STORE_CTX_get_error(store);
        raw->verify_failure.depth = X509_STORE_CTX_get_error_depth(store);
        raw->verify_failure.cert = internal::DescribeCertificate(X509_STORE_CTX_get_current_cert(store));
      }
      return preverified;
    });
    conn->lowest().expires_at(ex->connect_deadline);
    conn->tls->async_handshake(ssl::stream_base::client, [self = shared_from_this(), ex, conn, gen](error_code ec) {
      if (gen != self->generation_) return;
      self->OnHandshake(ex, conn, ec);
    });
  }

  // PROTOCOL.md "Clock": a clock years behind (dead CMOS battery) must not make every certificate "not yet
  // valid". OpenSSL checks against the real clock, so the comparison is with it, not options_.clock.
  void ApplyTimeFloor(SSL* ssl, internal::VerifyFailure& record) {
    auto local = std::chrono::system_clock::now();
    auto server = options_.verify_time_floor ? options_.verify_time_floor() : std::chrono::system_clock::time_point{};
    auto floor = std::max(AgentBuildTime(), server);
    record.local_now = local;
    record.server_time = server;
    record.checked_at = local;
    if (floor <= local) return;
    X509_VERIFY_PARAM_set_time(SSL_get0_param(ssl), std::chrono::system_clock::to_time_t(floor));
    record.checked_at = floor;
    if (ShouldLog(spdlog::level::debug)) {
      Log(spdlog::level::debug, "the local clock is behind the time floor: checking certificates at " +
                                    FormatIso8601Utc(floor) + " (local " + FormatIso8601Utc(local) + ")");
    }
  }

  void OnHandshake(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<Connection>& conn, error_code ec) {
    const std::string where = endpoint_.HostPort();
    SSL* ssl = conn->tls->native_handle();
    if (conn->verify_failure.error != 0) {
      ex->outcome.peer_certificate = conn->verify_failure.cert;
      ex->outcome.clock_suspect = internal::SuspectClock(conn->verify_failure);
      return Fail(ex, FailureStage::kTlsVerify,
                  "TLS certificate of " + where +
                      " refused: " + internal::DescribeVerifyFailure(conn->verify_failure, endpoint_.host));
    }
    if (ec == beast::error::timeout) {
      return Fail(ex, FailureStage::kTimeout,
                  "TLS handshake with " + where + " did not finish within " + Seconds(options_.connect_timeout));
    }
    if (ec)
      return Fail(ex, FailureStage::kTlsHandshake,
                  "TLS handshake with " + where + " failed: " + internal::DescribeTlsError(ec));
    // Belt and braces: never write a request to a peer OpenSSL did not verify.
    X509* peer = SSL_get0_peer_certificate(ssl);
    if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) {
      return Fail(ex, FailureStage::kTlsVerify, "TLS peer " + where + " is not verified");
    }
    ex->outcome.peer_certificate = internal::DescribeCertificate(peer);
    ex->outcome.tls_version = SSL_get_version(ssl);
    if (ShouldLog(spdlog::level::debug)) {
      Log(spdlog::level::debug, ex->outcome.tls_version + " to " + where + " verified, peer " +
                                    ex->outcome.peer_certificate->subject + " issued by " +
                                    ex->outcome.peer_certificate->issuer + ", notAfter " +
                                    FormatIso8601Utc(ex->outcome.peer_certificate->not_after));
    }
    conn->open = true;
    conn->verified = true;
    conn->peer = ex->outcome.peer_certificate;
    conn->tls_version = ex->outcome.tls_version;
    Write(ex);
  }

  template <typename Fn>
  void WithStream(Connection& conn, Fn&& fn) {
    if (conn.tls) {
      fn(*conn.tls);
    } else {
      fn(*conn.tcp);
    }
  }

  void LogRequestHeaders(const Exchange& ex) {
    std::string text = std::string(ex.wire.method_string()) + " " + std::string(ex.wire.target());
    for (const auto& field : ex.wire) {
      std::string_view name = field.name_string();
      text += "\n  " + std::string(name) + ": " + (IsSecret(name) ? "***" : std::string(field.value()));
    }
    text += "\n  (" + std::to_string(ex.wire.body().size()) + " body bytes)";
    Log(spdlog::level::trace, text);
  }

  void Write(const std::shared_ptr<Exchange>& ex) {
    auto conn = conn_;
    uint64_t gen = generation_;
    if (ShouldLog(spdlog::level::trace)) LogRequestHeaders(*ex);
    ex->outcome.sent_at = Now();
    conn->lowest().expires_at(ex->deadline);
    WithStream(*conn, [&](auto& stream) {
      bhttp::async_write(stream, ex->wire, [self = shared_from_this(), ex, conn, gen](error_code ec, size_t) {
        if (gen != self->generation_) return;
        self->OnWrite(ex, conn, ec);
      });
    });
  }

  void OnWrite(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<Connection>& conn, error_code ec) {
    if (ec) {
      if (ec != beast::error::timeout && CanRetry(*ex)) return Retry(ex, ec);
      if (ec == beast::error::timeout) {
        return Fail(
            ex, FailureStage::kTimeout,
            "sending to " + endpoint_.HostPort() + " did not finish within " + Seconds(options_.request_timeout));
      }
      return Fail(ex, FailureStage::kWrite, "sending to " + endpoint_.HostPort() + " failed: " + ec.message());
    }
    ex->parser.emplace();
    ex->parser->body_limit(options_.max_response_bytes);
    ex->parser->header_limit(options_.max_header_bytes);
    if (ex->wire.method() == bhttp::verb::head) ex->parser->skip(true);  // a HEAD answer has no body
    uint64_t gen = generation_;
    WithStream(*conn, [&](auto& stream) {
      bhttp::async_read(stream, conn->buffer, *ex->parser,
                        [self = shared_from_this(), ex, conn, gen](error_code ec, size_t) {
                          if (gen != self->generation_) return;
                          self->OnRead(ex, conn, ec);
                        });
    });
  }

  bool CanRetry(const Exchange& ex) const { return ex.outcome.reused_connection && !ex.retried && !closed_; }

  void Retry(const std::shared_ptr<Exchange>& ex, const error_code& ec) {
    Log(spdlog::level::debug, "kept-alive connection to " + endpoint_.HostPort() + " was closed by the server (" +
                                  ec.message() + "); sending again on a new connection");
    ex->retried = true;
    ex->outcome.reused_connection = false;
    DropConnection();
    Connect(ex);
  }

  void OnRead(const std::shared_ptr<Exchange>& ex, const std::shared_ptr<Connection>& conn, error_code ec) {
    ex->outcome.received_at = Now();
    const std::string where = endpoint_.HostPort();
    if (ec) {
      bool nothing_read = !ex->parser->got_some() && conn->buffer.size() == 0;
      if (nothing_read && IsConnectionDrop(ec) && CanRetry(*ex)) return Retry(ex, ec);
      if (ec == bhttp::error::body_limit) {
        return Fail(
            ex, FailureStage::kTooLarge,
            "response from " + where + " is larger than " + std::to_string(options_.max_response_bytes) + " bytes");
      }
      if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
        return Fail(ex, FailureStage::kTooLarge,
                    "response header from " + where + " is larger than " + std::to_string(options_.max_header_bytes) +
                        " bytes");
      }
      if (ec == beast::error::timeout) {
        return Fail(ex, FailureStage::kTimeout,
                    "no complete response from " + where + " within " + Seconds(options_.request_timeout));
      }
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return Fail(ex, FailureStage::kProtocol, where + " sent a malformed HTTP response (" + ec.message() + ")");
      }
      if (ec.category() == asio::error::get_ssl_category() && ec != ssl::error::stream_truncated) {
        // An alert after our side of the handshake finished: typically the server refusing our client certificate.
        return Fail(ex, FailureStage::kTlsHandshake,
                    "TLS session with " + where + " failed: " + internal::DescribeTlsError(ec));
      }
      if (IsConnectionDrop(ec) || ec == bhttp::error::partial_message) {
        return Fail(ex, FailureStage::kRead,
                    where + " closed the connection before a complete response (" + ec.message() + ")");
      }
      return Fail(ex, FailureStage::kRead, "receiving from " + where + " failed: " + ec.message());
    }
    auto message = ex->parser->release();
    Response response;
    response.status = message.result_int();
    response.reason = std::string(message.reason());
    for (const auto& field : message) response.headers.emplace_back(field.name_string(), field.value());
    response.body = std::move(message.body());
    if (Status s = DecodeContentEncoding(response, options_.max_response_bytes); !s.ok()) {
      auto stage = s.code() == Code::kResourceExhausted ? FailureStage::kTooLarge : FailureStage::kProtocol;
      return Fail(ex, stage, "response from " + where + " " + s.message());
    }
    if (message.keep_alive()) {
      conn->last_used = std::chrono::steady_clock::now();
    } else {
      conn->Close();
    }
    if (ShouldLog(spdlog::level::debug)) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - ex->started);
      Log(spdlog::level::debug, std::string(ex->wire.method_string()) + " " + base_url_ + ex->request.target + " -> " +
                                    std::to_string(response.status) + " " + response.reason + " (" +
                                    std::to_string(response.body.size()) + " bytes in " + std::to_string(ms.count()) +
                                    " ms" + (ex->outcome.reused_connection ? ", reused connection" : "") + ")");
    }
    ex->outcome.response = std::move(response);
    ex->outcome.verified_tls = conn->verified;
    if (conn->verified) {
      ex->outcome.peer_certificate = conn->peer;
      ex->outcome.tls_version = conn->tls_version;
    }
    Finish(ex);
  }

  void Fail(const std::shared_ptr<Exchange>& ex, FailureStage stage, std::string error) {
    DropConnection();
    ex->outcome.stage = stage;
    ex->outcome.error = std::move(error);
    ex->outcome.response.reset();
    Log(spdlog::level::debug, ex->request.method + " " + base_url_ + ex->request.target + " failed (" +
                                  FailureStageName(stage) + "): " + ex->outcome.error);
    Finish(ex);
  }

  void Finish(const std::shared_ptr<Exchange>& ex) {
    ++generation_;  // late handlers of this exchange (timer, resolver) are now stale
    resolve_timer_.cancel();
    if (!queue_.empty() && queue_.front() == ex) queue_.pop_front();
    busy_ = false;
    Complete(ex, std::move(ex->outcome));
    asio::post(io_, [self = shared_from_this()] { self->StartNext(); });
  }

  asio::io_context& io_;
  const ClientOptions options_;
  const Endpoint endpoint_;
  const std::optional<ProxySpec> proxy_;  // unset when direct (no proxy, or NO_PROXY matched)
  const std::shared_ptr<TlsContext> tls_context_;  // shared with the process's other clients
  std::shared_ptr<spdlog::logger> log_;
  std::string base_url_;
  std::string proxy_authorization_;  // a secret: never logged

  tcp::resolver resolver_;
  asio::steady_timer resolve_timer_;
  std::shared_ptr<Connection> conn_;
  std::deque<std::shared_ptr<Exchange>> queue_;  // front: in flight when busy_
  uint64_t generation_ = 0;                      // handlers from an older generation do nothing
  bool busy_ = false;
  bool closed_ = false;
  bool drop_callbacks_ = false;
};

Result<std::unique_ptr<Client>> Client::Create(asio::io_context& io, ClientOptions options,
                                               std::shared_ptr<spdlog::logger> logger) {
  std::shared_ptr<TlsContext> tls_context;
  auto endpoint = ParseBaseUrl(options.base_url);
  if (endpoint.ok() && endpoint->tls()) {
    auto made = TlsContext::Create(options);
    if (!made.ok()) return made.status();
    tls_context = std::move(*made);
  }
  return Create(io, std::move(options), std::move(tls_context), std::move(logger));
}

Result<std::unique_ptr<Client>> Client::Create(asio::io_context& io, ClientOptions options,
                                               std::shared_ptr<TlsContext> tls_context,
                                               std::shared_ptr<spdlog::logger> logger) {
  auto endpoint = ParseBaseUrl(options.base_url);
  if (!endpoint.ok()) return endpoint.status();
  if (!endpoint->tls() && !options.allow_insecure_http && !IsLoopbackHost(endpoint->host)) {
    return InvalidArgument("refusing plain http:// to " + endpoint->host +
                           ": use https:// (http is allowed only to loopback unless allow_insecure_http)");
  }
  std::optional<ProxySpec> proxy;
  if (!options.proxy.empty() && !NoProxyMatches(endpoint->host, endpoint->port, options.no_proxy)) {
    auto parsed = ParseProxyUrl(options.proxy);
    if (!parsed.ok()) return parsed.status();
    proxy = std::move(*parsed);
  }
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0) {
    return InvalidArgument("connect and request timeouts must be positive");
  }
  if (endpoint->tls()) {
    if (!tls_context) return InvalidArgument("an https:// client needs a TLS context");
    if (!tls_context->Matches(options)) {
      return InvalidArgument("the shared TLS context was made for another ca_file or client certificate");
    }
  }
  auto impl = std::make_shared<Impl>(io, std::move(options), std::move(*endpoint), std::move(proxy),
                                     std::move(tls_context), std::move(logger));
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() { impl_->Close(/*drop_callbacks=*/true); }

void Client::Send(Request request, std::function<void(Outcome)> done) {
  impl_->Send(std::move(request), std::move(done));
}

void Client::Close() { impl_->Close(/*drop_callbacks=*/false); }

const std::string& Client::base_url() const { return impl_->base_url(); }

Result<Outcome> SendBlocking(const ClientOptions& options, Request request, std::shared_ptr<spdlog::logger> logger) {
  return SendBlocking(options, nullptr, std::move(request), std::move(logger));
}

Result<Outcome> SendBlocking(const ClientOptions& options, std::shared_ptr<TlsContext> tls_context, Request request,
                             std::shared_ptr<spdlog::logger> logger) {
  asio::io_context io;
  auto client = tls_context ? Client::Create(io, options, std::move(tls_context), std::move(logger))
                            : Client::Create(io, options, std::move(logger));
  if (!client.ok()) return client.status();
  Outcome outcome = Failure(FailureStage::kClosed, "no answer");
  (*client)->Send(std::move(request), [&outcome](Outcome o) { outcome = std::move(o); });
  io.run();  // ends when the request is complete: every step has a deadline
  return outcome;
}

}  // namespace opescare::http
