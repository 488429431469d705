// Internal to agent/http: one TCP (+TLS) connection to the client's server, a session in the shape of
// Beast's async-ssl client example: resolve -> connect -> [proxy CONNECT] -> [TLS handshake + verification]
// -> write -> read, one handler per step, a deadline before every step. It owns its stream, and its
// handlers keep it alive (shared_from_this); one request at a time, kept alive for the next while the server
// allows. Once it fails or is stopped it is done: a resend goes over a new Connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <functional>
#include <memory>
#include <optional>

#include "agent/http/client_context.h"
#include "agent/http/io_errors.h"
#include "agent/http/lookup.h"
#include "agent/http/tls.h"

namespace opescare::http::internal {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // resend: the request was not answered because the server had closed this kept-alive connection; it may be
  // sent again once on a new connection. Otherwise ex->outcome is final (a response, or a failure).
  using Done = std::function<void(std::shared_ptr<Connection>, std::shared_ptr<Exchange>, bool resend)>;

  explicit Connection(std::shared_ptr<const ClientContext> ctx);

  // Sends ex, connecting first unless the connection is open. done runs exactly once, on the io thread,
  // unless Stop() comes first; it may run inside Run() (a failure before any I/O).
  void Run(std::shared_ptr<Exchange> ex, Done done);

  // Open, idle within idle_timeout at `now`, and the server has neither closed it nor written to it.
  bool Reusable(SteadyTime now);
  bool busy() const { return ex_ != nullptr; }
  bool open() const { return open_; }

  // Closes the stream and cancels its steps; returns the request in flight, which gets no completion from
  // this connection. Idempotent.
  std::shared_ptr<Exchange> Stop();

 private:
  boost::beast::tcp_stream& lowest();
  void Connect();
  void OnResolved(const Lookup::Results& results);
  void OnConnectFailed(const boost::system::error_code& ec);
  void ProxyConnect();
  void OnProxyFailed(const boost::system::error_code& ec, const std::string& when);
  void OnProxyAnswer();
  void AfterTunnel();
  void Handshake();
  void ApplyTimeFloor(SSL* ssl);
  void OnHandshake(const boost::system::error_code& ec);
  void Write();
  void OnWrite(const boost::system::error_code& ec);
  void WatchSent();  // runs on_sent_ once the request counts as sent (send_drain.h)
  void OnRead(const boost::system::error_code& ec);
  bool TakeResponse();  // false when it failed the exchange (a bad Content-Encoding)
  IoFacts Facts() const;
  void Fail(FailureStage stage, std::string error);
  void Resend(const boost::system::error_code& ec);
  void Finish(bool resend);
  template <typename Fn>
  void WithStream(Fn&& fn);

  std::shared_ptr<const ClientContext> ctx_;
  std::optional<boost::beast::tcp_stream> tcp_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;
  Lookup lookup_;  // the name lookup under way (Connect); no Asio resolver, whose thread would stay idle
  boost::asio::steady_timer resolve_timer_;
  boost::asio::steady_timer sent_timer_;  // WatchSent's next look at the backlog
  std::function<void()> on_sent_;         // the request's on_sent, from its write until it counts as sent
  bool resolving_ = false;
  boost::beast::http::request<boost::beast::http::empty_body> connect_request_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::empty_body>> connect_parser_;
  VerifyFailure verify_failure_;
  bool open_ = false;      // connected (and verified) and usable for the next request
  bool verified_ = false;  // TLS with a verified peer: what its responses' Outcome says
  bool stopped_ = false;   // failed or stopped: every late handler returns at once
  std::optional<PeerCertificate> peer_;
  std::string tls_version_;
  SteadyTime last_used_{};
  std::shared_ptr<Exchange> ex_;  // the request in flight; null when idle
  Done done_;
};

}  // namespace opescare::http::internal
