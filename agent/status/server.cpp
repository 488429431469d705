// The status server's I/O: an acceptor and one Beast session per connection, Beast-example style, with the
// limits that keep slow or many clients from costing the agent anything. Answers come from Route().
#include "agent/status/server.h"

#include <spdlog/logger.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <list>
#include <optional>
#include <utility>

#include "agent/status/router.h"
#include "agent/util/clock.h"

namespace opescare::status {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// After a failed accept (e.g. out of file descriptors) wait this long before the next, instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetryDelay{200};

bool IsHttpParseError(const beast::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_method).category();
}

}  // namespace

class Session;

class detail::StatusServerCore : public std::enable_shared_from_this<detail::StatusServerCore> {
 public:
  StatusServerCore(asio::io_context& io, std::string listen, bool allow_remote, StatusServer::SnapshotProvider provider,
                   StatusServer::HealthProbe healthy, std::shared_ptr<spdlog::logger> logger, StatusServerLimits limits,
                   const Clock* clock)
      : listen_(std::move(listen)),
        allow_remote_(allow_remote),
        provider_(std::move(provider)),
        healthy_(std::move(healthy)),
        logger_(std::move(logger)),
        limits_(limits),
        clock_(clock),
        acceptor_(io),
        retry_timer_(io) {}

  Status Start();
  void Stop();
  Reply Answer(const Request& request);

  // Sessions register themselves, oldest activity first; the cap evicts from the front.
  std::list<Session*>::iterator Register(Session* session) { return sessions_.insert(sessions_.end(), session); }
  void Unregister(std::list<Session*>::iterator it) { sessions_.erase(it); }
  void Touch(std::list<Session*>::iterator it) { sessions_.splice(sessions_.end(), sessions_, it); }

  bool stopped() const { return stopped_; }
  const StatusServerLimits& limits() const { return limits_; }
  spdlog::logger* logger() const { return logger_.get(); }

  uint16_t port_ = 0;
  std::string url_;

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  bool MakeRoom();

  const std::string listen_;
  const bool allow_remote_;
  const StatusServer::SnapshotProvider provider_;
  const StatusServer::HealthProbe healthy_;
  const std::shared_ptr<spdlog::logger> logger_;
  const StatusServerLimits limits_;
  const Clock* const clock_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::list<Session*> sessions_;
  bool started_ = false;
  bool stopped_ = false;
};

// One connection: read a request, answer it, repeat while keep-alive, all under timeouts and size limits.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<detail::StatusServerCore> server)
      : stream_(std::move(socket)),
        buffer_(2 * server->limits().max_header_bytes),
        server_(std::move(server)),
        self_(server_->Register(this)) {}
  ~Session() { server_->Unregister(self_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() { Read(); }

  // Eviction and Stop(): the pending operation completes with an error and the session ends.
  void Close() {
    closing_ = true;
    stream_.close();
  }
  bool closing() const { return closing_; }
  // Waiting for (the rest of) a request: the kind of connection the cap may evict.
  bool reading() const { return reading_; }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->limits().max_header_bytes));
    parser_->body_limit(0);  // read-only server: a request has no body
    reading_ = true;
    stream_.expires_after(server_->limits().read_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t /*bytes*/) {
    reading_ = false;
    if (closing_ || server_->stopped()) return;
    if (ec == http::error::end_of_stream) return Shutdown();
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return WriteError(431, "request header fields too large\n");
    }
    if (ec == http::error::body_limit || ec == http::error::unexpected_body) {
      return WriteError(413, "a request to this server has no body\n");
    }
    if (ec && IsHttpParseError(ec)) return WriteError(400, "bad request\n");
    if (ec) return;  // timeout, reset, aborted: just close

    server_->Touch(self_);
    const auto& req = parser_->get();
    auto host = req.find(http::field::host);
    Request request{req.method_string(), req.target(),
                    host == req.end() ? std::string_view() : std::string_view(host->value())};
    Reply reply = server_->Answer(request);
    Write(std::move(reply), req.keep_alive(), req.method() == http::verb::head, req.version());
  }

  void WriteError(unsigned status, std::string body) {
    Reply reply;
    reply.status = status;
    reply.body = std::move(body);
    Write(std::move(reply), /*keep_alive=*/false, /*head=*/false, 11);
  }

  void Write(Reply reply, bool keep_alive, bool head, unsigned version) {
    response_ = {};
    response_.version(version);
    response_.result(reply.status);
    response_.set(http::field::server, "opescare-bridge");
    response_.set(http::field::content_type, reply.content_type);
    response_.set(http::field::cache_control, "no-store");
    response_.set("X-Content-Type-Options", "nosniff");
    response_.set("Referrer-Policy", "no-referrer");
    for (auto& [name, value] : reply.headers) response_.set(name, value);
    response_.body() = std::move(reply.body);
    response_.prepare_payload();
    if (head) response_.body().clear();  // HEAD: the GET's Content-Length, no body
    response_.keep_alive(keep_alive);
    stream_.expires_after(server_->limits().write_timeout);
    http::async_write(stream_, response_, beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec || closing_ || server_->stopped()) return;
    if (!response_.keep_alive()) return Shutdown();
    Read();
  }

  void Shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> response_;
  std::shared_ptr<detail::StatusServerCore> server_;
  std::list<Session*>::iterator self_;
  bool reading_ = false;
  bool closing_ = false;
};

