// Heartbeat and sync request bodies, and heartbeat outcome classification.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <vector>

#include "agent/bridge/heartbeat.h"
#include "agent/bridge/sync_body.h"

namespace opescare::bridge {
namespace {
namespace json = boost::json;
using Time = std::chrono::system_clock::time_point;

TEST(HeartbeatBody, DocumentedFieldsAlwaysAndStatusWhenGiven) {
  HeartbeatInputs in{"agt_123", "5f0c", "1.4.0", std::nullopt};
  json::value bare = json::parse(BuildHeartbeatBody(in));
  EXPECT_EQ(bare.at("agent_id"), "agt_123");
  EXPECT_EQ(bare.at("facility_id"), "5f0c");
  EXPECT_EQ(bare.at("version"), "1.4.0");
  EXPECT_EQ(bare.as_object().size(), 3u);

  AgentStatus s;
  s.hostname = "his-server-01";
  s.os = "linux";
  s.uptime_seconds = 86400;
  s.queue = {120, 2, 340};
  s.last_sync_at = Time(std::chrono::seconds(1764445200));
  s.clock_offset_seconds = -3;
  in.status = s;
  json::value full = json::parse(BuildHeartbeatBody(in));
  const auto& st = full.at("status");
  EXPECT_EQ(st.at("hostname"), "his-server-01");
  EXPECT_EQ(st.at("os"), "linux");
  EXPECT_EQ(st.at("uptime_seconds").to_number<int64_t>(), 86400);
  EXPECT_EQ(st.at("queue").at("pending").to_number<int64_t>(), 120);
  EXPECT_EQ(st.at("queue").at("dead").to_number<int64_t>(), 2);
  EXPECT_EQ(st.at("queue").at("oldest_pending_age_seconds").to_number<int64_t>(), 340);
  EXPECT_EQ(st.at("last_sync_at"), "2025-11-29T19:40:00Z");
  EXPECT_EQ(st.at("clock_offset_seconds").to_number<int64_t>(), -3);
  EXPECT_FALSE(st.as_object().contains("faults"));  // only when there are any
  // The libraries it runs with, so a fleet on a vulnerable OpenSSL can be found from its heartbeats.
  EXPECT_EQ(std::string(st.at("libraries").at("openssl").as_string()).rfind("OpenSSL 3", 0), 0u);
  EXPECT_FALSE(st.at("libraries").at("sqlite").as_string().empty());

  s.faults = {{"outbox_unavailable", "outbox /var/lib/x.db cannot be opened: disk I/O error", "run doctor"}};
  in.status = s;
  json::value faulty = json::parse(BuildHeartbeatBody(in));
  ASSERT_EQ(faulty.at("status").at("faults").as_array().size(), 1u);
  const json::value& f = faulty.at("status").at("faults").at(0);
  EXPECT_EQ(f.at("kind"), "outbox_unavailable");
  EXPECT_EQ(f.at("message"), "outbox /var/lib/x.db cannot be opened: disk I/O error");
  EXPECT_EQ(f.at("fix"), "run doctor");
}

TEST(HeartbeatBody, NeverSyncedAndEmptyQueueAreNull) {
  HeartbeatInputs in{"a\"b", "f", "v", AgentStatus{}};
  json::value v = json::parse(BuildHeartbeatBody(in));
  EXPECT_EQ(v.at("agent_id"), "a\"b");
  EXPECT_TRUE(v.at("status").at("last_sync_at").is_null());
  EXPECT_TRUE(v.at("status").at("queue").at("oldest_pending_age_seconds").is_null());
}

TEST(ClassifyHeartbeat, ConnectionStates) {
  using http::FailureStage;
  EXPECT_EQ(ClassifyHeartbeat(200, "{}", FailureStage::kNone, "", 0).state, ConnectionState::kConnected);
  EXPECT_EQ(ClassifyHeartbeat(204, "", FailureStage::kNone, "", 0).state, ConnectionState::kConnected);

  HeartbeatResult unauthorized =
      ClassifyHeartbeat(401, R"({"error":"bridge_token_invalid","message":"Agent key revoked","status":401})",
                        FailureStage::kNone, "", 0);
  EXPECT_EQ(unauthorized.state, ConnectionState::kUnauthorized);
  ASSERT_TRUE(unauthorized.error.has_value());
  EXPECT_EQ(unauthorized.error->error, "bridge_token_invalid");
  EXPECT_EQ(unauthorized.message, "server answered 401 bridge_token_invalid: Agent key revoked");
  EXPECT_EQ(unauthorized.fix, "re-generate the agent key in the OpesCare admin panel");
  EXPECT_EQ(ClassifyHeartbeat(403, "", FailureStage::kNone, "", 0).state, ConnectionState::kUnauthorized);

  HeartbeatResult facility = ClassifyHeartbeat(404, R"({"error":"facility_not_found"})", FailureStage::kNone, "", 0);
  EXPECT_EQ(facility.state, ConnectionState::kConfigError);
  EXPECT_NE(facility.fix.find("facility_id"), std::string::npos);
  EXPECT_EQ(ClassifyHeartbeat(422, "", FailureStage::kNone, "", 0).state, ConnectionState::kConfigError);

  for (int status : {408, 425, 429, 500, 503, 301}) {
    EXPECT_EQ(ClassifyHeartbeat(status, "garbage", FailureStage::kNone, "", 0).state, ConnectionState::kServerError)
        << status;
  }

  HeartbeatResult tls = ClassifyHeartbeat(0, "", FailureStage::kTlsVerify, "certificate has expired", 0);
  EXPECT_EQ(tls.state, ConnectionState::kTlsError);
  EXPECT_EQ(tls.message, "certificate has expired");
  EXPECT_EQ(ClassifyHeartbeat(0, "", FailureStage::kTlsHandshake, "x", 0).state, ConnectionState::kTlsError);
  for (auto stage : {FailureStage::kDns, FailureStage::kConnect, FailureStage::kProxy, FailureStage::kTimeout,
                     FailureStage::kRead, FailureStage::kWrite}) {
    EXPECT_EQ(ClassifyHeartbeat(0, "", stage, "x", 0).state, ConnectionState::kUnreachable);
  }
  EXPECT_EQ(ClassifyHeartbeat(0, "", FailureStage::kProtocol, "x", 0).state, ConnectionState::kServerError);
  EXPECT_EQ(ClassifyHeartbeat(0, "", FailureStage::kTooLarge, "x", 0).state, ConnectionState::kServerError);
  EXPECT_EQ(ClassifyHeartbeat(0, "", FailureStage::kInsecure, "x", 0).state, ConnectionState::kConfigError);
  EXPECT_STREQ(ConnectionStateName(ConnectionState::kTlsError), "tls_error");
}

TEST(ClassifyHeartbeat, FromOutcome) {
  http::Outcome o;
  o.stage = http::FailureStage::kProxy;
  o.error = "proxy 127.0.0.1:9 refused the connection";
  HeartbeatResult r = ClassifyHeartbeat(o, 0);
  EXPECT_EQ(r.state, ConnectionState::kUnreachable);
  EXPECT_EQ(r.message, o.error);
  o.response = http::Response{401, "Unauthorized", {}, "{}"};
  o.stage = http::FailureStage::kNone;
  HeartbeatResult skewed = ClassifyHeartbeat(o, 7200);
  EXPECT_EQ(skewed.state, ConnectionState::kUnauthorized);
  EXPECT_NE(skewed.fix.find("clock"), std::string::npos);
}

TEST(SyncBody, BuildsTheDocumentedShape) {
  std::vector<SyncRecord> records = {
      {"r_1", "patient", "patients_20261129.csv", 2, R"({"first_name":"Marie","last_name":"Fouda"})"},
      {"r_2", "visit", "", 0, " {\"note\":\"line\\nbreak\"} "},
  };
  SyncEnvelope env{"agt_123", "5f0c", "0193c7a2-6a1e-7cc4-9d1e-4f3b2a1c0d9e", Time(std::chrono::seconds(1764445200))};
  std::string body = BuildSyncBody(env, records);
  json::value v = json::parse(body);
  EXPECT_EQ(v.at("agent_id"), "agt_123");
  EXPECT_EQ(v.at("facility_id"), "5f0c");
  EXPECT_EQ(v.at("batch_id"), "0193c7a2-6a1e-7cc4-9d1e-4f3b2a1c0d9e");
  EXPECT_EQ(v.at("sent_at"), "2025-11-29T19:40:00Z");
  const auto& recs = v.at("records").as_array();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].at("id"), "r_1");
  EXPECT_EQ(recs[0].at("type"), "patient");
  EXPECT_EQ(recs[0].at("source").at("file"), "patients_20261129.csv");
  EXPECT_EQ(recs[0].at("source").at("row").to_number<int64_t>(), 2);
  EXPECT_EQ(recs[0].at("data").at("last_name"), "Fouda");
  EXPECT_FALSE(recs[1].as_object().contains("source"));
  EXPECT_EQ(recs[1].at("data").at("note"), "line\nbreak");
}

TEST(SyncBody, EmptyBatchIsValidJson) {
  EXPECT_TRUE(json::parse(BuildSyncBody({"a", "f", "b", Time{}}, {})).at("records").as_array().empty());
}

TEST(SyncBody, DataThatIsNotAnObjectStillGoesAsAString) {
  SyncBodyWriter w({"a", "f", "b", Time{}});
  EXPECT_FALSE(w.Add({"r1", "patient", "", 0, "[1,2]"}).ok());
  EXPECT_FALSE(w.Add({"r2", "patient", "", 0, "{\"cut"}).ok());
  EXPECT_TRUE(w.Add({"r3", "patient", "", 0, "{}"}).ok());
  EXPECT_EQ(w.records(), 3u);
  size_t expected = w.size();
  std::string body = std::move(w).Finish();
  EXPECT_EQ(body.size(), expected);
  json::value v = json::parse(body);  // still valid: the server refuses r1 and r2 one by one
  const auto& recs = v.at("records").as_array();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].at("data"), "[1,2]");
  EXPECT_EQ(recs[1].at("data"), "{\"cut");
  EXPECT_TRUE(recs[2].at("data").is_object());
}


}  // namespace
}  // namespace opescare::bridge
