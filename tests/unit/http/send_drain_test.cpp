// SentWait: when a written request counts as sent, from the connection's TCP backlog.
#include "agent/http/send_drain.h"

#include <gtest/gtest.h>

namespace opescare::http {
namespace {

using namespace std::chrono_literals;
using env::TcpBacklog;

TcpBacklog Backlog(int64_t unsent, int64_t unacked, std::chrono::microseconds rtt, int64_t rate,
                   std::chrono::microseconds min_rtt = 0us, bool recovering = false) {
  TcpBacklog b;
  b.unsent_bytes = unsent;
  b.unacked_bytes = unacked;
  b.rtt = rtt;
  b.min_rtt = min_rtt;
  b.delivery_rate = rate;
  b.recovering = recovering;
  return b;
}

TEST(SentWait, SentAtOnceWithoutABoundABacklogOrASlowLink) {
  const auto slow_full = Backlog(20'000, 20'000, 600ms, 32'000);
  EXPECT_FALSE(SentWait(slow_full, 0)) << "no bound: sent once written";
  EXPECT_FALSE(SentWait(std::nullopt, 8192)) << "the OS does not say (Windows)";
  EXPECT_FALSE(SentWait(Backlog(20'000, 20'000, 9ms, 32'000), 8192)) << "a fast link: no waiting for the drain";
  EXPECT_FALSE(SentWait(Backlog(0, 8192, 600ms, 32'000), 8192)) << "drained to the bound";
  EXPECT_FALSE(SentWait(Backlog(4000, 4000, 600ms, 0), 8192));
}

TEST(SentWait, OnASlowLinkWaitsUntilAboutTheBoundIsLeft) {
  // 32 KB/s acknowledged, 40,192 bytes left, bound 8,192: 32,000 bytes to go, 1 s; held to 50 ms a look.
  EXPECT_EQ(SentWait(Backlog(20'000, 20'192, 600ms, 32'000), 8192), kMaxSentLook);
  // 1,600 bytes above the bound at 32 KB/s: 50 ms; 640 above: 20 ms.
  EXPECT_EQ(SentWait(Backlog(0, 9792, 300ms, 32'000), 8192), 50ms);
  EXPECT_EQ(SentWait(Backlog(0, 8832, 300ms, 32'000), 8192), 20ms);
  // Just above it: at least 2 ms, never a busy loop.
  EXPECT_EQ(SentWait(Backlog(0, 8193, 300ms, 32'000'000), 8192), kMinSentLook);
}

TEST(SentWait, BytesThatCrossedTheLinkAndAwaitOnlyTheirAcknowledgementAreNotLeft) {
  // 32 KB/s over a 300 ms path: 9,600 of the unacknowledged bytes are past the link.
  EXPECT_FALSE(SentWait(Backlog(0, 17'000, 400ms, 32'000, 300ms), 8192)) << "7,400 left: sent";
  // 19,392 held, 9,792 left: 1,600 above the bound, 50 ms.
  EXPECT_EQ(SentWait(Backlog(4000, 15'392, 400ms, 32'000, 300ms), 8192), 50ms);
  // Never more than what is unacknowledged: unsent bytes have not crossed anything.
  EXPECT_EQ(SentWait(Backlog(9000, 1000, 400ms, 32'000, 300ms), 8192), 25ms);
}

TEST(SentWait, AConnectionThatRetransmitsCountsAsSent) {
  // Loss recovery holds this upload a round trip or a timeout: the next one may use the link meanwhile.
  EXPECT_FALSE(SentWait(Backlog(20'000, 20'000, 600ms, 32'000, 300ms, /*recovering=*/true), 8192));
  EXPECT_TRUE(SentWait(Backlog(20'000, 20'000, 600ms, 32'000, 300ms, /*recovering=*/false), 8192));
}

TEST(SentWait, WithoutAMeasuredRateAssumesTheBacklogGoesInARoundTrip) {
  // 16,384 held over a 400 ms round trip: 40,960 B/s; 8,192 to go: 200 ms, held to a look.
  EXPECT_EQ(SentWait(Backlog(8192, 8192, 400ms, 0), 8192), kMaxSentLook);
  // 10,240 held over 100 ms: 102,400 B/s; 2,048 to go: 20 ms.
  EXPECT_EQ(SentWait(Backlog(2048, 8192, 100ms, 0), 8192), 20ms);
}

}  // namespace
}  // namespace opescare::http
