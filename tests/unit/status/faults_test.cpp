// Tests for faults and redaction in the status endpoints: a fault shows in /readyz, /status.json, /metrics
// and on the page, and a secret quoted by a server never reaches any of them.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "agent/status/render.h"
#include "tests/unit/status/sample_state.h"

namespace opescare::status {
namespace {

namespace json = boost::json;
using testing::kAgentKey;

StatusSnapshot Sample() { return testing::SnapshotOf(testing::SampleAgent(), testing::SampleNow()); }

Fault DiskFull() {
  return {std::string(kFaultDiskFull), "the outbox's disk has 12 MiB free, below outbox.min_free_mb (256 MiB)",
          "free space on /var/lib/opescare-bridge"};
}

TEST(Faults, AnyFaultMakesReadyzSayNotReadyWithItsWords) {
  StatusSnapshot s = Sample();
  ASSERT_TRUE(CheckReadiness(s).ready);
  s.faults.push_back(DiskFull());
  Readiness r = CheckReadiness(s);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, DiskFull().message);
}

TEST(Faults, StatusJsonListsEachFaultWithKindMessageAndFix) {
  StatusSnapshot s = Sample();
  json::value none = json::parse(RenderStatusJson(s, testing::SampleNow()));
  EXPECT_TRUE(none.at("faults").as_array().empty());
  s.faults = {DiskFull(), {std::string(kFaultWatchFolder), "cannot move a file to processed/", "drop-in"}};
  json::value v = json::parse(RenderStatusJson(s, testing::SampleNow()));
  const json::array& faults = v.at("faults").as_array();
  ASSERT_EQ(faults.size(), 2u);
  EXPECT_EQ(faults[0].at("kind"), "disk_full");
  EXPECT_EQ(faults[0].at("message").as_string(), DiskFull().message);
  EXPECT_EQ(faults[0].at("fix").as_string(), DiskFull().fix);
  EXPECT_EQ(faults[1].at("kind"), "watch_folder");
  EXPECT_EQ(v.at("agent").at("ready"), false);
}

TEST(Faults, MetricsHaveOneGaugePerKindOneForThePresentOnes) {
  StatusSnapshot s = Sample();
  s.faults = {DiskFull()};
  std::string m = RenderMetrics(s);
  EXPECT_NE(m.find("opescare_bridge_fault{kind=\"disk_full\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("opescare_bridge_fault{kind=\"no_receipt\"} 0\n"), std::string::npos);
  for (std::string_view kind : kFaultKinds)
    EXPECT_NE(m.find("opescare_bridge_fault{kind=\"" + std::string(kind) + "\"}"), std::string::npos) << kind;
}

TEST(Faults, ThePageShowsTheFaultAndItsFix) {
  StatusSnapshot s = Sample();
  s.faults = {DiskFull()};
  std::string page = RenderStatusPage(s, testing::SampleNow());
  EXPECT_NE(page.find("data-kind=\"disk_full\""), std::string::npos);
  EXPECT_NE(page.find("below outbox.min_free_mb"), std::string::npos);
  EXPECT_NE(page.find("free space on /var/lib/opescare-bridge"), std::string::npos);
  EXPECT_NE(page.find("something needs attention"), std::string::npos);
}

TEST(Redacted, HidesTheKeyInEveryTextThatCameFromOutside) {
  StatusSnapshot s = Sample();
  const std::string quoted = std::string("key ") + kAgentKey + " is revoked";
  s.last_error_code = quoted;
  s.last_error_message = quoted;
  s.fix = quoted;
  s.delivery_paused = true;
  s.delivery_paused_reason = quoted;
  s.ingest_paused_reason = quoted;
  s.faults = {{std::string(kFaultNoReceipt), quoted, quoted}};
  s.recent_files.push_back({"patients_1.csv", FileOutcome::kFailed, 0, 1, testing::SampleNow(), quoted});
  s.dead_letters.push_back({"r_1", "patient", "patients_1.csv", 2, quoted, quoted, testing::SampleNow()});

  StatusSnapshot r = Redacted(s, {kAgentKey});
  for (const std::string& body : {RenderStatusJson(r, testing::SampleNow()), RenderMetrics(r),
                                  RenderStatusPage(r, testing::SampleNow()), CheckReadiness(r).reason}) {
    EXPECT_EQ(body.find(kAgentKey), std::string::npos);
  }
  EXPECT_EQ(r.last_error_message, "key *** is revoked");
  EXPECT_EQ(r.dead_letters.back().message, "key *** is revoked");
  EXPECT_EQ(r.faults[0].fix, "key *** is revoked");
  // Without the redaction the same snapshot would show it: the check above can fail.
  EXPECT_NE(RenderStatusJson(s, testing::SampleNow()).find(kAgentKey), std::string::npos);
}

}  // namespace
}  // namespace opescare::status
