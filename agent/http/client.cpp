// The HTTPS client's queue: requests wait in order and are handed to Connections (connection.h), one
// request at a time on each, up to max_connections at once.
#include "agent/http/client.h"

#include <spdlog/logger.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <deque>

#include "agent/http/client_context.h"
#include "agent/http/connection.h"
#include "agent/http/tls_context.h"
#include "agent/http/url.h"

namespace opescare::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using internal::ClientContext;
using internal::Connection;
using internal::EqualsIgnoreCase;
using internal::Exchange;
using internal::Failure;

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

// The request as it goes on the wire: method, base path + target, checked headers, Host, User-Agent.
Status BuildWireRequest(const ClientContext& ctx, Exchange& ex) {
  Request& r = ex.request;
  bhttp::verb verb = bhttp::string_to_verb(r.method);
  if (verb == bhttp::verb::unknown) return InvalidArgument("unknown HTTP method '" + r.method + "'");
  if (r.target.empty() || r.target.front() != '/' ||
      std::any_of(r.target.begin(), r.target.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f; })) {
    return InvalidArgument("request target must be an absolute path without spaces: '" + r.target + "'");
  }
  auto& w = ex.wire;
  w.method(verb);
  w.target(ctx.endpoint.base_path + r.target);
  w.version(11);
  bool has_user_agent = false;
  for (const auto& [name, value] : r.headers) {
    if (Status s = CheckHeader(name, value); !s.ok()) return s;
    if (ctx.IsSecret(name)) ex.carries_secret = true;
    if (EqualsIgnoreCase(name, "User-Agent")) has_user_agent = true;
    w.insert(name, value);
  }
  w.set(bhttp::field::host, ctx.endpoint.HostHeader());
  if (!has_user_agent && !ctx.options.user_agent.empty()) w.set(bhttp::field::user_agent, ctx.options.user_agent);
  if (r.gzip_body) w.set(bhttp::field::content_encoding, "gzip");
  if (r.accept_gzip) w.set(bhttp::field::accept_encoding, "gzip");
  if (!ctx.options.keep_alive) w.keep_alive(false);
  w.body() = std::move(r.body);
  w.prepare_payload();
  return Status::Ok();
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
    case FailureStage::kNone: return "none";
    case FailureStage::kDns: return "dns";
    case FailureStage::kConnect: return "connect";
    case FailureStage::kProxy: return "proxy";
    case FailureStage::kTlsHandshake: return "tls_handshake";
    case FailureStage::kTlsVerify: return "tls_verify";
    case FailureStage::kWrite: return "write";
    case FailureStage::kRead: return "read";
    case FailureStage::kTimeout: return "timeout";
    case FailureStage::kTooLarge: return "too_large";
    case FailureStage::kProtocol: return "protocol";
    case FailureStage::kInsecure: return "insecure";
    case FailureStage::kQueueFull: return "queue_full";
    case FailureStage::kClosed: return "closed";
  }
  return "unknown";
}

class Client::Impl : public std::enable_shared_from_this<Impl> {
 public:
  explicit Impl(std::shared_ptr<const ClientContext> ctx) : ctx_(std::move(ctx)), idle_timer_(ctx_->io) {}

  const std::string& base_url() const { return ctx_->base_url; }

  // Any thread: hands the request to the io thread.
  void Send(Request request, std::function<void(Outcome)> done) {
    auto ex = std::make_shared<Exchange>();
    ex->done = std::move(done);
    ex->request = std::move(request);
    asio::post(ctx_->io, [self = shared_from_this(), ex] { self->Enqueue(ex); });
  }

  void Close(bool drop_callbacks) {
    closed_ = true;
    drop_callbacks_ = drop_callbacks || drop_callbacks_;
    idle_timer_.cancel();
    std::vector<std::shared_ptr<Exchange>> pending;
    for (auto& conn : conns_) {
      if (auto ex = conn->Stop()) pending.push_back(std::move(ex));
    }
    conns_.clear();
    in_flight_ = 0;
    pending.insert(pending.end(), waiting_.begin(), waiting_.end());
    waiting_.clear();
    for (auto& ex : pending) Complete(ex, Failure(FailureStage::kClosed, "the HTTP client was closed"));
  }

 private:
  // Posts the completion: never run inside Send() or a caller's stack, never after the destructor.
  void Complete(const std::shared_ptr<Exchange>& ex, Outcome outcome) {
    asio::post(ctx_->io, [self = shared_from_this(), done = std::move(ex->done), o = std::move(outcome)]() mutable {
      if (!self->drop_callbacks_ && done) done(std::move(o));
    });
  }

  void Enqueue(std::shared_ptr<Exchange> ex) {
    if (closed_) return Complete(ex, Failure(FailureStage::kClosed, "the HTTP client was closed"));
    const size_t max_queued = ctx_->options.max_queued;
    if (waiting_.size() + (in_flight_ > 0 ? 1 : 0) > max_queued) {
      return Complete(ex, Failure(FailureStage::kQueueFull, "more than " + std::to_string(max_queued) +
                                                                " requests are waiting for " + ctx_->base_url));
    }
    waiting_.push_back(std::move(ex));
    Pump();
  }

