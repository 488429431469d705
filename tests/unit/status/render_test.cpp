// Tests for the pure renderers: words, readiness, /status.json, /metrics and the HTML page, on a known state.
#include "agent/status/render.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "tests/unit/status/sample_state.h"

namespace opescare::status {
namespace {

namespace json = boost::json;
using testing::SampleAgent;
using testing::SampleNow;
using testing::SnapshotOf;

StatusSnapshot Sample() { return SnapshotOf(SampleAgent(), SampleNow()); }

bool HasLine(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

// --- words -------------------------------------------------------------------------------------------------

TEST(Words, HumanAgo) {
  EXPECT_EQ(HumanAgo(0), "just now");
  EXPECT_EQ(HumanAgo(4.9), "just now");
  EXPECT_EQ(HumanAgo(1 * 60 + 5), "1 minute ago");
  EXPECT_EQ(HumanAgo(40), "40 seconds ago");
  EXPECT_EQ(HumanAgo(125), "2 minutes ago");
  EXPECT_EQ(HumanAgo(3600), "1 hour ago");
  EXPECT_EQ(HumanAgo(2 * 86400 + 5), "2 days ago");
  EXPECT_EQ(HumanAgo(-60), "in the future (check this computer's clock)");
  EXPECT_EQ(HumanAgo(1e300), "11574074 days ago");
}

TEST(Words, HumanDuration) {
  EXPECT_EQ(HumanDuration(0), "0 s");
  EXPECT_EQ(HumanDuration(59.4), "59 s");
  EXPECT_EQ(HumanDuration(250), "4 min 10 s");
  EXPECT_EQ(HumanDuration(2 * 3600 + 5 * 60), "2 h 5 min");
  EXPECT_EQ(HumanDuration(3 * 86400 + 4 * 3600), "3 days 4 h");
  EXPECT_EQ(HumanDuration(-3), "0 s");
}

TEST(Words, HtmlEscapeCoversTextAndAttributes) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">Tom's & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom&#39;s &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("plain"), "plain");
}

TEST(Words, EveryProblemStateHasAHeadlineAndAFix) {
  for (ConnectionState state : kAllConnectionStates) {
    EXPECT_FALSE(StateHeadline(state).empty());
    bool problem = state != ConnectionState::kConnected && state != ConnectionState::kUnknown;
    EXPECT_EQ(!DefaultFix(state, std::nullopt).empty(), problem) << ConnectionStateName(state);
  }
  EXPECT_EQ(StateHeadline(ConnectionState::kUnauthorized), "OpesCare refused the agent key");
  EXPECT_EQ(StateHeadline(ConnectionState::kUnreachable), "Cannot reach OpesCare");
  EXPECT_NE(DefaultFix(ConnectionState::kUnauthorized, 2.0).find("Re-generate the agent key"), std::string::npos);
}

TEST(Words, AFarOffClockIsBlamedForRefusals) {
  std::string fix = DefaultFix(ConnectionState::kUnauthorized, 120.0);
  EXPECT_NE(fix.find("clock is 2 min 0 s behind OpesCare's"), std::string::npos) << fix;
  EXPECT_EQ(fix.find("Re-generate"), std::string::npos);
  EXPECT_NE(DefaultFix(ConnectionState::kTlsError, -3600.0).find("1 h 0 min ahead of"), std::string::npos);
}

// --- readiness ---------------------------------------------------------------------------------------------

TEST(Readiness, ReadyWhenConfiguredOpenAndNotPaused) {
  Readiness r = CheckReadiness(Sample());
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.reason, "");
}

TEST(Readiness, ANewSnapshotIsNotReadyAndSaysWhy) {
  Readiness r = CheckReadiness(StatusSnapshot{});
  EXPECT_FALSE(r.ready);
  EXPECT_NE(r.reason.find("not configured"), std::string::npos);
  EXPECT_NE(r.reason.find("outbox"), std::string::npos);
}

TEST(Readiness, PausedOrRefusedIsNotReady) {
  StatusSnapshot s = Sample();
  s.delivery_paused = true;
  s.delivery_paused_reason = "the server refused the agent key (401)";
  s.connection_state = ConnectionState::kUnauthorized;
  s.last_error_code = "bridge_token_invalid";
  Readiness r = CheckReadiness(s);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason,
            "delivery is paused: the server refused the agent key (401); OpesCare refused the agent key "
            "(bridge_token_invalid)");

  StatusSnapshot unreachable = Sample();
  unreachable.connection_state = ConnectionState::kUnreachable;  // transient: records just wait
  EXPECT_TRUE(CheckReadiness(unreachable).ready);
}