Status detail::StatusServerCore::Start() {
  if (started_ || stopped_) return FailedPrecondition("the status server was already started");
  if (listen_.empty()) {
    if (logger_) logger_->info("status server off (status.listen is empty)");
    return Status::Ok();
  }
  Result<ListenAddress> address = ParseListen(listen_);
  if (!address.ok()) return address.status();
  if (!address->loopback && !allow_remote_) {
    return InvalidArgument("status.listen \"" + listen_ +
                           "\" is not a loopback address: the status page would be open to the network. Use "
                           "127.0.0.1:PORT, or set status.allow_remote: true to mean it");
  }
  beast::error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(address->ip, ec), address->port);
  if (ec) return InvalidArgument("status.listen \"" + listen_ + "\": " + ec.message());
  auto fail = [this](const char* step, const beast::error_code& error) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    std::string hint = error == asio::error::address_in_use
                           ? " (another program, or another opescare-bridge, already uses it: stop it or choose "
                             "another port in status.listen)"
                           : "";
    return FailedPrecondition("status.listen \"" + listen_ + "\": " + step + ": " + error.message() + hint);
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("open", ec);
#ifndef _WIN32
  // Lets a restarted agent bind while old connections linger in TIME_WAIT; on POSIX it never allows two
  // listeners on one port (on Windows it would, so it is not set there).
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("set_option", ec);
#endif
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind", ec);
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen", ec);
  tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return fail("local_endpoint", ec);
  port_ = bound.port();
  std::string host =
      bound.address().is_unspecified()
          ? (bound.address().is_v6() ? "[::1]" : "127.0.0.1")
          : (bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string());
  url_ = "http://" + host + ":" + std::to_string(port_) + "/";
  started_ = true;
  if (logger_) logger_->info("status page at {}", url_);
  DoAccept();
  return Status::Ok();
}

void detail::StatusServerCore::Stop() {
  if (stopped_) return;
  stopped_ = true;
  beast::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
  for (Session* session : sessions_) session->Close();
  port_ = 0;
  url_.clear();
}

Reply detail::StatusServerCore::Answer(const Request& request) {
  Sources sources;
  sources.snapshot = provider_ ? provider_ : [] { return StatusSnapshot{}; };  // no provider: "not ready"
  sources.healthy = healthy_;
  sources.now = clock_ ? clock_->Now() : std::chrono::system_clock::now();
  sources.allow_remote = allow_remote_;
  return Route(request, sources);
}

void detail::StatusServerCore::DoAccept() {
  acceptor_.async_accept(beast::bind_front_handler(&detail::StatusServerCore::OnAccept, shared_from_this()));
}

void detail::StatusServerCore::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopped_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    if (logger_) logger_->warn("status server: accept failed: {}; retrying", ec.message());
    retry_timer_.expires_after(kAcceptRetryDelay);
    retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec && !self->stopped_) self->DoAccept();
    });
    return;
  }
  if (MakeRoom()) {
    std::make_shared<Session>(std::move(socket), shared_from_this())->Start();
  } else {
    beast::error_code ignored;
    socket.close(ignored);  // every slot is busy answering: this client may try again
  }
  DoAccept();
}

// At the cap, closes the connection that has waited longest for a request, so a new client (a health check)
// is served even while many idle or slow clients hold connections. False when all slots are busy writing.
bool detail::StatusServerCore::MakeRoom() {
  std::size_t open = 0;
  Session* victim = nullptr;
  for (Session* session : sessions_) {
    if (session->closing()) continue;
    ++open;
    if (!victim && session->reading()) victim = session;
  }
  if (open < limits_.max_connections) return true;
  if (!victim) return false;
  if (logger_) logger_->debug("status server: {} connections open, closing the oldest idle one", open);
  victim->Close();
  return true;
}

StatusServer::StatusServer(asio::io_context& io, std::string listen, bool allow_remote, SnapshotProvider provider,
                           StatusServer::HealthProbe healthy, std::shared_ptr<spdlog::logger> logger,
                           StatusServerLimits limits, const Clock* clock)
    : core_(std::make_shared<detail::StatusServerCore>(io, std::move(listen), allow_remote, std::move(provider),
                                                       std::move(healthy), std::move(logger), limits, clock)) {}

StatusServer::~StatusServer() { Stop(); }

Status StatusServer::Start() { return core_->Start(); }
void StatusServer::Stop() { core_->Stop(); }
uint16_t StatusServer::port() const { return core_->port_; }
std::string StatusServer::url() const { return core_->url_; }

}  // namespace opescare::status
