// Tests of the status server over real loopback sockets: endpoints, read-only, limits, timeouts, the
// connection cap under many idle and slow clients, and the listen rules.
#include "agent/status/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <vector>

#include "tests/unit/status/sample_state.h"
#include "tests/unit/status/server_harness.h"

namespace opescare::status {
namespace {

using namespace std::chrono_literals;
using testing::Fetch;
using testing::HttpAnswer;
using testing::ServerHarness;

StatusServer::SnapshotProvider SampleProvider() {
  return [] { return testing::SnapshotOf(testing::SampleAgent(), testing::SampleNow()); };
}

TEST(StatusServer, ServesEveryEndpoint) {
  ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok()) << h.start_status().ToString();
  ASSERT_NE(h.port(), 0);
  EXPECT_EQ(h.url(), "http://127.0.0.1:" + std::to_string(h.port()) + "/");

  HttpAnswer page = Fetch(h.port(), "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.Header("Cache-Control"), "no-store");
  EXPECT_NE(page.Header("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_NE(page.body.find("id=\"state\""), std::string::npos);
  EXPECT_EQ(std::to_string(page.body.size()), page.Header("Content-Length"));

  HttpAnswer json = Fetch(h.port(), "GET", "/status.json");
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.Header("Content-Type"), "application/json");
  EXPECT_NE(json.body.find("\"state\":\"connected\""), std::string::npos);

  HttpAnswer metrics = Fetch(h.port(), "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("opescare_bridge_records_delivered_total 1180\n"), std::string::npos);

  HttpAnswer healthz = Fetch(h.port(), "GET", "/healthz");
  EXPECT_EQ(healthz.status, 200);
  EXPECT_EQ(healthz.body, "ok\n");
  EXPECT_EQ(Fetch(h.port(), "GET", "/readyz").status, 200);
  EXPECT_EQ(Fetch(h.port(), "GET", "/nothing-here").status, 404);
}

TEST(StatusServer, HeadSendsTheLengthWithoutTheBody) {
  ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok());
  HttpAnswer get = Fetch(h.port(), "GET", "/metrics");
  HttpAnswer head = Fetch(h.port(), "HEAD", "/metrics");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.Header("Content-Length"), std::to_string(get.body.size()));
}

TEST(StatusServer, UnhealthyAndNotReadyAnswer503) {
  ServerHarness h([] { return StatusSnapshot{}; }, {}, [] { return false; });
  ASSERT_TRUE(h.start_status().ok());
  HttpAnswer healthz = Fetch(h.port(), "GET", "/healthz");
  EXPECT_EQ(healthz.status, 503);
  HttpAnswer readyz = Fetch(h.port(), "GET", "/readyz");
  EXPECT_EQ(readyz.status, 503);
  EXPECT_NE(readyz.body.find("not configured"), std::string::npos);
}

TEST(StatusServer, RefusesWritesAndBodies) {
  ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok());
  HttpAnswer post = Fetch(h.port(), "POST", "/", "Content-Length: 0\r\n");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.Header("Allow"), "GET, HEAD");
  EXPECT_EQ(Fetch(h.port(), "DELETE", "/status.json").status, 405);
  // A body is never expected: refused before it is read.
  HttpAnswer with_body = Fetch(h.port(), "POST", "/", "Content-Length: 100000\r\n");
  EXPECT_EQ(with_body.status, 413);
  HttpAnswer chunked = Fetch(h.port(), "GET", "/", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n");
  EXPECT_TRUE(chunked.status == 413 || chunked.status == 0) << chunked.status;
}

TEST(StatusServer, RefusesOversizedHeaders) {
  ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok());
  HttpAnswer big = Fetch(h.port(), "GET", "/", "X-Filler: " + std::string(20000, 'a') + "\r\n");
  EXPECT_EQ(big.status, 431);
  HttpAnswer long_target = Fetch(h.port(), "GET", "/" + std::string(10000, 'x'));
  EXPECT_EQ(long_target.status, 431);
  EXPECT_EQ(Fetch(h.port(), "GET", "/healthz").status, 200);  // and it carries on
}

TEST(StatusServer, AnswersGarbageWith400) {
  ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok());
  int fd = testing::Connect(h.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::SendAll(fd, "\x16\x03\x01 this is not http\r\n\r\n"));
  HttpAnswer a = testing::ParseAnswer(testing::ReadUntilClose(fd));
  ::close(fd);
  EXPECT_EQ(a.status, 400);
}

