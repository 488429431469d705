// Beast sessions (plain and TLS), listeners, the outage window and clean shutdown for the simulator.
#include "tools/simulator/server.h"

#include <openssl/ssl.h>
#include <spdlog/logger.h>

#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <csignal>
#include <optional>
#include <vector>

#include "tools/simulator/wire_text.h"

namespace opescare::simulator {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

enum class ListenerKind { kHttps, kHttp, kAdmin };

class ServerImpl;

// What the server needs from any session: a way to kill it (outage, shutdown).
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  virtual void Abort() = 0;
  virtual bool bridge() const = 0;  // on a bridge listener (an outage kills it), not the admin one
};

class ServerImpl final : public Server {
 public:
  ServerImpl(SimCore& core, const ServerOptions& options, std::shared_ptr<spdlog::logger> log)
      : core_(core), options_(options), log_(std::move(log)) {}

  Status Init();
  BoundPorts ports() const override { return ports_; }
  void Run() override;

  // Called after every request: an admin request may have started or ended an outage.
  void SyncOutage();

  SimCore& core() { return core_; }
  const ServerOptions& options() const { return options_; }
  spdlog::logger& log() { return *log_; }
  ssl::context& ssl_context() { return ssl_ctx_; }

 private:
  struct Listener {
    ListenerKind kind;
    tcp::endpoint endpoint;  // the bound port, reused when reopening after an outage
    std::unique_ptr<tcp::acceptor> acceptor;
  };

  Status InitTls();
  Status Open(Listener& l);
  void Accept(Listener& l);
  void OnAccept(Listener& l, beast::error_code ec, tcp::socket socket);
  void Track(const std::shared_ptr<SessionBase>& session);
  void AbortSessions(bool bridge_only);
  void Stop();

  SimCore& core_;
  ServerOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  asio::io_context ioc_{1};
  ssl::context ssl_ctx_{ssl::context::tls_server};
  std::vector<Listener> listeners_;
  BoundPorts ports_;
  std::vector<std::weak_ptr<SessionBase>> sessions_;
  size_t prune_at_ = 64;
  bool bridge_listeners_open_ = true;
  bool stopping_ = false;
  asio::steady_timer outage_timer_{ioc_};
  std::chrono::steady_clock::time_point outage_timer_at_{};
  asio::signal_set signals_{ioc_, SIGINT, SIGTERM};
};

