// Retry-After: delta-seconds, HTTP-dates (relative to the response's Date), past, negative, huge, garbage.
#include "agent/bridge/retry_after.h"

#include <gtest/gtest.h>

#include "agent/bridge/http_date.h"
#include "agent/http/client.h"

namespace opescare::bridge {
namespace {

using std::chrono::seconds;
using Time = std::chrono::system_clock::time_point;

const Time kNow = Time(seconds(1764445200));  // 2025-11-29T19:40:00Z
const seconds kMax(300);

TEST(ParseRetryAfter, DeltaSeconds) {
  EXPECT_EQ(ParseRetryAfter("3", std::nullopt, kNow, kMax), seconds(3));
  EXPECT_EQ(ParseRetryAfter("0", std::nullopt, kNow, kMax), seconds(0));
  EXPECT_EQ(ParseRetryAfter(" 120 ", std::nullopt, kNow, kMax), seconds(120));
}

TEST(ParseRetryAfter, HugeValuesAreCapped) {
  EXPECT_EQ(ParseRetryAfter("301", std::nullopt, kNow, kMax), kMax);
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999999", std::nullopt, kNow, kMax), kMax);
  EXPECT_EQ(ParseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", std::nullopt, kNow, kMax), kMax);
}

TEST(ParseRetryAfter, NegativeFractionalAndGarbageAreIgnored) {
  for (const char* v :
       {"-5", "-0", "3.5", "", "  ", "soon", "1e3", "0x10", "+3", "3 s", "Fri, 32 Dec 2025 00:00:00 GMT"}) {
    EXPECT_FALSE(ParseRetryAfter(v, std::nullopt, kNow, kMax).has_value()) << v;
  }
}

TEST(ParseRetryAfter, HttpDateRelativeToTheResponseDate) {
  // The server's clock says 19:40:00 and asks for 19:40:30; the local clock is an hour off: still 30 s.
  Time server_date = *ParseHttpDate("Sat, 29 Nov 2025 19:40:00 GMT");
  Time local_now = server_date - std::chrono::hours(1);
  EXPECT_EQ(ParseRetryAfter("Sat, 29 Nov 2025 19:40:30 GMT", server_date, local_now, kMax), seconds(30));
}

TEST(ParseRetryAfter, HttpDateWithoutDateUsesLocalNow) {
  EXPECT_EQ(ParseRetryAfter(FormatHttpDate(kNow + seconds(42)), std::nullopt, kNow, kMax), seconds(42));
}

TEST(ParseRetryAfter, PastDateMeansNow) {
  EXPECT_EQ(ParseRetryAfter(FormatHttpDate(kNow - seconds(600)), std::nullopt, kNow, kMax), seconds(0));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow, kNow, kMax), seconds(0));
}

TEST(RetryAfterOf, ReadsTheResponseHeaders) {
  http::Response r;
  r.status = 429;
  EXPECT_FALSE(RetryAfterOf(r, kNow, kMax).has_value());
  r.headers = {{"date", "Sat, 29 Nov 2025 19:40:00 GMT"}, {"retry-after", "Sat, 29 Nov 2025 19:40:05 GMT"}};
  EXPECT_EQ(RetryAfterOf(r, kNow - std::chrono::hours(5), kMax), seconds(5));
  r.headers = {{"Retry-After", "7"}};
  EXPECT_EQ(RetryAfterOf(r, kNow, kMax), seconds(7));
}

TEST(HttpDate, ParsesTheThreeForms) {
  Time expected = Time(seconds(784111777));  // 1994-11-06T08:49:37Z
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994"), expected);
  EXPECT_EQ(ParseHttpDate("  Sun, 06 Nov 1994 08:49:37 GMT "), expected);
}

TEST(HttpDate, RejectsMalformedDates) {
  for (const char* v :
       {"", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 31 Feb 2024 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT", "1994-11-06T08:49:37Z", "Sun, 06 Nov 1994 08:49:37 GMTx"}) {
    EXPECT_FALSE(ParseHttpDate(v).has_value()) << v;
  }
  EXPECT_TRUE(ParseHttpDate("Thu, 29 Feb 2024 00:00:00 GMT").has_value());
}

TEST(HttpDate, FormatRoundTrips) {
  EXPECT_EQ(FormatHttpDate(Time(seconds(784111777))), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatHttpDate(Time(seconds(0))), "Thu, 01 Jan 1970 00:00:00 GMT");
  for (int64_t t : {0LL, 951782400LL, 1709164800LL, 1764445200LL, 4102444799LL}) {
    Time tp{seconds(t)};
    EXPECT_EQ(ParseHttpDate(FormatHttpDate(tp)), tp) << t;
  }
}

}  // namespace
}  // namespace opescare::bridge
