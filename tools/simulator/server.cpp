// The simulator's listeners, the outage window and clean shutdown; the sessions are in server_session.cpp.
#include "tools/simulator/server.h"

#include <openssl/ssl.h>

#include <boost/asio/ip/address.hpp>

#include "tools/simulator/server_internal.h"

namespace opescare::simulator {
namespace internal {

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
  Track(StartSession(*this, l.kind, std::move(socket)));
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

}  // namespace internal

Result<std::unique_ptr<Server>> Server::Create(SimCore& core, const ServerOptions& options,
                                               std::shared_ptr<spdlog::logger> log) {
  auto server = std::make_unique<internal::ServerImpl>(core, options, std::move(log));
  if (Status s = server->Init(); !s.ok()) return s;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace opescare::simulator