// --- /status.json ------------------------------------------------------------------------------------------

TEST(StatusJson, CarriesTheSnapshot) {
  json::value v = json::parse(RenderStatusJson(Sample(), SampleNow()));
  EXPECT_EQ(v.at("generated_at").as_string(), "2026-11-30T00:53:20Z");
  const json::object& agent = v.at("agent").as_object();
  EXPECT_EQ(agent.at("agent_id").as_string(), "agt_clinic_042");
  EXPECT_EQ(agent.at("environment").as_string(), "sandbox");
  EXPECT_EQ(agent.at("version").as_string(), "1.4.0");
  EXPECT_EQ(agent.at("ready").as_bool(), true);
  EXPECT_DOUBLE_EQ(agent.at("uptime_seconds").to_number<double>(), 26 * 3600);
  const json::object& c = v.at("connection").as_object();
  EXPECT_EQ(c.at("state").as_string(), "connected");
  EXPECT_EQ(c.at("headline").as_string(), "Connected to OpesCare");
  EXPECT_EQ(c.at("last_heartbeat_outcome").as_string(), "ok");
  EXPECT_DOUBLE_EQ(c.at("last_heartbeat_age_seconds").to_number<double>(), 125);
  EXPECT_EQ(c.at("last_sync_at").as_string(), "2026-11-30T00:52:40Z");
  EXPECT_DOUBLE_EQ(c.at("clock_offset_seconds").to_number<double>(), -2.5);
  EXPECT_EQ(c.at("heartbeats").at("ok").to_number<uint64_t>(), 1500u);
  EXPECT_EQ(c.at("heartbeats").at("unreachable").to_number<uint64_t>(), 3u);
  const json::object& d = v.at("delivery").as_object();
  EXPECT_EQ(d.at("records").at("delivered").to_number<uint64_t>(), 1180u);
  EXPECT_EQ(d.at("records").at("rejected").to_number<uint64_t>(), 2u);
  EXPECT_EQ(d.at("batches").at("5xx").to_number<uint64_t>(), 3u);
  EXPECT_EQ(d.at("batch_send_duration_seconds").at("count").to_number<uint64_t>(), 5u);
  const json::object& o = v.at("outbox").as_object();
  EXPECT_EQ(o.at("pending").to_number<uint64_t>(), 51u);
  EXPECT_EQ(o.at("in_batches").to_number<uint64_t>(), 2u);
  EXPECT_EQ(o.at("dead").to_number<uint64_t>(), 2u);
  EXPECT_EQ(o.at("size_bytes").to_number<uint64_t>(), 1572864u);
  EXPECT_EQ(v.at("ingest").at("files").at("failed").to_number<uint64_t>(), 1u);
  EXPECT_EQ(v.at("history").as_array().size(), 288u);
  const json::array& files = v.at("recent_files").as_array();
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].at("outcome").as_string(), "failed");
  EXPECT_EQ(files[0].at("name").as_string(), "visits_<script>alert(1)</script>.csv");  // JSON, not HTML
  const json::array& dead = v.at("dead_letters").as_array();
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].at("record_id").as_string(), "r_9f86d081884c7d659a2feaa0c55ad015");
  EXPECT_EQ(dead[0].at("type").as_string(), "patient");
  EXPECT_EQ(dead[0].at("source_row").to_number<uint64_t>(), 2u);
  EXPECT_EQ(dead[0].at("error").as_string(), "invalid_field");
}

TEST(StatusJson, UnknownTimesAreNullAndNonFiniteNumbersDoNotBreakJson) {
  StatusSnapshot s;
  s.backoff_remaining_seconds = std::numeric_limits<double>::infinity();
  s.clock_offset_seconds = std::numeric_limits<double>::quiet_NaN();
  json::value v = json::parse(RenderStatusJson(s, SampleNow()));
  EXPECT_TRUE(v.at("connection").at("last_heartbeat_at").is_null());
  EXPECT_TRUE(v.at("connection").at("last_heartbeat_outcome").is_null());
  EXPECT_TRUE(v.at("connection").at("clock_offset_seconds").is_null());
  EXPECT_TRUE(v.at("delivery").at("backoff_remaining_seconds").is_null());
  EXPECT_EQ(v.at("agent").at("ready").as_bool(), false);
}

