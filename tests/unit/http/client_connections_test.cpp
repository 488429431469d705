// The client with max_connections > 1 over real TLS on loopback: requests in flight at once on separate
// kept-alive connections, answered in any order, reused afterwards, and failed together by Close().
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <thread>

#include "agent/http/client.h"
#include "test_pki.h"
#include "test_server.h"

namespace opescare::http {
namespace {

using namespace std::chrono_literals;
using opescare::testing::CertSpec;
using opescare::testing::HttpResponse;
using opescare::testing::ReceivedRequest;
using opescare::testing::Reply;
using opescare::testing::ServerTls;
using opescare::testing::TempDir;
using opescare::testing::TestPki;
using opescare::testing::TestServer;

const TestPki& Pki() {
  static const TestPki* pki = new TestPki();
  return *pki;
}

class ClientConnectionsTest : public ::testing::Test {
 protected:
  ClientConnectionsTest() {
    ca_file_ = TestPki::WriteFile(dir_.path(), "ca.pem", Pki().trusted_root().cert);
    auto pem = Pki().Issue(CertSpec{});
    tls_.cert_chain_pem = pem.cert;
    tls_.key_pem = pem.key;
  }

  // The options every test starts from: the test server's URL, trusting the test CA.
  ClientOptions Options(uint16_t port) const {
    ClientOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(port);
    o.ca_file = ca_file_;
    return o;
  }