  // Hands waiting requests, in order, to connections while fewer than max_connections are busy.
  void Pump() {
    while (!closed_ && !waiting_.empty() && in_flight_ < ctx_->options.max_connections) {
      auto ex = std::move(waiting_.front());
      waiting_.pop_front();
      Start(std::move(ex));
    }
  }

  void Start(std::shared_ptr<Exchange> ex) {
    ++in_flight_;
    ex->started = std::chrono::steady_clock::now();
    ex->deadline = ex->started + ctx_->options.request_timeout;
    if (Status s = BuildWireRequest(*ctx_, *ex); !s.ok()) return FailBeforeSending(ex, FailureStage::kProtocol, s.message());
    const auto& proxy = ctx_->proxy;
    if (ex->carries_secret && !SecretAllowedOn(ctx_->endpoint, proxy ? &*proxy : nullptr)) {
      return FailBeforeSending(ex, FailureStage::kInsecure,
                               "refusing to send a secret header over plain HTTP to " + ctx_->endpoint.HostPort() +
                                   (proxy ? " via proxy " + proxy->HostPort() : "") + "; use https://");
    }
    auto conn = PickConnection(ex->started);
    RunOn(conn, std::move(ex));
  }

  // An idle kept-alive connection that is still good, else a new one.
  std::shared_ptr<Connection> PickConnection(internal::SteadyTime now) {
    DropStale(now);
    for (const auto& c : conns_) {
      if (!c->busy()) return c;
    }
    conns_.push_back(std::make_shared<Connection>(ctx_));
    return conns_.back();
  }

  void RunOn(const std::shared_ptr<Connection>& conn, std::shared_ptr<Exchange> ex) {
    conn->Run(std::move(ex), [self = shared_from_this()](std::shared_ptr<Connection> c, std::shared_ptr<Exchange> e,
                                                          bool resend) { self->OnConnectionDone(c, e, resend); });
  }

  void OnConnectionDone(const std::shared_ptr<Connection>& conn, const std::shared_ptr<Exchange>& ex, bool resend) {
    if (!conn->open()) std::erase(conns_, conn);
    if (resend && !closed_) {
      ex->retried = true;
      ex->outcome.reused_connection = false;
      conns_.push_back(std::make_shared<Connection>(ctx_));
      return RunOn(conns_.back(), ex);
    }
    Done(ex);
  }

  // Closes idle connections that may no longer carry a request (idle_timeout passed, or the server closed
  // them), with their sockets and TLS buffers.
  void DropStale(internal::SteadyTime now) {
    std::erase_if(conns_, [now](const std::shared_ptr<Connection>& c) {
      if (c->busy() || c->Reusable(now)) return false;
      c->Stop();
      return true;
    });
  }

  // Drops the idle connections once idle_timeout has passed since the last request ended, not at the next
  // request: requests a minute apart (the heartbeat) would otherwise hold one the server closed long ago.
  void DropStaleLater() {
    if (closed_ || std::all_of(conns_.begin(), conns_.end(), [](const auto& c) { return c->busy(); })) return;
    idle_timer_.expires_after(ctx_->options.idle_timeout);
    idle_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_) return;
      self->DropStale(std::chrono::steady_clock::now());
    });
  }

  void FailBeforeSending(const std::shared_ptr<Exchange>& ex, FailureStage stage, std::string error) {
    internal::MarkFailed(*ctx_, *ex, stage, std::move(error));
    Done(ex);
  }

  void Done(const std::shared_ptr<Exchange>& ex) {
    --in_flight_;
    DropStaleLater();
    Complete(ex, std::move(ex->outcome));
    asio::post(ctx_->io, [self = shared_from_this()] { self->Pump(); });
  }

  const std::shared_ptr<const ClientContext> ctx_;
  std::deque<std::shared_ptr<Exchange>> waiting_;    // in Send() order
  std::vector<std::shared_ptr<Connection>> conns_;  // busy ones and idle kept-alive ones
  size_t in_flight_ = 0;                            // requests handed to a connection and not done
  asio::steady_timer idle_timer_;                   // DropStaleLater
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
  if (options.max_connections < 1 || options.max_connections > 64) {
    return InvalidArgument("max_connections must be 1..64, not " + std::to_string(options.max_connections));
  }
  if (endpoint->tls()) {
    if (!tls_context) return InvalidArgument("an https:// client needs a TLS context");
    if (!tls_context->Matches(options)) {
      return InvalidArgument("the shared TLS context was made for another ca_file or client certificate");
    }
  }
  auto ctx = std::make_shared<const ClientContext>(io, std::move(options), std::move(*endpoint), std::move(proxy),
                                                   std::move(tls_context), std::move(logger));
  return std::unique_ptr<Client>(new Client(std::make_shared<Impl>(std::move(ctx))));
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
  Client& c = **client;
  c.Send(std::move(request), [&outcome, &c](Outcome o) {
    outcome = std::move(o);
    c.Close();  // nothing more to send: no kept-alive connection or its idle timer keeps io.run() going
  });
  io.run();  // ends when the request is complete: every step has a deadline
  return outcome;
}

}  // namespace opescare::http
