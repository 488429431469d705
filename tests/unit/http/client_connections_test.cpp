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

  std::unique_ptr<Client> Make(uint16_t port, size_t max_connections) {
    ClientOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(port);
    o.ca_file = ca_file_;
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
