// Test support: a StatusServer running on its own io_context thread, and a tiny blocking HTTP client over
// POSIX sockets (loopback only, every call bounded by a timeout).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "agent/status/server.h"

namespace opescare::status::testing {

class ServerHarness {
 public:
  explicit ServerHarness(
      StatusServer::SnapshotProvider provider, StatusServerLimits limits = {},
      std::function<bool()> healthy = [] { return true; }, bool allow_remote = false,
      std::string listen = "127.0.0.1:0")
      : server_(io_, std::move(listen), allow_remote, std::move(provider), std::move(healthy), nullptr, limits) {
    start_status_ = server_.Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ServerHarness() {
    std::promise<void> stopped;
    boost::asio::post(io_, [&] {
      server_.Stop();
      stopped.set_value();
    });
    // Bounded: if the loop were stuck, stop it rather than hang the test run.
    if (stopped.get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready) io_.stop();
    guard_.reset();
    if (thread_.joinable()) {
      auto done = std::async(std::launch::async, [this] { thread_.join(); });
      if (done.wait_for(std::chrono::seconds(5)) != std::future_status::ready) io_.stop();
    }
  }
  ServerHarness(const ServerHarness&) = delete;
  ServerHarness& operator=(const ServerHarness&) = delete;

  const Status& start_status() const { return start_status_; }
  boost::asio::io_context& io() { return io_; }
  uint16_t port() const { return server_.port(); }
  std::string url() const { return server_.url(); }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ = boost::asio::make_work_guard(io_);
  StatusServer server_;
  Status start_status_;
  std::thread thread_;
};

// A connected TCP socket to 127.0.0.1:port, or -1.
inline int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool SendAll(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads until the peer closes, the deadline passes, or max bytes arrive.
inline std::string ReadUntilClose(int fd, std::chrono::milliseconds deadline = std::chrono::seconds(5),
                                  std::size_t max = 4 << 20) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + deadline;
  char buf[16384];
  while (out.size() < max) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// True when the server has closed fd (EOF or reset) within `wait`.
inline bool ClosedByPeer(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
  return n <= 0;
}

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string head;
  std::string body;
  std::string Header(const std::string& name) const {
    std::string needle = "\r\n" + name + ": ";
    std::size_t at = head.find(needle);
    if (at == std::string::npos) return "";
    at += needle.size();
    return head.substr(at, head.find("\r\n", at) - at);
  }
};

inline HttpAnswer ParseAnswer(const std::string& raw) {
  HttpAnswer a;
  std::size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return a;
  a.status = std::atoi(raw.c_str() + 9);
  a.head = raw.substr(0, end + 2);
  a.body = raw.substr(end + 4);
  return a;
}

// One request on a fresh connection with "Connection: close".
inline HttpAnswer Fetch(uint16_t port, const std::string& method, const std::string& target,
                        const std::string& extra_headers = "", const std::string& host = "127.0.0.1") {
  int fd = Connect(port);
  if (fd < 0) return {};
  std::string req =
      method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n" + extra_headers + "\r\n";
  HttpAnswer a;
  if (SendAll(fd, req)) a = ParseAnswer(ReadUntilClose(fd));
  ::close(fd);
  return a;
}

}  // namespace opescare::status::testing
