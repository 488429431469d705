// The loopback test server and the tinyproxy runner (see test_server.h).
#include "test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace opescare::testing {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(100);

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string HttpDateNow() {
  char buf[64];
  time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

void SetTimeouts(int fd) {
  timeval tv{0, static_cast<suseconds_t>(std::chrono::microseconds(kPoll).count())};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  timeval send_tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_tv, sizeof send_tv);
}

// Loads PEM certificates from text: the first is the leaf, the rest go to the chain.
bool UseChain(SSL_CTX* ctx, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  bool ok = leaf != nullptr && SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  while (ok) {
    X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (extra == nullptr) break;
    SSL_CTX_add_extra_chain_cert(ctx, extra);  // takes ownership
  }
  ERR_clear_error();
  BIO_free(bio);
  return ok;
}

}  // namespace

std::string ReceivedRequest::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (Lower(k) == Lower(name)) return v;
  }
  return "";
}

std::string HttpResponse(int status, const std::string& body, const std::string& extra_headers) {
  return "HTTP/1.1 " + std::to_string(status) + " Status\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nDate: " + HttpDateNow() + "\r\nContent-Type: application/json\r\n" + extra_headers + "\r\n" + body;
}

TestServer::TestServer(std::optional<ServerTls> tls, Handler handler) : handler_(std::move(handler)) {
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-response must not kill the test
  if (tls) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (tls->legacy_seclevel) {
      SSL_CTX_set_security_level(ctx, 0);
      SSL_CTX_set_cipher_list(ctx, "DEFAULT@SECLEVEL=0");
    }
    if (tls->min_version != 0) SSL_CTX_set_min_proto_version(ctx, tls->min_version);
    if (tls->max_version != 0) SSL_CTX_set_max_proto_version(ctx, tls->max_version);
    BIO* kbio = BIO_new_mem_buf(tls->key_pem.data(), static_cast<int>(tls->key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio, nullptr, nullptr, nullptr);
    BIO_free(kbio);
    if (!UseChain(ctx, tls->cert_chain_pem) || key == nullptr || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
      throw std::runtime_error("test server: bad certificate or key");
    }
    EVP_PKEY_free(key);
    if (!tls->client_ca_pem.empty()) {
      BIO* cbio = BIO_new_mem_buf(tls->client_ca_pem.data(), static_cast<int>(tls->client_ca_pem.size()));
      X509* ca = PEM_read_bio_X509(cbio, nullptr, nullptr, nullptr);
      BIO_free(cbio);
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
      X509_free(ca);
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    ssl_ctx_ = ctx;
  }
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("test server: cannot listen on 127.0.0.1");
  }
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TestServer::~TestServer() {
  stop_ = true;
  acceptor_.join();
  for (auto& w : workers_) w.join();
  close(listen_fd_);
  SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
}

std::vector<ReceivedRequest> TestServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::string TestServer::last_sni() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_sni_;
}

std::string TestServer::last_client_subject() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_client_subject_;
}

void TestServer::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(kPoll.count())) <= 0) continue;
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    int n = ++connections_;
    workers_.emplace_back([this, fd, n] { Serve(fd, n); });
  }
}