// One connection: read a request, ask the core, act on its reply (answer, delay, drop, garbage, hang).
template <class Derived>
class HttpSession : public SessionBase {
 public:
  HttpSession(ServerImpl& server, bool tls, bool admin) : server_(server), tls_(tls), admin_(admin) {}
  bool bridge() const override { return !admin_; }

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }
  std::shared_ptr<Derived> self() { return std::static_pointer_cast<Derived>(this->shared_from_this()); }
  auto& lowest() { return beast::get_lowest_layer(derived().stream()); }

  void DoRead() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options().max_header_bytes));
    parser_->body_limit(server_.options().max_body_bytes);
    lowest().expires_after(server_.options().read_timeout);
    http::async_read(derived().stream(), buffer_, *parser_,
                     [self = self()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return derived().DoClose();
    if (ec == http::error::body_limit) {
      return Respond(server_.core().RejectUnreadable(413, "payload_too_large", "the request body is too large"), false);
    }
    if (ec == http::error::header_limit) {
      return Respond(
          server_.core().RejectUnreadable(431, "request_header_fields_too_large", "the request header is too large"),
          false);
    }
    if (ec) {
      if (ec != asio::error::operation_aborted) server_.log().debug("read: {}", ec.message());
      return;  // timeouts, resets: the connection simply ends
    }
    http::request<http::string_body>& msg = parser_->get();
    SimRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.headers.reserve(16);
    for (const auto& field : msg) req.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    req.body = std::move(msg.body());
    req.tls = tls_;
    req.admin_listener = admin_;
    req.received = std::chrono::system_clock::now();
    const bool keep_alive = msg.keep_alive();
    SimReply reply = server_.core().Handle(req);
    server_.SyncOutage();
    if (reply.delay.count() > 0) {
      if (!timer_) timer_.emplace(derived().stream().get_executor());
      timer_->expires_after(reply.delay);
      timer_->async_wait([self = self(), reply = std::move(reply), keep_alive](beast::error_code wait_ec) mutable {
        if (!wait_ec) self->Act(std::move(reply), keep_alive);
      });
      return;
    }
    Act(std::move(reply), keep_alive);
  }

  void Act(SimReply reply, bool keep_alive) {
    switch (reply.action) {
      case ReplyAction::kRespond:
        return Respond(std::move(reply), keep_alive);
      case ReplyAction::kDrop:
        return Reset();
      case ReplyAction::kGarbage:
        return WriteGarbage();
      case ReplyAction::kHang:
        return Hang();
      case ReplyAction::kTruncate:
        return WriteTruncated(std::move(reply));
    }
  }

  // A response that promises its whole body but stops halfway, then a reset: "connection reset mid-response".
  void WriteTruncated(SimReply reply) {
    raw_ = "HTTP/1.1 " + std::to_string(reply.status) + " " +
           std::string(http::obsolete_reason(static_cast<http::status>(reply.status))) +
           "\r\nServer: opescare-simulator\r\nDate: " + FormatHttpDate(server_.core().SimNow()) +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(reply.body.size()) + "\r\n";
    for (const HeaderField& h : reply.headers) raw_ += h.name + ": " + h.value + "\r\n";
    raw_ += "\r\n";
    raw_.append(reply.body, 0, reply.body.size() / 2);
    lowest().expires_after(server_.options().write_timeout);
    asio::async_write(derived().stream(), asio::buffer(raw_), [self = self()](beast::error_code ec, size_t) {
      if (ec) return self->Reset();
      // Let the partial response reach the client before the reset, so it sees both.
      if (!self->timer_) self->timer_.emplace(self->derived().stream().get_executor());
      self->timer_->expires_after(std::chrono::milliseconds(100));
      self->timer_->async_wait([self](beast::error_code) { self->Reset(); });
    });
  }

  void Respond(SimReply reply, bool keep_alive) {
    response_.emplace();
    response_->result(static_cast<unsigned>(reply.status));
    response_->version(11);
    response_->set(http::field::server, "opescare-simulator/" OB_VERSION);
    response_->set(http::field::date, FormatHttpDate(server_.core().SimNow()));
    response_->set(http::field::content_type, "application/json");
    for (const HeaderField& h : reply.headers) response_->set(h.name, h.value);
    response_->body() = std::move(reply.body);
    response_->keep_alive(keep_alive && !reply.close);
    response_->prepare_payload();
    lowest().expires_after(server_.options().write_timeout);
    http::async_write(derived().stream(), *response_,
                      [self = self()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    if (ec) return;
    bool keep_alive = response_->keep_alive();
    response_.reset();
    if (!keep_alive) return derived().DoClose();
    DoRead();
  }

  // Bytes no HTTP parser accepts, then the end of the stream.
  void WriteGarbage() {
    static constexpr char kGarbage[] = "\x16\x03\x01 NOT-HTTP \x00\xff\xfe garbage from opescare-simulator\r\n\r\n";
    lowest().expires_after(server_.options().write_timeout);
    asio::async_write(derived().stream(), asio::buffer(kGarbage, sizeof kGarbage - 1),
                      [self = self()](beast::error_code ec, size_t) {
                        beast::error_code ignored;
                        if (ec) return self->Reset();
                        self->lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
                      });
  }

  // Never answers; reads (and discards) until the client gives up or the simulator stops.
  void Hang() {
    lowest().expires_never();
    derived().stream().async_read_some(asio::buffer(hang_buffer_), [self = self()](beast::error_code ec, size_t) {
      if (!ec) self->Hang();
    });
  }

  // Closes with a TCP reset (SO_LINGER 0): the client sees the connection die without an answer.
  void Reset() {
    beast::error_code ignored;
    lowest().socket().set_option(tcp::socket::linger(true, 0), ignored);
    lowest().socket().close(ignored);
    if (timer_) timer_->cancel();
  }

 public:
  void Abort() override { Reset(); }

 protected:
  ServerImpl& server_;
  const bool tls_;
  const bool admin_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::optional<asio::steady_timer> timer_;
  std::array<char, 512> hang_buffer_{};
  std::string raw_;  // bytes written outside Beast's serializer (truncated responses)
};

class PlainSession final : public HttpSession<PlainSession> {
 public:
  PlainSession(ServerImpl& server, tcp::socket socket, bool admin)
      : HttpSession(server, false, admin), stream_(std::move(socket)) {}
  beast::tcp_stream& stream() { return stream_; }
  void Start() { DoRead(); }
  void DoClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

 private:
  beast::tcp_stream stream_;
};

class TlsSession final : public HttpSession<TlsSession> {
 public:
  TlsSession(ServerImpl& server, tcp::socket socket)
      : HttpSession(server, true, false), stream_(std::move(socket), server.ssl_context()) {}
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }

  void Start() {
    beast::get_lowest_layer(stream_).expires_after(server_.options().handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server, [self = self()](beast::error_code ec) {
      self->server_.core().OnTlsHandshake(!ec);
      if (ec) {
        self->server_.log().info("TLS handshake failed: {}", ec.message());
        return;
      }
      self->DoRead();
    });
  }

  void DoClose() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = self()](beast::error_code) { self->Reset(); });
  }

 private:
  beast::ssl_stream<beast::tcp_stream> stream_;
};

