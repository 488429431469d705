// A Connection's steps other than TLS (connection_tls.cpp): resolve, connect, proxy CONNECT, write, read.
#include "agent/http/connection.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "agent/env/socket_tuning.h"
#include "agent/http/content_coding.h"
#include "agent/http/io_errors.h"
#include "agent/http/send_drain.h"
#include "agent/http/tls_context.h"

namespace opescare::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

Connection::Connection(std::shared_ptr<const ClientContext> ctx)
    : ctx_(std::move(ctx)), resolve_timer_(ctx_->io), sent_timer_(ctx_->io) {
  if (ctx_->endpoint.tls()) {
    tls_.emplace(ctx_->io, ctx_->tls_context->native());
  } else {
    tcp_.emplace(ctx_->io);
  }
}

beast::tcp_stream& Connection::lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *tcp_; }

template <typename Fn>
void Connection::WithStream(Fn&& fn) {
  if (tls_) {
    fn(*tls_);
  } else {
    fn(*tcp_);
  }
}

void Connection::Run(std::shared_ptr<Exchange> ex, Done done) {
  ex_ = std::move(ex);
  done_ = std::move(done);
  if (stopped_) return Fail(FailureStage::kClosed, "the HTTP client was closed");
  if (open_) {
    ex_->outcome.reused_connection = true;
    return Write();
  }
  Connect();
}

// A kept-alive connection the server closed (or wrote to) while idle must not carry the next request.
bool Connection::Reusable(SteadyTime now) {
  if (stopped_ || !open_ || busy() || now - last_used_ >= ctx_->options.idle_timeout) return false;
  auto& socket = lowest().socket();
  if (!socket.is_open() || buffer_.size() != 0) return false;
  error_code ec;
  char byte;
  socket.non_blocking(true, ec);
  socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
  error_code ignored;
  socket.non_blocking(false, ignored);
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

std::shared_ptr<Exchange> Connection::Stop() {
  auto keep = shared_from_this();  // the cancelled lookup's handler may hold the last other reference
  stopped_ = true;
  open_ = false;
  lookup_.Cancel();
  resolve_timer_.cancel();
  sent_timer_.cancel();
  on_sent_ = nullptr;
  error_code ignored;
  lowest().socket().close(ignored);
  done_ = nullptr;
  return std::move(ex_);
}

void Connection::Connect() {
  auto& ex = *ex_;
  const auto& proxy = ctx_->proxy;
  ex.connect_deadline = std::min(ex.deadline, std::chrono::steady_clock::now() + ctx_->options.connect_timeout);
  std::string host = proxy ? proxy->host : ctx_->endpoint.host;
  uint16_t port = proxy ? proxy->port : ctx_->endpoint.port;
  if (ctx_->ShouldLog(spdlog::level::trace)) {
    ctx_->Log(spdlog::level::trace, "resolving " + host + (proxy ? " (proxy)" : ""));
  }
  resolving_ = true;
  resolve_timer_.expires_at(ex.connect_deadline);
  resolve_timer_.async_wait([self = shared_from_this(), host](error_code ec) {
    if (ec || self->stopped_ || !self->resolving_) return;
    self->resolving_ = false;
    self->Fail(FailureStage::kTimeout,
               "resolving " + host + " did not finish within " + Seconds(self->ctx_->options.connect_timeout));
  });
  lookup_ = Lookup::Start(ctx_->io, host, std::to_string(port),
                          [self = shared_from_this(), host](const error_code& ec, const Lookup::Results& r) {
                            if (self->stopped_ || !self->resolving_) return;
                            self->resolving_ = false;
                            self->resolve_timer_.cancel();
                            if (ec) {
                              return self->Fail(FailureStage::kDns, std::string("cannot resolve ") +
                                                                        (self->ctx_->proxy ? "proxy " : "") + host +
                                                                        ": " + ec.message());
                            }
                            self->OnResolved(r);
                          });
}

void Connection::OnResolved(const Lookup::Results& results) {
  lowest().expires_at(ex_->connect_deadline);
  lowest().async_connect(results, [self = shared_from_this()](error_code ec, const tcp::endpoint& ep) {
    if (self->stopped_) return;
    if (ec) return self->OnConnectFailed(ec);
    // Requests go out in a few writes (TLS records, header then body): without TCP_NODELAY, Nagle's algorithm
    // against the server's delayed ACK holds the last piece ~40 ms, which caps delivery at ~25 batches/s.
    error_code nodelay_ec;
    self->lowest().socket().set_option(tcp::no_delay(true), nodelay_ec);
    if (int bound = self->ctx_->options.sent_backlog_bytes; bound > 0)
      env::SetUnsentLowWater(static_cast<std::intptr_t>(self->lowest().socket().native_handle()), bound);
    if (self->ctx_->ShouldLog(spdlog::level::trace)) {
      self->ctx_->Log(spdlog::level::trace,
                      "connected to " + ep.address().to_string() + ":" + std::to_string(ep.port()));
    }
    if (self->ctx_->proxy) return self->ProxyConnect();
    self->AfterTunnel();
  });
}

void Connection::OnConnectFailed(const error_code& ec) {
  const auto& proxy = ctx_->proxy;
  std::string what = proxy ? "proxy " + proxy->HostPort() : ctx_->endpoint.HostPort();
  if (ec == beast::error::timeout) {
    return Fail(FailureStage::kTimeout,
                "connecting to " + what + " did not finish within " + Seconds(ctx_->options.connect_timeout));
  }
  if (proxy) {
    std::string reason =
        ec == asio::error::connection_refused ? "refused the connection" : "is unreachable: " + ec.message();
    return Fail(FailureStage::kProxy, what + " " + reason);
  }
  Fail(FailureStage::kConnect, "cannot connect to " + what + ": " + ec.message());
}

void Connection::ProxyConnect() {
  const std::string target = ctx_->endpoint.HostPort();
  auto& req = connect_request_;
  req = {};
  req.method(bhttp::verb::connect);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, target);
  if (!ctx_->options.user_agent.empty()) req.set(bhttp::field::user_agent, ctx_->options.user_agent);
  if (!ctx_->proxy_authorization.empty()) req.set(bhttp::field::proxy_authorization, ctx_->proxy_authorization);
  if (ctx_->ShouldLog(spdlog::level::trace)) {
    ctx_->Log(spdlog::level::trace, "CONNECT " + target + " via proxy " + ctx_->proxy->HostPort() +
                                        (ctx_->proxy_authorization.empty() ? "" : " (Proxy-Authorization: ***)"));
  }
  lowest().expires_at(ex_->connect_deadline);
  bhttp::async_write(lowest(), req, [self = shared_from_this()](error_code ec, size_t) {
    if (self->stopped_) return;
    if (ec) return self->OnProxyFailed(ec, "while sending CONNECT");
    self->connect_parser_.emplace();
    self->connect_parser_->skip(true);  // a CONNECT answer has no body: the tunnel follows
    self->connect_parser_->header_limit(16 * 1024);
    bhttp::async_read_header(self->lowest(), self->buffer_, *self->connect_parser_, [self](error_code ec, size_t) {
      if (self->stopped_) return;
      if (ec) return self->OnProxyFailed(ec, "while reading its CONNECT answer");
      self->OnProxyAnswer();
    });
  });
}