  std::unique_ptr<Client> Make(uint16_t port, size_t max_connections) {
    ClientOptions o = Options(port);
    o.connect_timeout = 3s;
    o.request_timeout = 8s;
    o.max_connections = max_connections;
    auto client = Client::Create(io_, std::move(o), nullptr);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  Request Named(const std::string& name) {
    Request r;
    r.target = "/" + name;
    r.body = name;
    return r;
  }

  // Sends every name at once; returns the outcomes in completion order. answered is set for each name as
  // its completion runs (the server's handler may wait for it).
  std::vector<std::pair<std::string, Outcome>> SendAll(Client& client, const std::vector<std::string>& names,
                                                       std::atomic<bool>* second_answered = nullptr) {
    std::vector<std::pair<std::string, Outcome>> done;
    for (const std::string& n : names) {
      client.Send(Named(n), [&, n](Outcome o) {
        if (n == "second" && second_answered) *second_answered = true;
        done.emplace_back(n, std::move(o));
        if (done.size() == names.size()) io_.stop();
      });
    }
    io_.restart();
    io_.run_for(20s);
    return done;
  }

  TempDir dir_;
  std::string ca_file_;
  ServerTls tls_;
  boost::asio::io_context io_;
};

// "/first" is answered only once the client has completed "/second" (or after 3 s): with two connections
// both are on the wire at once, and the second's answer comes first, whichever reached the server first.
TestServer::Handler FirstWaitsForSecond(std::atomic<bool>& second_answered) {
  return [&second_answered](const ReceivedRequest& r) {
    if (r.target == "/first") {
      auto until = std::chrono::steady_clock::now() + 3s;
      while (!second_answered && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
      return Reply{HttpResponse(200, second_answered ? "first, after second" : "first, alone")};
    }
    return Reply{HttpResponse(200, r.target == "/second" ? "second" : r.target)};
  };
}

TEST_F(ClientConnectionsTest, TwoRequestsAreInFlightAtOnceAndAnsweredInAnyOrder) {
  std::atomic<bool> second_answered{false};
  TestServer server(tls_, FirstWaitsForSecond(second_answered));
  auto client = Make(server.port(), 2);
  auto done = SendAll(*client, {"first", "second"}, &second_answered);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].first, "second");
  ASSERT_TRUE(done[1].second.ok()) << done[1].second.error;
  EXPECT_EQ(done[1].second.response->body, "first, after second");
  EXPECT_EQ(server.connections(), 2);
  // Both connections are kept alive: the next two requests reuse them.
  auto again = SendAll(*client, {"third", "fourth"});
  ASSERT_EQ(again.size(), 2u);
  for (const auto& [name, o] : again) {
    ASSERT_TRUE(o.ok()) << name << ": " << o.error;
    EXPECT_TRUE(o.reused_connection) << name;
    EXPECT_TRUE(o.verified_tls) << name;
  }
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(ClientConnectionsTest, OneConnectionSendsOneAfterTheOtherInOrder) {
  std::atomic<bool> second_answered{false};
  TestServer server(tls_, FirstWaitsForSecond(second_answered));
  auto client = Make(server.port(), 1);
  auto done = SendAll(*client, {"first", "second"}, &second_answered);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].first, "first");
  EXPECT_EQ(done[0].second.response->body, "first, alone");
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(ClientConnectionsTest, NoMoreConnectionsThanTheLimitAndTheRestWaitInOrder) {
  TestServer server(tls_, [](const ReceivedRequest& r) { return Reply{HttpResponse(200, r.target)}; });
  auto client = Make(server.port(), 2);
  auto done = SendAll(*client, {"a", "b", "c", "d", "e"});
  ASSERT_EQ(done.size(), 5u);
  for (const auto& [name, o] : done) ASSERT_TRUE(o.ok()) << name << ": " << o.error;
  EXPECT_LE(server.connections(), 2);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 5u);
}

TEST_F(ClientConnectionsTest, CloseFailsEveryRequestInFlightAndWaiting) {
  TestServer server(tls_, [](const ReceivedRequest&) { return Reply{"", false, true}; });  // never answers
  auto client = Make(server.port(), 2);
  std::vector<Outcome> done;
  for (const char* n : {"a", "b", "c"}) client->Send(Named(n), [&](Outcome o) { done.push_back(std::move(o)); });
  io_.restart();
  auto until = std::chrono::steady_clock::now() + 10s;
  while (server.requests().size() < 2 && std::chrono::steady_clock::now() < until) io_.run_for(20ms);
  ASSERT_EQ(server.requests().size(), 2u) << "two on the wire, one waiting";
  client->Close();
  io_.restart();
  io_.run_for(1s);
  ASSERT_EQ(done.size(), 3u);
  for (const Outcome& o : done) EXPECT_EQ(o.stage, FailureStage::kClosed);
}

// on_sent: once, after the request was written and before its outcome; with sent_backlog_bytes on loopback
// (a fast link) as soon as it is written. Never for a request that did not get written.
TEST_F(ClientConnectionsTest, OnSentRunsOnceBeforeTheOutcomeOfAWrittenRequestOnly) {
  TestServer server(tls_, [](const ReceivedRequest& r) { return Reply{HttpResponse(200, r.target)}; });
  for (int backlog : {0, 8192}) {
    ClientOptions o = Options(server.port());
    o.sent_backlog_bytes = backlog;
    auto client = Client::Create(io_, o, nullptr);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    std::vector<std::string> events;
    for (const char* n : {"a", "b"}) {
      Request r = Named(n);
      r.body.assign(256 * 1024, 'x');  // more than one write
      r.on_sent = [&events, n] { events.push_back(std::string("sent ") + n); };
      (*client)->Send(std::move(r), [&, n](Outcome out) {
        events.push_back(std::string(out.ok() ? "answered " : "failed ") + n);
        if (events.size() == 4) io_.stop();
      });
    }
    io_.restart();
    io_.run_for(10s);
    EXPECT_EQ(events, (std::vector<std::string>{"sent a", "answered a", "sent b", "answered b"})) << backlog;
  }
  ClientOptions refused = Options(1);  // nothing listens there: no byte is written
  auto client = Client::Create(io_, refused, nullptr);
  ASSERT_TRUE(client.ok());
  bool sent = false, failed = false;
  Request r = Named("never");
  r.on_sent = [&] { sent = true; };
  (*client)->Send(std::move(r), [&](Outcome out) {
    failed = out.stage == FailureStage::kConnect;
    io_.stop();
  });
  io_.restart();
  io_.run_for(10s);
  EXPECT_TRUE(failed);
  EXPECT_FALSE(sent);
}

// A kept-alive connection is closed once idle_timeout has passed, with no next request to find it stale: a
// heartbeat a minute apart does not hold a socket and its TLS buffers in between.
TEST_F(ClientConnectionsTest, AnIdleConnectionIsClosedWhenItsIdleTimeoutPasses) {
  TestServer server(tls_, [](const ReceivedRequest& r) { return Reply{HttpResponse(200, r.target)}; });
  ClientOptions o = Options(server.port());
  o.idle_timeout = 200ms;
  auto client = Client::Create(io_, o, nullptr);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto first = SendAll(**client, {"first"});
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(first[0].second.ok()) << first[0].second.error;
  EXPECT_EQ(server.ended_connections(), 0) << "kept alive after the answer";
  io_.restart();
  auto until = std::chrono::steady_clock::now() + 10s;
  while (server.ended_connections() == 0 && std::chrono::steady_clock::now() < until) io_.run_for(20ms);
  EXPECT_EQ(server.ended_connections(), 1) << "the client closed it, idle";
  auto second = SendAll(**client, {"second"});
  ASSERT_EQ(second.size(), 1u);
  ASSERT_TRUE(second[0].second.ok()) << second[0].second.error;
  EXPECT_FALSE(second[0].second.reused_connection);
  EXPECT_EQ(server.connections(), 2);
}

// keep_alive false (the heartbeat, a minute apart): each request says Connection: close and its connection
// ends with the answer.
TEST_F(ClientConnectionsTest, WithoutKeepAliveEachRequestClosesItsConnection) {
  TestServer server(tls_, [](const ReceivedRequest& r) { return Reply{HttpResponse(200, r.target)}; });
  ClientOptions o = Options(server.port());
  o.keep_alive = false;
  auto client = Client::Create(io_, o, nullptr);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  for (const char* name : {"first", "second"}) {
    auto done = SendAll(**client, {name});
    ASSERT_EQ(done.size(), 1u);
    ASSERT_TRUE(done[0].second.ok()) << done[0].second.error;
    EXPECT_FALSE(done[0].second.reused_connection) << name;
  }
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& r : requests) EXPECT_EQ(r.Header("Connection"), "close") << r.target;
  EXPECT_EQ(server.connections(), 2);
  auto until = std::chrono::steady_clock::now() + 10s;
  while (server.ended_connections() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.ended_connections(), 2) << "closed by the client after each answer";
}

TEST_F(ClientConnectionsTest, CreateRefusesZeroConnections) {
  boost::asio::io_context io;
  ClientOptions o;
  o.base_url = "https://127.0.0.1:443";
  o.ca_file = ca_file_;
  o.max_connections = 0;
  EXPECT_FALSE(Client::Create(io, o, nullptr).ok());
}

}  // namespace
}  // namespace opescare::http
