// The verification-time floor: restore, what is believed from a response, when to rewrite the stored
// value, carrying forward by the steady clock, and the "clock is behind" words.
#include "agent/bridge/time_floor.h"

#include <gtest/gtest.h>

#include "agent/bridge/http_date.h"
#include "agent/http/client.h"

namespace opescare::bridge {
namespace {

using namespace std::chrono_literals;
using SysTime = std::chrono::system_clock::time_point;

const SysTime kServer = SysTime(std::chrono::seconds(1'796'000'000));  // 2026-11-29

http::Outcome Answer(SysTime date, bool verified = true) {
  http::Outcome o;
  o.response.emplace();
  o.response->status = 200;
  o.response->headers = {{"Date", FormatHttpDate(date)}};
  o.verified_tls = verified;
  http::PeerCertificate cert;
  cert.not_before = kServer - 24h * 30;
  cert.not_after = kServer + 24h * 60;
  o.peer_certificate = cert;
  return o;
}

TEST(TimeFloor, NothingKnownAtFirst) {
  ManualClock clock(kServer);
  TimeFloor floor(&clock);
  EXPECT_EQ(floor.ServerTime(), SysTime{});
  EXPECT_EQ(floor.Behind(), 0s);
  EXPECT_EQ(floor.BehindMessage(), "");
}

TEST(TimeFloor, RestoresUnixSecondsAndRefusesOtherText) {
  ManualClock clock(kServer - 24h * 365);
  TimeFloor floor(&clock);
  EXPECT_FALSE(floor.Restore(""));
  EXPECT_FALSE(floor.Restore("12x"));
  EXPECT_FALSE(floor.Restore("-5"));
  EXPECT_FALSE(floor.Restore("0"));
  EXPECT_EQ(floor.ServerTime(), SysTime{});
  EXPECT_TRUE(floor.Restore("1796000000"));
  EXPECT_EQ(floor.ServerTime(), kServer);
  EXPECT_EQ(floor.Behind(), std::chrono::duration_cast<std::chrono::seconds>(24h * 365));
  EXPECT_EQ(floor.BehindMessage(), "the clock is 365 days behind the last known server time (CMOS battery?)");
}

TEST(TimeFloor, CarriedForwardByTheSteadyClock) {
  ManualClock clock(kServer - 24h * 400);
  TimeFloor floor(&clock);
  ASSERT_TRUE(floor.Restore("1796000000"));
  clock.Advance(2h);
  EXPECT_EQ(floor.ServerTime(), kServer + 2h);
  EXPECT_EQ(floor.Hook()(), kServer + 2h);
}

TEST(TimeFloor, OnlyAVerifiedAnswerWithASaneDateMovesIt) {
  ManualClock clock(kServer);
  TimeFloor floor(&clock);
  EXPECT_EQ(floor.Observe(Answer(kServer, /*verified=*/false)), std::nullopt);
  EXPECT_EQ(floor.ServerTime(), SysTime{});
  http::Outcome no_date = Answer(kServer);
  no_date.response->headers.clear();
  EXPECT_EQ(floor.Observe(no_date), std::nullopt);
  http::Outcome failed;  // no response at all
  EXPECT_EQ(floor.Observe(failed), std::nullopt);
  // A Date outside the server's own certificate validity is a wrong server clock, not the time.
  EXPECT_EQ(floor.Observe(Answer(kServer + 24h * 365)), std::nullopt);
  EXPECT_EQ(floor.Observe(Answer(kServer - 24h * 365)), std::nullopt);
  EXPECT_EQ(floor.ServerTime(), SysTime{});
  EXPECT_EQ(floor.Observe(Answer(kServer)), "1796000000");
  EXPECT_EQ(floor.ServerTime(), kServer);
}

TEST(TimeFloor, StoredValueRewrittenOnlyAfterItMovedAnHour) {
  ManualClock clock(kServer);
  TimeFloor floor(&clock);
  ASSERT_TRUE(floor.Restore("1796000000"));
  EXPECT_EQ(floor.Observe(Answer(kServer + 10s)), std::nullopt);
  EXPECT_EQ(floor.Observe(Answer(kServer + 59min)), std::nullopt);
  EXPECT_EQ(floor.ServerTime(), kServer + 59min);  // taken, just not written
  EXPECT_EQ(floor.Observe(Answer(kServer + 1h)), "1796003600");
  EXPECT_EQ(floor.Observe(Answer(kServer + 1h + 30min)), std::nullopt);
  EXPECT_EQ(floor.Observe(Answer(kServer + 2h)), "1796007200");
}

TEST(TimeFloor, AServerThatCorrectedItsClockCorrectsTheFloor) {
  ManualClock clock(kServer);
  TimeFloor floor(&clock);
  ASSERT_TRUE(floor.Observe(Answer(kServer + 24h * 10)).has_value());
  EXPECT_EQ(floor.Observe(Answer(kServer)), "1796000000");
  EXPECT_EQ(floor.ServerTime(), kServer);
}

TEST(TimeFloor, BehindMessageOnlyFromADay) {
  ManualClock clock(kServer - 23h);
  TimeFloor floor(&clock);
  ASSERT_TRUE(floor.Restore("1796000000"));
  EXPECT_EQ(floor.Behind(), std::chrono::seconds(23 * 3600));
  EXPECT_EQ(floor.BehindMessage(), "");
  clock.Set(kServer - 25h);
  EXPECT_EQ(floor.BehindMessage(), "the clock is 1 day behind the last known server time (CMOS battery?)");
  clock.Set(kServer + 1h);  // ahead of it: not behind
  EXPECT_EQ(floor.Behind(), 0s);
  EXPECT_EQ(floor.BehindMessage(), "");
}

}  // namespace
}  // namespace opescare::bridge