TEST(StatusServer, RefusesForeignHostHeaders) {
  ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok());
  EXPECT_EQ(Fetch(h.port(), "GET", "/status.json", "", "attacker.example").status, 421);
  EXPECT_EQ(Fetch(h.port(), "GET", "/status.json", "", "localhost:" + std::to_string(h.port())).status, 200);
}

TEST(StatusServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok());
  int fd = testing::Connect(h.port());
  ASSERT_GE(fd, 0);
  std::string two =
      "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /readyz HTTP/1.1\r\nHost: localhost\r\n"
      "Connection: close\r\n\r\n";
  ASSERT_TRUE(testing::SendAll(fd, two));
  std::string raw = testing::ReadUntilClose(fd);
  ::close(fd);
  EXPECT_NE(raw.find("HTTP/1.1 200 OK\r\n"), std::string::npos);
  EXPECT_NE(raw.find("\r\n\r\nok\n"), std::string::npos);
  EXPECT_NE(raw.find("\r\n\r\nready\n"), std::string::npos);
}

TEST(StatusServer, ClosesASilentConnectionAfterTheReadTimeout) {
  StatusServerLimits limits;
  limits.read_timeout = 1s;
  ServerHarness h(SampleProvider(), limits);
  ASSERT_TRUE(h.start_status().ok());
  int idle = testing::Connect(h.port());
  int slow = testing::Connect(h.port());
  ASSERT_GE(idle, 0);
  ASSERT_GE(slow, 0);
  ASSERT_TRUE(testing::SendAll(slow, "GET / HTTP/1.1\r\nHost: loc"));  // and never finishes
  auto start = std::chrono::steady_clock::now();
  // Closed at all within a generous deadline is the proof: a server without the timeout never closes them.
  EXPECT_TRUE(testing::ClosedByPeer(idle, 30s));
  EXPECT_TRUE(testing::ClosedByPeer(slow, 30s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);  // not before the timeout: timers never fire early
  ::close(idle);
  ::close(slow);
}

// 50 clients hold connections (half idle, half sending a request very slowly); health checks are still served
// quickly, and the server holds no more than its cap.
TEST(StatusServer, ManyIdleAndSlowClientsDoNotBlockHealthChecks) {
  StatusServerLimits limits;
  limits.max_connections = 16;
  limits.read_timeout = 120s;  // a health check stuck behind a slow client would wait this long
  ServerHarness h(SampleProvider(), limits);
  ASSERT_TRUE(h.start_status().ok());

  std::vector<int> hogs;
  for (int i = 0; i < 50; ++i) {
    int fd = testing::Connect(h.port());
    ASSERT_GE(fd, 0) << i;
    if (i % 2 == 1) {
      ASSERT_TRUE(testing::SendAll(fd, "GET /status.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
    }
    hogs.push_back(fd);
  }

  for (int i = 0; i < 20; ++i) {
    auto start = std::chrono::steady_clock::now();
    HttpAnswer a = Fetch(h.port(), "GET", "/healthz");
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(a.status, 200) << "request " << i;
    EXPECT_LT(took, 60s) << "request " << i << " waited for a slow client's read timeout";
  }

  // The server keeps at most its cap: the others were closed (by eviction), not left hanging.
  int closed = 0;
  for (int fd : hogs) closed += testing::ClosedByPeer(fd, 200ms) ? 1 : 0;
  EXPECT_GE(closed, 50 - static_cast<int>(limits.max_connections));
  for (int fd : hogs) ::close(fd);

  EXPECT_EQ(Fetch(h.port(), "GET", "/healthz").status, 200);
}

// The agent's timers share the server's io_context: a heartbeat-like 20 ms tick stays on time while 50 clients
// hog connections and 8 others fetch the full page over and over.
TEST(StatusServer, BusyClientsDoNotDelayOtherTimersOnTheLoop) {
  // Independent of the machine's speed: the clients keep fetching (with 50 idle connections held open)
  // until the loop's timer has ticked several times, and the test waits for that condition with a
  // generous deadline. A server that blocked its loop on a client would starve the timer and miss it.
  ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok());
  constexpr int kTicksWanted = 5;
  struct Ticker {
    boost::asio::steady_timer timer;
    std::atomic<int> ticks{0};
    std::atomic<bool> stop{false};
    explicit Ticker(boost::asio::io_context& io) : timer(io) {}
    void Arm() {
      timer.expires_after(20ms);
      timer.async_wait([this](boost::system::error_code ec) {
        if (ec || stop) return;
        ++ticks;
        Arm();
      });
    }
  };
  auto ticker = std::make_shared<Ticker>(h.io());
  boost::asio::post(h.io(), [ticker] { ticker->Arm(); });

  std::vector<int> hogs;
  for (int i = 0; i < 50; ++i) hogs.push_back(testing::Connect(h.port()));
  std::atomic<int> pages{0};
  std::atomic<int> fetches{0};
  std::atomic<int> ticks_seen_while_busy{0};
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      while (ticker->ticks < kTicksWanted && std::chrono::steady_clock::now() < deadline) {
        int before = ticker->ticks;
        pages += Fetch(h.port(), "GET", "/").status == 200 ? 1 : 0;
        ++fetches;
        if (ticker->ticks > before) ++ticks_seen_while_busy;
      }
    });
  }
  for (auto& c : clients) c.join();
  for (int fd : hogs) ::close(fd);

  std::promise<void> stopped;
  boost::asio::post(h.io(), [&] {
    ticker->stop = true;
    ticker->timer.cancel();
    stopped.set_value();
  });
  ASSERT_EQ(stopped.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_GE(ticker->ticks.load(), kTicksWanted) << "the timer starved while clients were busy";
  EXPECT_GT(ticks_seen_while_busy.load(), 0) << "ticks happened between the fetches, not only after them";
  EXPECT_GT(pages.load(), 0);
  // Most fetches are answered; a few may be evicted by the connection cap the hogs fill.
  EXPECT_GE(pages.load() * 2, fetches.load()) << pages << " of " << fetches;
}