void TestServer::Serve(int fd, int connection) {
  SetTimeouts(fd);
  SSL* ssl = nullptr;
  auto cleanup = [&] {
    if (ssl != nullptr) SSL_free(ssl);
    close(fd);
    if (!stop_) ++ended_;
  };
  if (ssl_ctx_ != nullptr) {
    ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
    SSL_set_fd(ssl, fd);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int rc = 0;
    while ((rc = SSL_accept(ssl)) != 1) {
      int err = SSL_get_error(ssl, rc);
      bool retry = (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ||
                    (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)));
      if (!retry || stop_ || std::chrono::steady_clock::now() > deadline) break;
    }
    ERR_clear_error();
    if (rc != 1) {
      ++failed_handshakes_;
      return cleanup();
    }
    ++handshakes_;
    std::lock_guard<std::mutex> lock(mu_);
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    last_sni_ = sni ? sni : "";
    if (X509* peer = SSL_get0_peer_certificate(ssl)) {
      char buf[256];
      X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
      last_client_subject_ = buf;
    }
  }
  // Reads some bytes: >0 data, 0 peer closed or error, -1 nothing yet (poll again).
  auto read_some = [&](char* buf, size_t cap) -> long {
    if (ssl != nullptr) {
      int n = SSL_read(ssl, buf, static_cast<int>(cap));
      if (n > 0) return n;
      int err = SSL_get_error(ssl, n);
      if (err == SSL_ERROR_WANT_READ || (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
        ERR_clear_error();
        return -1;
      }
      ERR_clear_error();
      return 0;
    }
    ssize_t n = recv(fd, buf, cap, 0);
    if (n > 0) return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
    return 0;
  };
  auto write_all = [&](const std::string& data) {
    size_t off = 0;
    while (off < data.size() && !stop_) {
      long n = ssl != nullptr
                   ? SSL_write(ssl, data.data() + off, static_cast<int>(std::min<size_t>(data.size() - off, 1 << 16)))
                   : send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  };
  std::string buf;
  char chunk[16384];
  auto fill = [&](size_t want_total) -> bool {  // false: connection over
    while (buf.size() < want_total) {
      if (stop_) return false;
      long n = read_some(chunk, sizeof chunk);
      if (n == 0) return false;
      if (n > 0) {
        app_bytes_ += static_cast<size_t>(n);
        buf.append(chunk, static_cast<size_t>(n));
      }
    }
    return true;
  };
  while (!stop_) {
    size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > (1 << 20) || !fill(buf.size() + 1)) return cleanup();
    }
    ReceivedRequest req;
    req.connection = connection;
    std::string head = buf.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
    req.method = request_line.substr(0, sp1);
    req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      std::string line = head.substr(pos, end - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        req.headers.emplace_back(line.substr(0, colon), value);
      }
      pos = end + 2;
    }
    size_t length = 0;
    if (std::string cl = req.Header("Content-Length"); !cl.empty()) length = std::stoul(cl);
    if (!fill(header_end + 4 + length)) return cleanup();
    req.body = buf.substr(header_end + 4, length);
    buf.erase(0, header_end + 4 + length);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
    }
    Reply reply = handler_(req);
    if (reply.hang) {
      while (!stop_) {
        long n = read_some(chunk, sizeof chunk);
        if (n == 0) break;
        if (n > 0) app_bytes_ += static_cast<size_t>(n);
      }
      return cleanup();
    }
    write_all(reply.raw);
    if (reply.close_after) return cleanup();
  }
  cleanup();
}

bool Tinyproxy::Available() {
  return access("/usr/bin/tinyproxy", X_OK) == 0 || access("/usr/sbin/tinyproxy", X_OK) == 0;
}

uint16_t UnusedLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

Tinyproxy::Tinyproxy(const std::string& dir, const std::string& user, const std::string& password) {
  port_ = UnusedLoopbackPort();
  std::string conf = dir + "/tinyproxy.conf";
  {
    std::ofstream out(conf);
    out << "Port " << port_ << "\nListen 127.0.0.1\nTimeout 10\nMaxClients 10\nLogLevel Info\n"
        << "LogFile \"" << dir << "/tinyproxy.log\"\nDisableViaHeader Yes\nAllow 127.0.0.1\n";
    if (!user.empty()) out << "BasicAuth " << user << " " << password << "\n";
  }
  std::string binary = access("/usr/bin/tinyproxy", X_OK) == 0 ? "/usr/bin/tinyproxy" : "/usr/sbin/tinyproxy";
  std::vector<std::string> args = {binary, "-d", "-c", conf};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return;
  pid_ = pid;
  // Bounded wait for the port to accept connections (50 x 100 ms).
  for (int i = 0; i < 50 && !ready_; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    ready_ = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (!ready_) std::this_thread::sleep_for(kPoll);
  }
}

Tinyproxy::~Tinyproxy() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 30; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(kPoll);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

}  // namespace opescare::testing