TEST(StatusJson, ListsAreCapped) {
  StatusSnapshot s;
  for (int i = 0; i < 200; ++i) {
    s.recent_files.push_back({"f" + std::to_string(i) + ".csv", FileOutcome::kProcessed, 1, 0, SampleNow(), ""});
    s.dead_letters.push_back({"r" + std::to_string(i), "patient", "f.csv", 1, "e", "m", SampleNow()});
  }
  json::value v = json::parse(RenderStatusJson(s, SampleNow()));
  EXPECT_EQ(v.at("recent_files").as_array().size(), StatusSnapshot::kMaxRecentFiles);
  EXPECT_EQ(v.at("dead_letters").as_array().size(), StatusSnapshot::kMaxDeadLetters);
}

// --- /metrics ----------------------------------------------------------------------------------------------

TEST(Metrics, ExposesTheDocumentedFamiliesWithValues) {
  std::string m = RenderMetrics(Sample());
  for (const char* line : {
           "opescare_bridge_build_info{version=\"1.4.0\",build_type=\"Release\"} 1",
           "opescare_bridge_heartbeats_total{outcome=\"ok\"} 1500",
           "opescare_bridge_heartbeats_total{outcome=\"unreachable\"} 3",
           "opescare_bridge_heartbeats_total{outcome=\"unauthorized\"} 0",
           "opescare_bridge_connection_state{state=\"connected\"} 1",
           "opescare_bridge_connection_state{state=\"unreachable\"} 0",
           "opescare_bridge_clock_offset_seconds -2.5",
           "opescare_bridge_records_enqueued_total 1234",
           "opescare_bridge_records_delivered_total 1180",
           "opescare_bridge_records_rejected_total 2",
           "opescare_bridge_records_resent_total 17",
           "opescare_bridge_batches_total{status_class=\"2xx\"} 42",
           "opescare_bridge_batches_total{status_class=\"4xx\"} 1",
           "opescare_bridge_batches_total{status_class=\"5xx\"} 3",
           "opescare_bridge_batches_total{status_class=\"transport\"} 2",
           "opescare_bridge_batch_send_duration_seconds_bucket{le=\"0.025\"} 1",
           "opescare_bridge_batch_send_duration_seconds_bucket{le=\"0.25\"} 2",
           "opescare_bridge_batch_send_duration_seconds_bucket{le=\"0.5\"} 4",
           "opescare_bridge_batch_send_duration_seconds_bucket{le=\"2.5\"} 5",
           "opescare_bridge_batch_send_duration_seconds_bucket{le=\"+Inf\"} 5",
           "opescare_bridge_batch_send_duration_seconds_count 5",
           "opescare_bridge_outbox_pending_records 51",
           "opescare_bridge_outbox_in_batch_records 2",
           "opescare_bridge_outbox_dead_records 2",
           "opescare_bridge_outbox_oldest_pending_age_seconds 340",
           "opescare_bridge_outbox_size_bytes 1572864",
           "opescare_bridge_delivery_paused 0",
           "opescare_bridge_delivery_backoff_remaining_seconds 0",
           "opescare_bridge_files_total{outcome=\"processed\"} 12",
           "opescare_bridge_files_total{outcome=\"failed\"} 1",
           "opescare_bridge_files_total{outcome=\"duplicate\"} 2",
           "opescare_bridge_rows_total{outcome=\"ok\"} 1234",
           "opescare_bridge_rows_total{outcome=\"failed\"} 3",
           "opescare_bridge_ingest_paused 0",
           "opescare_bridge_last_heartbeat_timestamp_seconds 1795999875",
           "# TYPE opescare_bridge_batch_send_duration_seconds histogram",
           "# TYPE opescare_bridge_records_delivered_total counter",
           "# TYPE opescare_bridge_outbox_pending_records gauge",
       }) {
    EXPECT_TRUE(HasLine(m, line)) << "missing: " << line << "\n" << m;
  }
  std::smatch sum;
  ASSERT_TRUE(std::regex_search(m, sum, std::regex("opescare_bridge_batch_send_duration_seconds_sum ([0-9.e+-]+)\n")));
  EXPECT_NEAR(std::stod(sum[1]), 2.44, 1e-9);
}

