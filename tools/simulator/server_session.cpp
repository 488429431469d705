// The simulator's sessions (server_internal.h): one Beast session per connection, plain or TLS. Each reads
// a request, asks the core, and acts on its reply: answer, delay, drop, garbage, truncate or hang.
#include <openssl/ssl.h>

#include <array>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>

#include "tools/simulator/server_internal.h"
#include "tools/simulator/wire_text.h"

namespace opescare::simulator::internal {
namespace {

namespace http = beast::http;

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

}  // namespace

std::shared_ptr<SessionBase> StartSession(ServerImpl& server, ListenerKind kind, tcp::socket socket) {
  if (kind == ListenerKind::kHttps) {
    auto session = std::make_shared<TlsSession>(server, std::move(socket));
    session->Start();
    return session;
  }
  auto session = std::make_shared<PlainSession>(server, std::move(socket), kind == ListenerKind::kAdmin);
  session->Start();
  return session;
}

}  // namespace opescare::simulator::internal
