// Outside tools judge the real output: `promtool check metrics` on /metrics, and headless Chromium renders the
// page (DOM read back, screenshot saved beside this test binary). Each skips only when its tool is absent.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>

#include "agent/status/render.h"
#include "tests/unit/status/sample_state.h"
#include "tests/unit/status/server_harness.h"

namespace opescare::status {
namespace {

namespace fs = std::filesystem;

struct CommandRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command (bounded by `timeout` seconds via coreutils timeout) and collects its output.
CommandRun Shell(const std::string& command, int timeout_seconds = 60) {
  CommandRun r;
  std::string full = "timeout -k 5 " + std::to_string(timeout_seconds) + " " + command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0 && r.output.size() < (8u << 20)) r.output.append(buf, n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string Which(const std::string& tool) {
  CommandRun r = Shell("sh -c 'command -v " + tool + "'", 10);
  if (r.exit_code != 0) return "";
  std::string path = r.output.substr(0, r.output.find('\n'));
  return path;
}

// The folder of this test binary (the build tree), where artefacts for a person to look at go.
fs::path ArtefactDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

fs::path TempDir(const std::string& name) {
  fs::path dir = ArtefactDir() / "status-test-tmp" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// One snapshot taken now, as the agent keeps a precomputed one: every endpoint shows the same state.
StatusServer::SnapshotProvider SampleProvider() {
  auto now = std::chrono::time_point_cast<TimePoint::duration>(std::chrono::system_clock::now());
  StatusSnapshot snapshot = testing::SnapshotOf(testing::SampleAgent(), now);
  return [snapshot] { return snapshot; };
}

TEST(Promtool, AcceptsTheMetricsEndpoint) {
  std::string promtool = Which("promtool");
  if (promtool.empty()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  testing::ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok());
  testing::HttpAnswer metrics = testing::Fetch(h.port(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);

  // Both a busy agent and a fresh one (where optional families are absent).
  for (const std::string& body : {metrics.body, RenderMetrics(StatusSnapshot{})}) {
    fs::path file = TempDir("promtool") / "metrics.txt";
    std::ofstream(file) << body;
    CommandRun r = Shell(promtool + " check metrics < '" + file.string() + "'");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "") << "promtool found problems:\n" << r.output;
  }
}

// Reads an attribute of the element with the given id out of a dumped DOM.
std::string Attribute(const std::string& dom, const std::string& id, const std::string& attr) {
  std::regex element("<[a-z0-9]+ [^>]*id=\"" + id + "\"[^>]*>");
  std::smatch m;
  if (!std::regex_search(dom, m, element)) return "<no element " + id + ">";
  std::string tag = m.str(0);
  std::smatch a;
  if (!std::regex_search(tag, a, std::regex(" " + attr + "=\"([^\"]*)\""))) return "<no " + attr + ">";
  return a.str(1);
}

std::string ChromiumCommand(const std::string& chromium, const fs::path& profile) {
  return chromium +
         " --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
         " --disable-component-update --disable-sync --disable-dev-shm-usage --hide-scrollbars"
         " --user-data-dir='" +
         profile.string() + "'";
}

TEST(Chromium, RendersThePageWithTheCountsOfStatusJson) {
  std::string chromium = Which("chromium");
  if (chromium.empty()) chromium = Which("chromium-browser");
  if (chromium.empty()) GTEST_SKIP() << "chromium not installed";
  testing::ServerHarness h(SampleProvider());
  ASSERT_TRUE(h.start_status().ok());

  testing::HttpAnswer json = testing::Fetch(h.port(), "GET", "/status.json");
  ASSERT_EQ(json.status, 200);
  boost::json::value status = boost::json::parse(json.body);

  fs::path profile = TempDir("chromium-profile");
  CommandRun dom = Shell(ChromiumCommand(chromium, profile) + " --dump-dom " + h.url(), 90);
  ASSERT_EQ(dom.exit_code, 0) << dom.output;
  ASSERT_NE(dom.output.find("id=\"state\""), std::string::npos) << dom.output.substr(0, 2000);

  EXPECT_EQ(Attribute(dom.output, "state", "data-state"), std::string(status.at("connection").at("state").as_string()));
  EXPECT_EQ(Attribute(dom.output, "pending", "data-value"),
            std::to_string(status.at("outbox").at("pending").to_number<uint64_t>() +
                           status.at("outbox").at("in_batches").to_number<uint64_t>()));
  EXPECT_EQ(Attribute(dom.output, "dead", "data-value"),
            std::to_string(status.at("outbox").at("dead").to_number<uint64_t>()));
  EXPECT_EQ(Attribute(dom.output, "delivered", "data-value"),
            std::to_string(status.at("delivery").at("records").at("delivered").to_number<uint64_t>()));
  EXPECT_EQ(Attribute(dom.output, "last-sync", "data-time"),
            std::string(status.at("connection").at("last_sync_at").as_string()));
  EXPECT_NE(dom.output.find("Connected to OpesCare"), std::string::npos);
  EXPECT_NE(dom.output.find("visits_&lt;script&gt;"), std::string::npos);  // shown as text, never run
  for (const std::string& value : testing::SamplePatientValues()) EXPECT_EQ(dom.output.find(value), std::string::npos);

  fs::path shot = ArtefactDir() / "status-page.png";
  fs::remove(shot);
  CommandRun screenshot = Shell(
      ChromiumCommand(chromium, profile) + " --window-size=1200,1600 --screenshot='" + shot.string() + "' " + h.url(),
      90);
  EXPECT_EQ(screenshot.exit_code, 0) << screenshot.output;
  ASSERT_TRUE(fs::exists(shot)) << screenshot.output;
  EXPECT_GT(fs::file_size(shot), 10000u);
  std::cout << "screenshot: " << shot.string() << "\n";
  fs::remove_all(profile);
}

// The loud case, for a person to look at: key refused, delivery and ingest paused, clock off.
TEST(Chromium, RendersARefusedKeyLoudly) {
  std::string chromium = Which("chromium");
  if (chromium.empty()) chromium = Which("chromium-browser");
  if (chromium.empty()) GTEST_SKIP() << "chromium not installed";
  auto now = std::chrono::time_point_cast<TimePoint::duration>(std::chrono::system_clock::now());
  StatusSnapshot s = testing::SnapshotOf(testing::SampleAgent(), now);
  s.connection_state = ConnectionState::kUnauthorized;
  s.last_heartbeat_outcome = HeartbeatOutcome::kUnauthorized;
  s.last_error_code = "bridge_token_invalid";
  s.last_error_message = "Agent key missing or revoked";
  s.delivery_paused = true;
  s.delivery_paused_reason = "OpesCare refused the agent key (401)";
  s.ingest_paused = true;
  s.ingest_paused_reason = "the outbox is above outbox.max_size_mb (2048 MB)";
  s.clock_offset_seconds = 42;
  s.last_sync_at = now - std::chrono::hours(3);
  testing::ServerHarness h([s] { return s; });
  ASSERT_TRUE(h.start_status().ok());

  fs::path profile = TempDir("chromium-profile-refused");
  CommandRun dom = Shell(ChromiumCommand(chromium, profile) + " --dump-dom " + h.url(), 90);
  ASSERT_EQ(dom.exit_code, 0) << dom.output;
  EXPECT_EQ(Attribute(dom.output, "state", "data-state"), "unauthorized");
  EXPECT_NE(dom.output.find("OpesCare refused the agent key"), std::string::npos);
  EXPECT_NE(dom.output.find("Re-generate the agent key"), std::string::npos);
  EXPECT_EQ(dom.output.find(testing::kAgentKey), std::string::npos);

  fs::path shot = ArtefactDir() / "status-page-refused.png";
  fs::remove(shot);
  CommandRun screenshot = Shell(
      ChromiumCommand(chromium, profile) + " --window-size=1200,1600 --screenshot='" + shot.string() + "' " + h.url(),
      90);
  EXPECT_EQ(screenshot.exit_code, 0) << screenshot.output;
  EXPECT_TRUE(fs::exists(shot)) << screenshot.output;
  std::cout << "screenshot: " << shot.string() << "\n";
  fs::remove_all(profile);
}

}  // namespace
}  // namespace opescare::status