TEST(Metrics, EveryFamilyHasHelpAndTypeAndEverySampleItsPrefix) {
  std::string m = RenderMetrics(Sample());
  std::set<std::string> help, type;
  std::istringstream in(m);
  std::regex sample_form(R"(^opescare_bridge_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [-+0-9.eInfNa]+$)");
  int samples = 0;
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("# HELP ", 0) == 0) {
      help.insert(l.substr(7, l.find(' ', 7) - 7));
    } else if (l.rfind("# TYPE ", 0) == 0) {
      type.insert(l.substr(7, l.find(' ', 7) - 7));
    } else {
      ++samples;
      EXPECT_TRUE(std::regex_match(l, sample_form)) << l;
      std::string family = l.substr(0, l.find_first_of("{ "));
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string s = suffix;
        if (family.size() > s.size() && family.compare(family.size() - s.size(), s.size(), s) == 0 &&
            type.count(family.substr(0, family.size() - s.size()))) {
          family.resize(family.size() - s.size());
        }
      }
      EXPECT_TRUE(type.count(family)) << "no TYPE before " << l;
    }
  }
  EXPECT_EQ(help, type);
  EXPECT_GT(samples, 40);
  EXPECT_EQ(m.back(), '\n');
}

TEST(Metrics, UnknownValuesAreLeftOutAndLabelsEscaped) {
  StatusSnapshot s;
  s.version = "1.0 \"beta\"\\x\nnext";
  std::string m = RenderMetrics(s);
  EXPECT_TRUE(HasLine(m, "opescare_bridge_build_info{version=\"1.0 \\\"beta\\\"\\\\x\\nnext\",build_type=\"\"} 1"))
      << m;
  EXPECT_EQ(m.find("clock_offset_seconds"), std::string::npos);
  EXPECT_EQ(m.find("last_sync_timestamp_seconds"), std::string::npos);
  EXPECT_TRUE(HasLine(m, "opescare_bridge_connection_state{state=\"unknown\"} 1"));
}

// --- the page ----------------------------------------------------------------------------------------------

TEST(Page, ShowsTheStateAndTheCountsWithStableIds) {
  std::string p = RenderStatusPage(Sample(), SampleNow());
  for (const char* piece : {
           "<!DOCTYPE html>",
           "<meta http-equiv=\"refresh\" content=\"5\">",
           "id=\"state\" class=\"banner ok\" data-state=\"connected\"",
           ">Connected to OpesCare<",
           "id=\"pending\" data-value=\"53\">53<",
           "id=\"in-batches\" data-value=\"2\"",
           "id=\"dead\" data-value=\"2\">2<",
           "id=\"delivered\" data-value=\"1180\">1,180<",
           "id=\"oldest-pending\" data-value=\"340\">5 min 40 s<",
           "id=\"last-heartbeat\" data-time=\"2026-11-30T00:51:15Z\">2 minutes ago<",
           "id=\"last-sync\" data-time=\"2026-11-30T00:52:40Z\">40 seconds ago<",
           "id=\"agent-id\">agt_clinic_042<",
           "id=\"history-chart\" data-points=\"288\"",
           "<polyline points=",
           "<tr data-outcome=\"failed\">",
           "<tr data-record-id=\"r_9f86d081884c7d659a2feaa0c55ad015\">",
           "<code>invalid_field</code> phone: not a valid E.164 number",
           "records were refused by OpesCare",
       }) {
    EXPECT_NE(p.find(piece), std::string::npos) << "missing: " << piece;
  }
  EXPECT_EQ(p.find("id=\"fix\""), std::string::npos);  // nothing to fix
}

TEST(Page, EscapesEverythingItShows) {
  std::string p = RenderStatusPage(Sample(), SampleNow());
  EXPECT_EQ(p.find("<script"), std::string::npos);
  EXPECT_NE(p.find("visits_&lt;script&gt;alert(1)&lt;/script&gt;.csv"), std::string::npos);
  EXPECT_NE(p.find("visit_date is required &amp; must be &lt;= today"), std::string::npos);

  StatusSnapshot s = Sample();
  s.agent_id = "\"><img src=x onerror=alert(1)>";
  s.fix = "<b>bold</b>";
  s.dead_letters[0].record_id = "\" onmouseover=\"x";
  p = RenderStatusPage(s, SampleNow());
  EXPECT_EQ(p.find("<img"), std::string::npos);
  EXPECT_EQ(p.find("<b>bold"), std::string::npos);
  EXPECT_EQ(p.find("\" onmouseover"), std::string::npos);
}

TEST(Page, IsSelfContained) {
  std::string p = RenderStatusPage(Sample(), SampleNow());
  EXPECT_EQ(p.find("<link"), std::string::npos);
  EXPECT_EQ(p.find(" src="), std::string::npos);
  EXPECT_EQ(p.find("url("), std::string::npos);
  EXPECT_EQ(p.find("href=\"http"), std::string::npos);
  EXPECT_EQ(p.find("@import"), std::string::npos);
}

