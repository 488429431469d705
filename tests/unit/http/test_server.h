// Test support: a loopback HTTP(S) server on raw sockets and OpenSSL, one thread per connection,
// that records what arrived (connections, completed handshakes, application bytes, requests) and
// answers with whatever bytes a test's handler returns: good responses, garbage, partial, nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace opescare::testing {

struct ServerTls {
  std::string cert_chain_pem;  // the server's certificate, then any chain certificates
  std::string key_pem;
  int min_version = 0;           // e.g. TLS1_VERSION; 0: OpenSSL's default
  int max_version = 0;           // e.g. TLS1_1_VERSION; 0: OpenSSL's default
  bool legacy_seclevel = false;  // security level 0, so that TLS 1.0/1.1 can be offered
  std::string client_ca_pem;     // non-empty: require a client certificate issued by this CA
};

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int connection = 0;  // which accepted connection (1, 2, ...) carried it

  std::string Header(const std::string& name) const;  // case-insensitive; "" when absent
};

struct Reply {
  std::string raw;           // bytes to write back
  bool close_after = false;  // close the connection after writing raw (without a Connection header)
  bool hang = false;         // write nothing and wait until the client goes away
};

// "HTTP/1.1 <status> <reason>" with Content-Length, a Date header and extra header lines.
std::string HttpResponse(int status, const std::string& body = "", const std::string& extra_headers = "");

class TestServer {
 public:
  using Handler = std::function<Reply(const ReceivedRequest&)>;

  // Listens on 127.0.0.1 (an ephemeral port). tls unset: plain TCP.
  TestServer(std::optional<ServerTls> tls, Handler handler);
  ~TestServer();  // stops within ~0.3 s: every wait polls the stop flag
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  int handshakes() const { return handshakes_.load(); }  // completed on the server side
  int failed_handshakes() const { return failed_handshakes_.load(); }
  // Connections that ended while the server ran: the client closed them, or a reply or an error ended them.
  int ended_connections() const { return ended_.load(); }
  size_t application_bytes() const { return app_bytes_.load(); }  // decrypted (or plain) bytes read
  std::vector<ReceivedRequest> requests() const;
  std::string last_sni() const;
  std::string last_client_subject() const;  // subject of the client certificate, "" if none

 private:
  void AcceptLoop();
  void Serve(int fd, int connection);

  Handler handler_;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> handshakes_{0};
  std::atomic<int> failed_handshakes_{0};
  std::atomic<int> ended_{0};
  std::atomic<size_t> app_bytes_{0};
  mutable std::mutex mu_;
  std::vector<ReceivedRequest> requests_;
  std::string last_sni_;
  std::string last_client_subject_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

// A tinyproxy process on a free loopback port with a temporary configuration (Debian's tinyproxy).
class Tinyproxy {
 public:
  static bool Available();
  // user/password non-empty: the proxy requires them (BasicAuth).
  explicit Tinyproxy(const std::string& dir, const std::string& user = "", const std::string& password = "");
  ~Tinyproxy();
  Tinyproxy(const Tinyproxy&) = delete;
  Tinyproxy& operator=(const Tinyproxy&) = delete;

  bool ready() const { return ready_; }
  uint16_t port() const { return port_; }

 private:
  int pid_ = -1;
  uint16_t port_ = 0;
  bool ready_ = false;
};

// A loopback port nothing listens on (bound, then released).
uint16_t UnusedLoopbackPort();

}  // namespace opescare::testing
