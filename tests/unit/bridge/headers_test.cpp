// Bridge request headers: names, values, corrected timestamp, user agent, redaction.
#include "agent/bridge/headers.h"

#include <gtest/gtest.h>

#include <map>

namespace opescare::bridge {
namespace {

std::map<std::string, std::string> AsMap(const http::Headers& h) { return {h.begin(), h.end()}; }

TEST(BuildHeaders, CarriesTheSixDocumentedHeaders) {
  http::Headers h = BuildHeaders({"agt_123", "s3cret-key"}, 1717228800, "opescare-bridge/1.0.0 (linux; x86_64)");
  auto m = AsMap(h);
  EXPECT_EQ(h.size(), 6u);
  EXPECT_EQ(m["X-Bridge-Agent-ID"], "agt_123");
  EXPECT_EQ(m["X-Bridge-Agent-Key"], "s3cret-key");
  EXPECT_EQ(m["X-Bridge-Timestamp"], "1717228800");
  EXPECT_EQ(m["Content-Type"], "application/json");
  EXPECT_EQ(m["Accept"], "application/json");
  EXPECT_EQ(m["User-Agent"], "opescare-bridge/1.0.0 (linux; x86_64)");
}

TEST(BuildSyncHeaders, AddsTheIdempotencyKey) {
  auto m = AsMap(BuildSyncHeaders({"a", "k"}, 1, "ua", "0193c7a2-6a1e-7cc4-9d1e-4f3b2a1c0d9e"));
  EXPECT_EQ(m["Idempotency-Key"], "0193c7a2-6a1e-7cc4-9d1e-4f3b2a1c0d9e");
  EXPECT_EQ(m.count("Content-Encoding"), 0u);  // the HTTP client adds it with the compressed body
}

TEST(BridgeTimestamp, AddsTheServerClockOffset) {
  auto local = std::chrono::system_clock::time_point(std::chrono::seconds(1717228800)) + std::chrono::milliseconds(900);
  EXPECT_EQ(BridgeTimestamp(local, 0), 1717228800);  // whole seconds, truncated like the server's clock
  EXPECT_EQ(BridgeTimestamp(local, 3600), 1717232400);
  EXPECT_EQ(BridgeTimestamp(local, -3), 1717228797);
}

TEST(UserAgent, NamesVersionOsAndArch) {
  EXPECT_EQ(UserAgent("1.4.0", "linux", "x86_64"), "opescare-bridge/1.4.0 (linux; x86_64)");
  std::string ua = UserAgent();
  EXPECT_EQ(ua.rfind(std::string("opescare-bridge/") + OB_VERSION + " (", 0), 0u) << ua;
  EXPECT_NE(ua.find(OsName()), std::string::npos);
  EXPECT_NE(ua.find(ArchName()), std::string::npos);
#if defined(__linux__)
  EXPECT_STREQ(OsName(), "linux");
#endif
}

TEST(RedactHeaders, HidesOnlyTheKey) {
  auto m = AsMap(RedactHeaders(BuildHeaders({"agt_1", "the-key"}, 5, "ua")));
  EXPECT_EQ(m["X-Bridge-Agent-Key"], "***");
  EXPECT_EQ(m["X-Bridge-Agent-ID"], "agt_1");
  auto lower = RedactHeaders({{"x-bridge-agent-key", "k"}});
  EXPECT_EQ(lower[0].second, "***");
}

}  // namespace
}  // namespace opescare::bridge