TEST(Page, ARefusedKeyIsLoudWithItsFix) {
  StatusSnapshot s = Sample();
  s.connection_state = ConnectionState::kUnauthorized;
  s.last_error_code = "bridge_token_invalid";
  s.last_error_message = "Agent key missing or revoked";
  s.delivery_paused = true;
  s.delivery_paused_reason = "OpesCare refused the agent key";
  std::string p = RenderStatusPage(s, SampleNow());
  EXPECT_NE(p.find("class=\"banner bad\" data-state=\"unauthorized\""), std::string::npos);
  EXPECT_NE(p.find(">OpesCare refused the agent key<"), std::string::npos);
  EXPECT_NE(p.find("id=\"fix\">Re-generate the agent key in the OpesCare admin panel"), std::string::npos);
  EXPECT_NE(p.find("<code>bridge_token_invalid</code> Agent key missing or revoked"), std::string::npos);
  EXPECT_NE(p.find("id=\"delivery-paused\""), std::string::npos);

  s.fix = "Ask Marc for the new key";  // the agent's own words win
  EXPECT_NE(RenderStatusPage(s, SampleNow()).find("id=\"fix\">Ask Marc for the new key<"), std::string::npos);
}

TEST(Page, EveryStateRendersItsHeadline) {
  for (ConnectionState state : kAllConnectionStates) {
    StatusSnapshot s = Sample();
    s.connection_state = state;
    std::string p = RenderStatusPage(s, SampleNow());
    EXPECT_NE(p.find("data-state=\"" + std::string(ConnectionStateName(state)) + "\""), std::string::npos);
    EXPECT_NE(p.find(HtmlEscape(StateHeadline(state))), std::string::npos);
  }
}

TEST(Page, AnEmptyAgentRendersWithoutData) {
  StatusSnapshot s;
  std::string p = RenderStatusPage(s, SampleNow());
  EXPECT_NE(p.find("data-state=\"unknown\""), std::string::npos);
  EXPECT_NE(p.find("id=\"history-empty\""), std::string::npos);
  EXPECT_NE(p.find("id=\"last-heartbeat\" data-time=\"\">never<"), std::string::npos);
  EXPECT_NE(p.find("No file read yet"), std::string::npos);
  EXPECT_NE(p.find("None. Every record sent so far was accepted."), std::string::npos);
}

TEST(Page, ChartDrawsOnlyTheLast24Hours) {
  StatusSnapshot s;
  s.history = {{SampleNow() - std::chrono::hours(30), 999, 999},
               {SampleNow() - std::chrono::hours(2), 10, 5},
               {SampleNow() - std::chrono::minutes(5), 20, 0}};
  std::string p = RenderStatusPage(s, SampleNow());
  EXPECT_NE(p.find("data-points=\"2\""), std::string::npos);
  EXPECT_NE(p.find("id=\"delivered-24h\" data-value=\"30\""), std::string::npos);
  EXPECT_EQ(p.find(">999<"), std::string::npos);
  EXPECT_EQ(p.find(">1,000<"), std::string::npos);  // the old point does not set the scale either
}

TEST(Page, NoticesForPausedIngestClockAndBackoff) {
  StatusSnapshot s = Sample();
  s.ingest_paused = true;
  s.ingest_paused_reason = "the outbox is above outbox.max_size_mb";
  s.clock_offset_seconds = 45;
  s.backoff_remaining_seconds = 30;
  std::string p = RenderStatusPage(s, SampleNow());
  EXPECT_NE(p.find("id=\"ingest-paused\">New files are not being read: the outbox is above outbox.max_size_mb"),
            std::string::npos);
  EXPECT_NE(p.find("id=\"clock-notice\">This computer's clock is 45 s behind OpesCare's"), std::string::npos);
  EXPECT_NE(p.find("id=\"backoff\">The last attempt failed; the agent tries again in 30 s"), std::string::npos);
}

TEST(Page, ListsAreCappedAndSayHowManyThereAre) {
  StatusSnapshot s = Sample();
  s.dead_letters.clear();
  for (int i = 0; i < 80; ++i) {
    s.dead_letters.push_back({"r_" + std::to_string(i), "patient", "p.csv", 1, "e", "m", SampleNow()});
  }
  s.outbox.dead = 1234;
  std::string p = RenderStatusPage(s, SampleNow());
  EXPECT_NE(p.find("data-record-id=\"r_49\""), std::string::npos);
  EXPECT_EQ(p.find("data-record-id=\"r_50\""), std::string::npos);
  EXPECT_NE(p.find("Showing the newest 50 of 1,234."), std::string::npos);
}

}  // namespace
}  // namespace opescare::status
