// Tests for the reload decision: every changed key either applies now or keeps its old value until a
// restart, and the effective configuration says so.
#include "agent/app/reload_plan.h"

#include <gtest/gtest.h>

namespace opescare::app {
namespace {

config::Config Base() {
  config::Config c;
  c.server_url = "https://opescare.test";
  c.agent_id = "agt_1";
  c.facility_id = "fac_1";
  c.agent_key = "k1";
  return c;
}

TEST(ReloadPlan, NothingChangedPlansNothing) {
  ReloadPlan plan = PlanReload(Base(), Base());
  EXPECT_TRUE(plan.applied.empty());
  EXPECT_TRUE(plan.needs_restart.empty());
}

TEST(ReloadPlan, InPlaceKeysApplyAndRestartKeysKeepTheirOldValue) {
  config::Config next = Base();
  next.heartbeat_interval_seconds = 5;
  next.agent_key = "k2";  // a re-generated key applies at once (delivery paused on 401 resumes)
  next.connector.keep_processed_days = 7;
  next.outbox.min_free_mb = 64;
  next.http.compression = "none";
  next.http.compression_level = 9;
  next.server_url = "https://other.test";
  next.outbox.path = "/elsewhere.db";
  next.status.listen = "127.0.0.1:1";
  next.http.request_timeout_seconds = 5;
  next.http.client_cert = "/c.pem";
  next.log.file = "/var/log/x.log";

  ReloadPlan plan = PlanReload(Base(), next);
  EXPECT_EQ(plan.applied, (std::vector<std::string>{"agent_key", "heartbeat_interval_seconds", "outbox.min_free_mb",
                                                    "http.compression", "http.compression_level",
                                                    "connector.keep_processed_days"}));
  EXPECT_EQ(plan.needs_restart, (std::vector<std::string>{"server_url", "log.file", "outbox.path",
                                                          "http.request_timeout_seconds", "http.client_cert",
                                                          "status.listen"}));
  EXPECT_EQ(plan.effective.heartbeat_interval_seconds, 5u);
  EXPECT_EQ(plan.effective.agent_key, "k2");
  EXPECT_EQ(plan.effective.http.compression, "none");
  EXPECT_EQ(plan.effective.http.compression_level, 9u);
  EXPECT_EQ(plan.effective.server_url, "https://opescare.test");
  EXPECT_EQ(plan.effective.outbox.path, Base().outbox.path);
  EXPECT_EQ(plan.effective.status.listen, Base().status.listen);
  EXPECT_EQ(plan.effective.http.request_timeout_seconds, Base().http.request_timeout_seconds);
  EXPECT_EQ(plan.effective.http.client_cert, "");
  EXPECT_EQ(plan.effective.log.file, "");
}

TEST(ReloadPlan, RecordTypesAreAKeyToo) {
  config::Config next = Base();
  next.connector.record_types["visits_"] = {"encounter", {"health_id"}};
  ReloadPlan plan = PlanReload(Base(), next);
  EXPECT_EQ(plan.applied, std::vector<std::string>{"connector.record_types"});
  EXPECT_EQ(plan.effective.connector.record_types.count("visits_"), 1u);
}

TEST(ReloadPlan, EveryKeyIsClassified) {
  EXPECT_TRUE(NeedsRestart("http.proxy"));
  EXPECT_TRUE(NeedsRestart("status.allow_remote"));
  EXPECT_TRUE(NeedsRestart("allow_insecure_http"));
  EXPECT_FALSE(NeedsRestart("http.compression"));
  EXPECT_FALSE(NeedsRestart("http.compression_level"));
  EXPECT_TRUE(NeedsRestart("http.max_response_bytes"));
  EXPECT_FALSE(NeedsRestart("sync_path"));
  EXPECT_FALSE(NeedsRestart("log_level"));
  EXPECT_FALSE(NeedsRestart("connector.watch_folder"));
}

}  // namespace
}  // namespace opescare::app