int TlsVersion(const std::string& v) {
  if (v == "1.0") return TLS1_VERSION;
  if (v == "1.1") return TLS1_1_VERSION;
  if (v == "1.2") return TLS1_2_VERSION;
  if (v == "1.3") return TLS1_3_VERSION;
  return -1;
}

Status ServerImpl::InitTls() {
  SSL_CTX* ctx = ssl_ctx_.native_handle();
  ssl_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::single_dh_use);
  int min = TlsVersion(options_.tls_min_version);
  int max = options_.tls_max_version.empty() ? 0 : TlsVersion(options_.tls_max_version);
  if (min < 0 || max < 0) return InvalidArgument("TLS versions are 1.0, 1.1, 1.2 or 1.3");
  if (max != 0 && max < min) min = max;
  if (min < TLS1_2_VERSION) {
    // Only for tests that check the agent refuses old TLS: OpenSSL 3 disables it at the default level.
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
  }
  SSL_CTX_set_min_proto_version(ctx, min);
  if (max != 0) SSL_CTX_set_max_proto_version(ctx, max);
  beast::error_code ec;
  if (!options_.cert_file.empty()) {
    ssl_ctx_.use_certificate_chain_file(options_.cert_file, ec);
    if (!ec) ssl_ctx_.use_private_key_file(options_.key_file, ssl::context::pem, ec);
  } else {
    ssl_ctx_.use_certificate_chain(asio::buffer(options_.cert_pem), ec);
    if (!ec) ssl_ctx_.use_private_key(asio::buffer(options_.key_pem), ssl::context::pem, ec);
  }
  if (ec) return InvalidArgument("cannot load the TLS certificate or key: " + ec.message());
  return Status::Ok();
}

