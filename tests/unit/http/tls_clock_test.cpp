// Whether a refused certificate names the local clock (PROTOCOL.md "Clock"): the pure judgement and
// the words of the error.
#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

#include "agent/http/tls.h"

namespace opescare::http::internal {
namespace {

using namespace std::chrono_literals;
using SysTime = std::chrono::system_clock::time_point;
constexpr auto kDay = 24h;

const SysTime kT = SysTime(std::chrono::seconds(1'796'000'000));  // 2026-11-30T00:53:20Z

VerifyFailure Expired(SysTime local, SysTime server_time = {}) {
  VerifyFailure f;
  f.error = X509_V_ERR_CERT_HAS_EXPIRED;
  f.cert.subject = "CN=127.0.0.1";
  f.cert.not_before = kT - 30 * kDay;
  f.cert.not_after = kT + 60 * kDay;  // a 90-day certificate
  f.local_now = local;
  f.checked_at = local;
  f.server_time = server_time;
  return f;
}

TEST(TlsClock, ValidAtTheLastKnownServerTimeAndClockFarPastIt) {
  VerifyFailure f = Expired(kT + 730 * kDay, kT);
  EXPECT_EQ(SuspectClock(f), ClockSuspect::kAhead);
  std::string text = DescribeVerifyFailure(f, "127.0.0.1");
  EXPECT_NE(text.find("certificate has expired (notAfter=2027-01-29"), std::string::npos) << text;
  EXPECT_NE(text.find("is 730 days ahead of the last known server time (2026-11-30"), std::string::npos) << text;
  EXPECT_NE(text.find("the clock is the likely cause"), std::string::npos) << text;
}

TEST(TlsClock, ExpiredAlreadyAtTheLastKnownServerTimeIsTheCertificatesFault) {
  VerifyFailure f = Expired(kT + 730 * kDay, kT + 700 * kDay);
  EXPECT_EQ(SuspectClock(f), ClockSuspect::kNone);
  EXPECT_EQ(DescribeVerifyFailure(f, "h").find("clock"), std::string::npos);
}

TEST(TlsClock, ExpiredJustAfterTheLastContactIsNotBlamedOnTheClock) {
  // Seen 20 days ago, expired since: an agent offline for a while; the clock could well be right.
  VerifyFailure f = Expired(kT + 70 * kDay, kT + 50 * kDay);
  EXPECT_EQ(SuspectClock(f), ClockSuspect::kNone);
}

TEST(TlsClock, WithoutAServerTimeTheCertificatesOwnValidityDecides) {
  // Expired 670 days ago, valid for 90: a clock far ahead is the likely story.
  VerifyFailure far = Expired(kT + 730 * kDay);
  EXPECT_EQ(SuspectClock(far), ClockSuspect::kAhead);
  std::string text = DescribeVerifyFailure(far, "h");
  EXPECT_NE(text.find("it expired 670 days ago by this machine's clock"), std::string::npos) << text;
  EXPECT_NE(text.find("longer than it was ever valid (90 days)"), std::string::npos) << text;
  EXPECT_NE(text.find("the clock is likely ahead"), std::string::npos) << text;
  // Expired 20 days ago: a certificate nobody renewed.
  EXPECT_EQ(SuspectClock(Expired(kT + 80 * kDay)), ClockSuspect::kNone);
  // Expired 60 days ago, but it was valid for 90: still the certificate's.
  EXPECT_EQ(SuspectClock(Expired(kT + 120 * kDay)), ClockSuspect::kNone);
}

TEST(TlsClock, NotYetValidNamesTheClockBehind) {
  VerifyFailure f;
  f.error = X509_V_ERR_CERT_NOT_YET_VALID;
  f.cert.not_before = kT;
  f.cert.not_after = kT + 90 * kDay;
  f.local_now = kT - 365 * kDay;
  f.checked_at = kT - 10 * kDay;  // the floor helped, not enough
  EXPECT_EQ(SuspectClock(f), ClockSuspect::kBehind);
  std::string text = DescribeVerifyFailure(f, "h");
  EXPECT_NE(text.find("is not yet valid (notBefore=2026-11-30"), std::string::npos) << text;
  EXPECT_NE(text.find("checked at 2026-11-20"), std::string::npos) << text;
  EXPECT_NE(text.find("is 10 days before it"), std::string::npos) << text;
  EXPECT_NE(text.find("CMOS battery"), std::string::npos) << text;
}

TEST(TlsClock, OtherFailuresNeverNameTheClock) {
  VerifyFailure f = Expired(kT + 730 * kDay, kT);
  f.error = X509_V_ERR_HOSTNAME_MISMATCH;
  EXPECT_EQ(SuspectClock(f), ClockSuspect::kNone);
  EXPECT_EQ(DescribeVerifyFailure(f, "h").find("clock"), std::string::npos);
}

}  // namespace
}  // namespace opescare::http::internal