TEST(StatusServer, ManyConcurrentRequestsAreAllAnswered) {
  ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok());
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (Fetch(h.port(), "GET", "/").status == 200) ++ok;
      }
    });
  }
  for (auto& c : clients) c.join();
  // With 8 clients under a cap of 16 no one is evicted.
  EXPECT_EQ(ok.load(), 80);
}

TEST(StatusServer, RefusesANonLoopbackAddressWithoutAllowRemote) {
  boost::asio::io_context io;
  StatusServer server(io, "0.0.0.0:0", /*allow_remote=*/false, SampleProvider(), nullptr, nullptr);
  Status s = server.Start();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("status.allow_remote"), std::string::npos) << s.message();
  EXPECT_EQ(server.port(), 0);

  StatusServer v6(io, "[::]:0", false, SampleProvider(), nullptr, nullptr);
  EXPECT_EQ(v6.Start().code(), Code::kInvalidArgument);
  StatusServer junk(io, "clinic-server:9469", false, SampleProvider(), nullptr, nullptr);
  EXPECT_EQ(junk.Start().code(), Code::kInvalidArgument);
}

TEST(StatusServer, SaysClearlyWhenTheAddressIsTaken) {
  ServerHarness first(SampleProvider());
  ASSERT_TRUE(first.start_status().ok());
  boost::asio::io_context io;
  StatusServer second(io, "127.0.0.1:" + std::to_string(first.port()), false, SampleProvider(), nullptr, nullptr);
  Status s = second.Start();
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("in use"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("status.listen"), std::string::npos) << s.message();
  EXPECT_EQ(Fetch(first.port(), "GET", "/healthz").status, 200);  // the first one is unharmed
}

TEST(StatusServer, EmptyListenMeansOff) {
  boost::asio::io_context io;
  StatusServer server(io, "", false, SampleProvider(), nullptr, nullptr);
  EXPECT_TRUE(server.Start().ok());
  EXPECT_EQ(server.port(), 0);
  EXPECT_EQ(server.url(), "");
}

TEST(StatusServer, StopClosesEverythingAndFreesThePort) {
  uint16_t port = 0;
  int fd = -1;
  {
    ServerHarness h(SampleProvider());
    ASSERT_TRUE(h.start_status().ok());
    port = h.port();
    fd = testing::Connect(port);
    ASSERT_GE(fd, 0);
  }  // Stop() and the loop ends
  EXPECT_TRUE(testing::ClosedByPeer(fd, 2s));
  ::close(fd);
  ServerHarness again(
      SampleProvider(), {}, [] { return true; }, false, "127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(again.start_status().ok()) << again.start_status().ToString();
}

TEST(StatusServer, ListensOnIpv6Loopback) {
  ServerHarness h(
      SampleProvider(), {}, [] { return true; }, false, "[::1]:0");
  if (!h.start_status().ok()) GTEST_SKIP() << "no IPv6 loopback here: " << h.start_status().ToString();
  EXPECT_EQ(h.url(), "http://[::1]:" + std::to_string(h.port()) + "/");
}

}  // namespace
}  // namespace opescare::status