Status ServerImpl::Open(Listener& l) {
  beast::error_code ec;
  auto acceptor = std::make_unique<tcp::acceptor>(ioc_);
  acceptor->open(l.endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(l.endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen on port " + std::to_string(l.endpoint.port()) + ": " + ec.message());
  l.endpoint = acceptor->local_endpoint();
  l.acceptor = std::move(acceptor);
  Accept(l);
  return Status::Ok();
}

Status ServerImpl::Init() {
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(options_.bind_address, ec);
  if (ec || !address.is_loopback()) {
    return InvalidArgument("--bind must be a loopback address (127.0.0.1 or ::1), not " + options_.bind_address);
  }
  if (options_.https_port >= 0) {
    if (Status s = InitTls(); !s.ok()) return s;
  }
  const std::pair<ListenerKind, int> wanted[] = {{ListenerKind::kHttps, options_.https_port},
                                                 {ListenerKind::kHttp, options_.http_port},
                                                 {ListenerKind::kAdmin, options_.admin_port}};
  listeners_.reserve(3);  // Accept() holds references: no reallocation after this
  for (const auto& [kind, port] : wanted) {
    if (port < 0) continue;
    Listener& l = listeners_.emplace_back(Listener{kind, tcp::endpoint(address, static_cast<uint16_t>(port)), nullptr});
    if (Status s = Open(l); !s.ok()) return s;
    int bound = l.endpoint.port();
    (kind == ListenerKind::kHttps ? ports_.https : kind == ListenerKind::kHttp ? ports_.http : ports_.admin) = bound;
  }
  signals_.async_wait([this](beast::error_code ec, int signo) {
    if (ec) return;
    log_->info("signal {}: stopping", signo);
    Stop();
  });
  return Status::Ok();
}

void ServerImpl::Accept(Listener& l) {
  l.acceptor->async_accept(
      [this, &l](beast::error_code ec, tcp::socket socket) { OnAccept(l, ec, std::move(socket)); });
}

void ServerImpl::OnAccept(Listener& l, beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !l.acceptor || !l.acceptor->is_open()) return;
  if (ec) {
    log_->warn("accept: {}", ec.message());
    return Accept(l);
  }
  core_.OnConnection();
  beast::error_code ignored;
  if (l.kind != ListenerKind::kAdmin && core_.faults().InOutage(std::chrono::steady_clock::now())) {
    core_.OnOutageDrop();
    socket.set_option(tcp::socket::linger(true, 0), ignored);
    socket.close(ignored);
    return Accept(l);
  }
  socket.set_option(tcp::no_delay(true), ignored);
  if (l.kind == ListenerKind::kHttps) {
    auto session = std::make_shared<TlsSession>(*this, std::move(socket));
    Track(session);
    session->Start();
  } else {
    auto session = std::make_shared<PlainSession>(*this, std::move(socket), l.kind == ListenerKind::kAdmin);
    Track(session);
    session->Start();
  }
  Accept(l);
}

void ServerImpl::Track(const std::shared_ptr<SessionBase>& session) {
  if (sessions_.size() >= prune_at_) {
    std::erase_if(sessions_, [](const std::weak_ptr<SessionBase>& w) { return w.expired(); });
    prune_at_ = std::max<size_t>(64, sessions_.size() * 2);
  }
  sessions_.push_back(session);
}

void ServerImpl::AbortSessions(bool bridge_only) {
  for (const std::weak_ptr<SessionBase>& w : sessions_) {
    if (std::shared_ptr<SessionBase> s = w.lock(); s && (!bridge_only || s->bridge())) s->Abort();
  }
}

void ServerImpl::SyncOutage() {
  if (stopping_) return;
  const Faults& f = core_.faults();
  const auto now = std::chrono::steady_clock::now();
  const bool down = f.InOutage(now) && f.outage_refuse;
  if (down && bridge_listeners_open_) {
    log_->info("outage: bridge listeners closed for {:.1f} s",
               std::chrono::duration<double>(f.outage_until - now).count());
    for (Listener& l : listeners_) {
      if (l.kind != ListenerKind::kAdmin && l.acceptor) l.acceptor.reset();
    }
    AbortSessions(true);
    bridge_listeners_open_ = false;
  } else if (!down && !bridge_listeners_open_) {
    bool all_open = true;
    for (Listener& l : listeners_) {
      if (l.kind == ListenerKind::kAdmin || l.acceptor) continue;
      if (Status s = Open(l); !s.ok()) {
        log_->error("outage over, but {}; retrying", s.message());
        all_open = false;
      }
    }
    if (all_open) {
      bridge_listeners_open_ = true;
      log_->info("outage over: bridge listeners open again");
    } else {
      outage_timer_at_ = now + std::chrono::milliseconds(200);
      outage_timer_.expires_at(outage_timer_at_);
      outage_timer_.async_wait([this](beast::error_code ec) {
        if (!ec) SyncOutage();
      });
      return;
    }
  } else if (f.InOutage(now) && !f.outage_refuse && outage_timer_at_ != f.outage_until) {
    AbortSessions(true);  // "close" mode: keep listening, but live keep-alive connections die too
  }
  if (f.InOutage(now) && outage_timer_at_ != f.outage_until) {
    outage_timer_at_ = f.outage_until;
    outage_timer_.expires_at(f.outage_until);
    outage_timer_.async_wait([this](beast::error_code ec) {
      if (!ec) SyncOutage();
    });
  }
}

void ServerImpl::Stop() {
  stopping_ = true;
  for (Listener& l : listeners_) l.acceptor.reset();
  outage_timer_.cancel();
  AbortSessions(false);
}

void ServerImpl::Run() {
  ioc_.run();
  log_->info("stopped");
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(SimCore& core, const ServerOptions& options,
                                               std::shared_ptr<spdlog::logger> log) {
  auto server = std::make_unique<ServerImpl>(core, options, std::move(log));
  if (Status s = server->Init(); !s.ok()) return s;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace opescare::simulator
