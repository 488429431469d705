// The portable calendar helpers of agent/util/clock.h (gmtime_r, timegm and strptime differ by platform).
#include "agent/util/clock.h"

#include <gtest/gtest.h>

namespace opescare {
namespace {

using std::chrono::system_clock;

TEST(Iso8601, FormatsAndParsesBackToTheSameSecond) {
  const system_clock::time_point t = system_clock::from_time_t(1795981200);  // 2026-11-29T19:40:00Z
  EXPECT_EQ(FormatIso8601Utc(t), "2026-11-29T19:40:00Z");
  auto back = ParseIso8601Utc("2026-11-29T19:40:00Z");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, t);
  EXPECT_EQ(ParseIso8601Utc("1970-01-01T00:00:00Z"), system_clock::from_time_t(0));
}

TEST(Iso8601, RefusesAnyOtherText) {
  EXPECT_FALSE(ParseIso8601Utc("").has_value());
  EXPECT_FALSE(ParseIso8601Utc("2026-11-29 19:40:00").has_value());
  EXPECT_FALSE(ParseIso8601Utc("2026-11-29T19:40:00+01:00").has_value());
  EXPECT_FALSE(ParseIso8601Utc("2026-11-29T19:40:00Zjunk").has_value());
}

TEST(UtcCalendar, UtcTmAndFromUtcTmAreInverses) {
  const system_clock::time_point t = system_clock::from_time_t(951782400);  // 2000-02-29T00:00:00Z, a leap day
  std::tm tm = UtcTm(t);
  EXPECT_EQ(tm.tm_year, 100);
  EXPECT_EQ(tm.tm_mon, 1);
  EXPECT_EQ(tm.tm_mday, 29);
  EXPECT_EQ(FromUtcTm(tm), t);
}

}  // namespace
}  // namespace opescare
