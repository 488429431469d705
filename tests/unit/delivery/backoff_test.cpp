// Tests for full-jitter backoff bounds and Retry-After precedence.
#include "agent/delivery/backoff.h"

#include <gtest/gtest.h>

namespace opescare::delivery {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, CeilingDoublesUpToTheCap) {
  BackoffPolicy p{milliseconds(1000), milliseconds(300'000)};
  EXPECT_EQ(BackoffCeiling(p, 0), milliseconds(1000));
  EXPECT_EQ(BackoffCeiling(p, 1), milliseconds(2000));
  EXPECT_EQ(BackoffCeiling(p, 8), milliseconds(256'000));
  EXPECT_EQ(BackoffCeiling(p, 9), milliseconds(300'000));
  EXPECT_EQ(BackoffCeiling(p, 1'000'000), milliseconds(300'000));  // no overflow for huge attempt counts
}

TEST(Backoff, FullJitterStaysWithinZeroAndCeiling) {
  BackoffPolicy p{milliseconds(1000), milliseconds(300'000)};
  for (int attempt = 0; attempt < 40; ++attempt) {
    for (double u : {0.0, 0.25, 0.5, 0.999999}) {
      auto d = BackoffDelay(p, attempt, u, std::nullopt);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d, BackoffCeiling(p, attempt));
    }
  }
  EXPECT_EQ(BackoffDelay(p, 3, 0.5, std::nullopt), milliseconds(4000));
  EXPECT_EQ(BackoffDelay(p, 3, 0.0, std::nullopt), milliseconds(0));
}

TEST(Backoff, OutOfRangeRandomIsClamped) {
  BackoffPolicy p{milliseconds(1000), milliseconds(10'000)};
  EXPECT_EQ(BackoffDelay(p, 2, 7.0, std::nullopt), milliseconds(4000));
  EXPECT_EQ(BackoffDelay(p, 2, -1.0, std::nullopt), milliseconds(0));
}

TEST(Backoff, RetryAfterWinsButIsCapped) {
  BackoffPolicy p{milliseconds(1000), milliseconds(300'000)};
  EXPECT_EQ(BackoffDelay(p, 0, 0.1, milliseconds(3000)), milliseconds(3000));
  EXPECT_EQ(BackoffDelay(p, 10, 0.9, milliseconds(3000)), milliseconds(3000));
  EXPECT_EQ(BackoffDelay(p, 0, 0.1, milliseconds(86'400'000)), milliseconds(300'000));
  EXPECT_EQ(BackoffDelay(p, 0, 0.1, milliseconds(-5)), milliseconds(0));
}

}  // namespace
}  // namespace opescare::delivery
