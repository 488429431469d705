// gzip compression round trip and the decompression bound.
#include "agent/http/gzip.h"

#include <gtest/gtest.h>

#include <random>

namespace opescare::http {
namespace {

TEST(Gzip, RoundTripsTextAndBinary) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += R"({"id":"r_)" + std::to_string(i) + R"(","type":"patient"},)";
  auto packed = GzipCompress(text);
  ASSERT_TRUE(packed.ok());
  EXPECT_LT(packed->size(), text.size() / 5);
  EXPECT_EQ(static_cast<unsigned char>((*packed)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*packed)[1]), 0x8b);
  auto back = GzipDecompress(*packed, text.size());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, text);

  std::string noise(300000, '\0');
  std::mt19937 rng(42);
  for (auto& c : noise) c = static_cast<char>(rng());
  auto packed_noise = GzipCompress(noise, 1);
  ASSERT_TRUE(packed_noise.ok());
  EXPECT_EQ(*GzipDecompress(*packed_noise, noise.size()), noise);
}

TEST(Gzip, EveryLevelGivesGzipThatZlibInflates) {
  std::string text;
  for (int i = 0; i < 3000; ++i)
    text += R"({"first_name":"H\u00e9l\u00e8ne","dob":"19)" + std::to_string(50 + i % 50) + "\"},";
  size_t level1 = 0, level12 = 0;
  for (int level = kMinGzipLevel; level <= kMaxGzipLevel; ++level) {
    auto packed = GzipCompress(text, level);
    ASSERT_TRUE(packed.ok()) << level;
    auto back = GzipDecompress(*packed, text.size());  // zlib, as a server would
    ASSERT_TRUE(back.ok()) << level << ": " << back.status().ToString();
    EXPECT_EQ(*back, text) << level;
    if (level == kMinGzipLevel) level1 = packed->size();
    if (level == kMaxGzipLevel) level12 = packed->size();
  }
  EXPECT_LT(level12, level1);  // the level reaches the compressor
}

TEST(Gzip, RefusesALevelOutsideTheRange) {
  for (int level : {kMinGzipLevel - 1, kMaxGzipLevel + 1, -1}) {
    auto packed = GzipCompress("data", level);
    ASSERT_FALSE(packed.ok()) << level;
    EXPECT_EQ(packed.status().code(), Code::kInvalidArgument);
    EXPECT_NE(packed.status().message().find("1..12"), std::string::npos) << packed.status().message();
  }
}

TEST(Gzip, EmptyInput) {
  auto packed = GzipCompress("");
  ASSERT_TRUE(packed.ok());
  auto back = GzipDecompress(*packed, 0);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "");
}

TEST(Gzip, DecompressionIsBounded) {
  std::string zeros(10 << 20, '0');
  auto bomb = GzipCompress(zeros, 9);
  ASSERT_TRUE(bomb.ok());
  auto out = GzipDecompress(*bomb, 1 << 20);
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kResourceExhausted);
}

TEST(Gzip, RejectsGarbageAndTruncation) {
  EXPECT_FALSE(GzipDecompress("not gzip at all", 1000).ok());
  auto packed = GzipCompress(std::string(5000, 'x') + "tail");
  ASSERT_TRUE(packed.ok());
  EXPECT_FALSE(GzipDecompress(packed->substr(0, packed->size() - 6), 100000).ok());
}

}  // namespace
}  // namespace opescare::http