void Connection::OnProxyFailed(const error_code& ec, const std::string& when) {
  std::string what = "proxy " + ctx_->proxy->HostPort();
  if (ec == beast::error::timeout) {
    return Fail(FailureStage::kTimeout,
                what + " did not complete CONNECT within " + Seconds(ctx_->options.connect_timeout));
  }
  Fail(FailureStage::kProxy, what + " failed " + when + ": " + ec.message());
}

void Connection::OnProxyAnswer() {
  const auto& answer = connect_parser_->get();
  const std::string proxy = ctx_->proxy->HostPort();
  int status = answer.result_int();
  if (status < 200 || status > 299) {
    // 407 is the standard answer; some proxies (tinyproxy) say 401 to a CONNECT.
    bool auth = status == 407 || status == 401;
    std::string hint = !auth                               ? ""
                       : ctx_->proxy_authorization.empty() ? " (the proxy needs a user:password in its URL)"
                                                           : " (the proxy refused the user:password in its URL)";
    return Fail(FailureStage::kProxy, "proxy " + proxy + " refused CONNECT to " + ctx_->endpoint.HostPort() + ": " +
                                          std::to_string(status) + " " + std::string(answer.reason()) + hint);
  }
  if (buffer_.size() != 0) {
    return Fail(FailureStage::kProxy, "proxy " + proxy + " sent unexpected bytes after its CONNECT answer");
  }
  AfterTunnel();
}

void Connection::AfterTunnel() {
  if (!tls_) {
    open_ = true;
    return Write();
  }
  Handshake();
}

namespace {
void LogRequestHeaders(const ClientContext& ctx, const Exchange& ex) {
  std::string text = std::string(ex.wire.method_string()) + " " + std::string(ex.wire.target());
  for (const auto& field : ex.wire) {
    std::string_view name = field.name_string();
    text += "\n  " + std::string(name) + ": " + (ctx.IsSecret(name) ? "***" : std::string(field.value()));
  }
  text += "\n  (" + std::to_string(ex.wire.body().size()) + " body bytes)";
  ctx.Log(spdlog::level::trace, text);
}
}  // namespace

void Connection::Write() {
  if (ctx_->ShouldLog(spdlog::level::trace)) LogRequestHeaders(*ctx_, *ex_);
  ex_->outcome.sent_at = ctx_->Now();
  lowest().expires_at(ex_->deadline);
  WithStream([&](auto& stream) {
    bhttp::async_write(stream, ex_->wire, [self = shared_from_this()](error_code ec, size_t) {
      if (self->stopped_) return;
      self->OnWrite(ec);
    });
  });
}

