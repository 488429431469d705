// Tests for routing (status codes, content types, read-only), listen-address rules, the Host check, and that
// no patient value nor the agent key reaches any endpoint.
#include "agent/status/router.h"

#include <gtest/gtest.h>

#include "agent/status/render.h"
#include "tests/unit/status/sample_state.h"

namespace opescare::status {
namespace {

using testing::SampleAgent;
using testing::SampleNow;
using testing::SnapshotOf;

Sources SampleSources(bool healthy = true, int* snapshot_calls = nullptr) {
  Sources s;
  s.snapshot = [snapshot_calls] {
    if (snapshot_calls) ++*snapshot_calls;
    return SnapshotOf(SampleAgent(), SampleNow());
  };
  s.healthy = [healthy] { return healthy; };
  s.now = SampleNow();
  return s;
}

Reply Get(std::string_view target, const Sources& sources, std::string_view method = "GET",
          std::string_view host = "127.0.0.1:9469") {
  return Route({method, target, host}, sources);
}

TEST(Route, EndpointsAnswerWithTheirContentTypes) {
  Sources src = SampleSources();
  Reply page = Get("/", src);
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("Connected to OpesCare"), std::string::npos);
  bool has_csp = false;
  for (auto& [name, value] : page.headers) has_csp |= name == "Content-Security-Policy";
  EXPECT_TRUE(has_csp);

  Reply status = Get("/status.json", src);
  EXPECT_EQ(status.status, 200u);
  EXPECT_EQ(status.content_type, "application/json");
  EXPECT_EQ(status.body.front(), '{');

  Reply metrics = Get("/metrics?x=1", src);  // a query string changes nothing
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");

  EXPECT_EQ(Get("/healthz", src).status, 200u);
  EXPECT_EQ(Get("/healthz", src).body, "ok\n");
  EXPECT_EQ(Get("/readyz", src).status, 200u);
  EXPECT_EQ(Get("/nope", src).status, 404u);
  EXPECT_EQ(Get("/", src, "HEAD").status, 200u);
}

TEST(Route, HealthzFollowsTheProbeAndNeedsNoSnapshot) {
  int calls = 0;
  Reply r = Get("/healthz", SampleSources(false, &calls));
  EXPECT_EQ(r.status, 503u);
  EXPECT_NE(r.body.find("unhealthy"), std::string::npos);
  EXPECT_EQ(calls, 0);
}

TEST(Route, ReadyzSaysWhyNot) {
  Sources src = SampleSources();
  src.snapshot = [] {
    StatusSnapshot s = SnapshotOf(SampleAgent(), SampleNow());
    s.delivery_paused = true;
    s.delivery_paused_reason = "facility_not_found (404)";
    return s;
  };
  Reply r = Get("/readyz", src);
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.body, "not ready: delivery is paused: facility_not_found (404)\n");
}

TEST(Route, IsReadOnly) {
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}) {
    Reply r = Get("/", SampleSources(), method);
    EXPECT_EQ(r.status, 405u) << method;
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].first, "Allow");
    EXPECT_EQ(r.headers[0].second, "GET, HEAD");
  }
}

TEST(Route, RefusesForeignHostsUnlessRemoteIsAllowed) {
  Sources src = SampleSources();
  EXPECT_EQ(Get("/", src, "GET", "evil.example:9469").status, 421u);
  EXPECT_EQ(Get("/status.json", src, "GET", "localhost.evil.example").status, 421u);
  EXPECT_EQ(Get("/", src, "GET", "localhost:9469").status, 200u);
  EXPECT_EQ(Get("/", src, "GET", "[::1]:9469").status, 200u);
  src.allow_remote = true;
  EXPECT_EQ(Get("/", src, "GET", "clinic-server.lan:9469").status, 200u);
}

TEST(LoopbackHost, Forms) {
  EXPECT_TRUE(IsLoopbackHost(""));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("LOCALHOST:80"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3:9469"));
  EXPECT_TRUE(IsLoopbackHost("[::1]:9469"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.5:9469"));
  EXPECT_FALSE(IsLoopbackHost("[::2]:9469"));
  EXPECT_FALSE(IsLoopbackHost("example.com"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.nip.io"));
}

TEST(ParseListen, AcceptsLoopbackAndMarksTheRest) {
  Result<ListenAddress> a = ParseListen("127.0.0.1:9469");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->ip, "127.0.0.1");
  EXPECT_EQ(a->port, 9469);
  EXPECT_TRUE(a->loopback);

  Result<ListenAddress> v6 = ParseListen("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ip, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_TRUE(v6->loopback);

  Result<ListenAddress> local = ParseListen("localhost:8080");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->ip, "127.0.0.1");

  Result<ListenAddress> any = ParseListen("0.0.0.0:9469");
  ASSERT_TRUE(any.ok());
  EXPECT_FALSE(any->loopback);
  EXPECT_FALSE(ParseListen("[::]:9469")->loopback);
  EXPECT_FALSE(ParseListen("192.168.1.10:9469")->loopback);
}

TEST(ParseListen, RefusesMalformedAddresses) {
  for (const char* bad : {"", "9469", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:9x",
                          "clinic-server:9469", "[::1]", "[::1:9469", ":9469"}) {
    Result<ListenAddress> r = ParseListen(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    }
  }
}

// The snapshot is filled from a fake agent whose records carry patient values and whose configuration carries
// the key: none of it may come out of any endpoint, whatever the state.
TEST(Privacy, NoPatientValueAndNoKeyInAnyEndpoint) {
  testing::FakeAgent agent = SampleAgent();
  std::vector<StatusSnapshot> states;
  states.push_back(SnapshotOf(agent, SampleNow()));
  StatusSnapshot refused = SnapshotOf(agent, SampleNow());
  refused.connection_state = ConnectionState::kUnauthorized;
  refused.last_error_code = "bridge_token_invalid";
  refused.delivery_paused = true;
  states.push_back(refused);

  // The fake does carry the values: the test would catch a field that copied them.
  ASSERT_EQ(agent.dead[0].record.data.at("first_name"), "Marie");
  for (const StatusSnapshot& state : states) {
    Sources src = SampleSources();
    src.snapshot = [state] { return state; };
    for (const char* path : {"/", "/status.json", "/metrics", "/healthz", "/readyz", "/missing"}) {
      for (const char* method : {"GET", "POST"}) {
        Reply r = Get(path, src, method);
        for (const std::string& value : testing::SamplePatientValues()) {
          EXPECT_EQ(r.body.find(value), std::string::npos) << path << " shows " << value;
        }
        EXPECT_EQ(r.body.find(testing::kAgentKey), std::string::npos) << path;
        EXPECT_EQ(r.body.find("sk_live"), std::string::npos) << path;
        for (auto& [name, value] : r.headers) EXPECT_EQ(value.find(testing::kAgentKey), std::string::npos);
      }
    }
  }
}

}  // namespace
}  // namespace opescare::status
