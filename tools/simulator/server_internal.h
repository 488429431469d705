// Internal to the simulator's server: the listener side (ServerImpl, server.cpp) and the sessions
// (server_session.cpp), one Beast session object per connection.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <csignal>
#include <memory>
#include <vector>

#include "tools/simulator/server.h"

namespace opescare::simulator::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
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

// A new session for an accepted connection, started (TLS handshake first on the HTTPS listener).
std::shared_ptr<SessionBase> StartSession(ServerImpl& server, ListenerKind kind, tcp::socket socket);

}  // namespace opescare::simulator::internal