IoFacts Connection::Facts() const {
  IoFacts f;
  f.where = ctx_->endpoint.HostPort();
  f.may_resend = ex_->outcome.reused_connection && !ex_->retried;
  f.nothing_read = !(ex_->parser && ex_->parser->got_some()) && buffer_.size() == 0;
  f.request_timeout = ctx_->options.request_timeout;
  f.max_response_bytes = ctx_->options.max_response_bytes;
  f.max_header_bytes = ctx_->options.max_header_bytes;
  return f;
}

void Connection::OnWrite(const error_code& ec) {
  if (ec) {
    IoVerdict v = ClassifyWriteError(ec, Facts());
    return v.resend ? Resend(ec) : Fail(v.stage, std::move(v.error));
  }
  on_sent_ = std::move(ex_->request.on_sent);
  ex_->request.on_sent = nullptr;
  if (on_sent_) WatchSent();
  auto& parser = ex_->parser.emplace();
  parser.body_limit(ctx_->options.max_response_bytes);
  parser.header_limit(ctx_->options.max_header_bytes);
  if (ex_->wire.method() == bhttp::verb::head) parser.skip(true);  // a HEAD answer has no body
  WithStream([&](auto& stream) {
    bhttp::async_read(stream, buffer_, parser, [self = shared_from_this()](error_code ec, size_t) {
      if (self->stopped_) return;
      self->OnRead(ec);
    });
  });
}

void Connection::WatchSent() {
  auto& socket = lowest().socket();
  auto wait = SentWait(env::ReadTcpBacklog(static_cast<std::intptr_t>(socket.native_handle())),
                       ctx_->options.sent_backlog_bytes);
  if (!wait) {
    asio::post(ctx_->io, std::move(on_sent_));
    on_sent_ = nullptr;
    return;
  }
  sent_timer_.expires_after(*wait);
  sent_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->stopped_ || !self->on_sent_) return;
    self->WatchSent();
  });
}

void Connection::OnRead(const error_code& ec) {
  ex_->outcome.received_at = ctx_->Now();
  if (ec) {
    IoVerdict v = ClassifyReadError(ec, Facts());
    return v.resend ? Resend(ec) : Fail(v.stage, std::move(v.error));
  }
  if (TakeResponse()) Finish(false);
}

bool Connection::TakeResponse() {
  Exchange& ex = *ex_;
  auto message = ex.parser->release();
  Response response;
  response.status = message.result_int();
  response.reason = std::string(message.reason());
  for (const auto& field : message) response.headers.emplace_back(field.name_string(), field.value());
  response.body = std::move(message.body());
  if (Status s = DecodeContentEncoding(response, ctx_->options.max_response_bytes); !s.ok()) {
    auto stage = s.code() == Code::kResourceExhausted ? FailureStage::kTooLarge : FailureStage::kProtocol;
    Fail(stage, "response from " + ctx_->endpoint.HostPort() + " " + s.message());
    return false;
  }
  if (message.keep_alive() && ctx_->options.keep_alive) {
    last_used_ = std::chrono::steady_clock::now();
  } else {
    open_ = false;
    error_code ignored;
    lowest().socket().close(ignored);
  }
  if (ctx_->ShouldLog(spdlog::level::debug)) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - ex.started);
    ctx_->Log(spdlog::level::debug, std::string(ex.wire.method_string()) + " " + ctx_->base_url + ex.request.target +
                                        " -> " + std::to_string(response.status) + " " + response.reason + " (" +
                                        std::to_string(response.body.size()) + " bytes in " +
                                        std::to_string(ms.count()) + " ms" +
                                        (ex.outcome.reused_connection ? ", reused connection" : "") + ")");
  }
  ex.outcome.response = std::move(response);
  ex.outcome.verified_tls = verified_;
  if (verified_) {
    ex.outcome.peer_certificate = peer_;
    ex.outcome.tls_version = tls_version_;
  }
  return true;
}

void Connection::Fail(FailureStage stage, std::string error) {
  auto keep = shared_from_this();  // the cancelled lookup's handler may hold the last other reference
  open_ = false;
  stopped_ = true;
  lookup_.Cancel();
  resolve_timer_.cancel();
  error_code ignored;
  lowest().socket().close(ignored);
  MarkFailed(*ctx_, *ex_, stage, std::move(error));
  Finish(false);
}

void Connection::Resend(const error_code& ec) {
  ctx_->Log(spdlog::level::debug, "kept-alive connection to " + ctx_->endpoint.HostPort() +
                                      " was closed by the server (" + ec.message() +
                                      "); sending again on a new connection");
  stopped_ = true;
  open_ = false;
  error_code ignored;
  lowest().socket().close(ignored);
  Finish(true);
}

void Connection::Finish(bool resend) {
  sent_timer_.cancel();  // answered or failed: the outcome follows, on_sent is not needed
  on_sent_ = nullptr;
  auto done = std::move(done_);
  done_ = nullptr;
  auto ex = std::move(ex_);
  if (done) done(shared_from_this(), std::move(ex), resend);
}

}  // namespace opescare::http::internal
