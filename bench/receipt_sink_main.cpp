// receipt_sink: the fast receipt-giving sink of bench/drain_bench.py (issue 11). HTTPS on loopback with a
// certificate made at start (its CA written to --ca-out), one thread, one Beast session per connection;
// the answers are ReceiptSink's (receipt_sink.h). It writes {"https_port": P} to --ready-file once
// listening, and prints one JSON line of counters on stdout when it holds --expect unique records (with
// "done_monotonic" and "first_batch_monotonic": the steady clock's seconds, Python's time.monotonic on
// Linux) and again at SIGTERM.
#include <CLI/CLI.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "agent/bridge/http_date.h"
#include "agent/util/files.h"
#include "bench/receipt_sink.h"
#include "tools/simulator/test_cert.h"

namespace opescare::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr size_t kMaxBodyBytes = 64u << 20;

double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Shared {
  ReceiptSink sink{"/api/v1/bridge/sync", kMaxBodyBytes};
  uint64_t expect = 0;
  bool reported = false;
  double first_batch_monotonic = 0;  // when the first batch was answered
};

void PrintCounters(const Shared& shared, const char* event) {
  const SinkCounters& c = shared.sink.counters();
  json::object line{{"event", event},
                    {"done_monotonic", SteadySeconds()},
                    {"first_batch_monotonic", shared.first_batch_monotonic},
                    {"heartbeats", c.heartbeats},
                    {"batches", c.batches},
                    {"records_total", c.records_total},
                    {"records_unique", c.records_unique},
                    {"records_duplicate", c.records_duplicate},
                    {"bytes_received", c.bytes_received},
                    {"bytes_inflated", c.bytes_inflated},
                    {"tls_handshakes", c.tls_handshakes},
                    {"refused", c.refused}};
  std::printf("%s\n", json::serialize(line).c_str());
  std::fflush(stdout);
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ssl::context& ctx, Shared& shared) : stream_(std::move(socket), ctx), shared_(shared) {}

  void Start() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->shared_.sink.OnTlsHandshake();
      self->DoRead();
    });
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(120));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) return;  // the end of the stream, a reset, a timeout: the session ends
    const http::request<http::string_body>& req = parser_->get();
    SinkRequest in{req.method_string(), req.target(), req[http::field::content_encoding], req["Idempotency-Key"],
                   req.body()};
    SinkAnswer answer = shared_.sink.Handle(in);
    response_.emplace();
    response_->result(answer.status);
    response_->version(11);
    response_->set(http::field::date, bridge::FormatHttpDate(std::chrono::system_clock::now()));
    response_->set(http::field::content_type, "application/json");
    response_->body() = std::move(answer.body);
    response_->keep_alive(req.keep_alive());
    response_->prepare_payload();
    const SinkCounters& c = shared_.sink.counters();
    if (c.batches == 1 && shared_.first_batch_monotonic == 0) shared_.first_batch_monotonic = SteadySeconds();
    if (shared_.expect > 0 && !shared_.reported && c.records_unique >= shared_.expect) {
      shared_.reported = true;
      PrintCounters(shared_, "done");
    }
    http::async_write(stream_, *response_, [self = shared_from_this()](beast::error_code write_ec, size_t) {
      if (!write_ec && self->response_->keep_alive()) self->DoRead();
    });
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  Shared& shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
};

void Accept(tcp::acceptor& acceptor, ssl::context& ctx, Shared& shared) {
  acceptor.async_accept([&acceptor, &ctx, &shared](beast::error_code ec, tcp::socket socket) {
    if (ec) return;
    std::make_shared<Session>(std::move(socket), ctx, shared)->Start();
    Accept(acceptor, ctx, shared);
  });
}

int Main(int argc, char** argv) {
  std::string ca_out, ready_file, bind = "127.0.0.1";
  Shared shared;
  CLI::App app{"receipt_sink: a fast receipt-giving HTTPS sink for bench/drain_bench.py (loopback only)"};
  app.add_option("--ca-out", ca_out, "write the CA certificate made at start here (PEM)")->required();
  app.add_option("--ready-file", ready_file, "write {\"https_port\": P} here (atomically) once listening")->required();
  app.add_option("--expect", shared.expect, "print the counters once this many unique records arrived");
  app.add_option("--bind", bind, "loopback address")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  Result<simulator::TestCertificates> certs = simulator::MakeTestCertificates(1);
  if (!certs.ok()) {
    std::fprintf(stderr, "receipt_sink: %s\n", certs.status().ToString().c_str());
    return 1;
  }
  ssl::context ctx(ssl::context::tls_server);
  ctx.use_certificate_chain(asio::buffer(certs->cert_pem));
  ctx.use_private_key(asio::buffer(certs->key_pem), ssl::context::pem);

  asio::io_context ioc(1);
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address(bind), 0));
  Accept(acceptor, ctx, shared);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });

  std::string ready = json::serialize(json::object{{"https_port", acceptor.local_endpoint().port()}});
  for (const auto& [path, text] : {std::pair{ca_out, certs->ca_pem}, std::pair{ready_file, ready + "\n"}}) {
    if (Status s = WriteFileAtomic(path, text, 0644); !s.ok()) {
      std::fprintf(stderr, "receipt_sink: cannot write %s: %s\n", path.c_str(), s.ToString().c_str());
      return 1;
    }
  }
  ioc.run();
  PrintCounters(shared, "stop");
  return 0;
}

}  // namespace
}  // namespace opescare::bench

int main(int argc, char** argv) { return opescare::bench::Main(argc, argv); }
