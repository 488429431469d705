// GoogleTest and GoogleMock from the Windows prefix, run under wine by scripts/ci-windows.sh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

TEST(GtestProbe, MatchersWork) {
  const std::string text = "opescare-bridge.exe";
  EXPECT_THAT(text, testing::EndsWith(".exe"));
  EXPECT_EQ(text.size(), 19u);
}
