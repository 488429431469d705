// gzip compression round trip and the decompression bound.
#include "agent/http/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

namespace opescare::http {
namespace {

// What a server does with a gzip body: zlib's inflate, independent of the agent's libdeflate.
std::string ZlibInflate(const std::string& packed, size_t size) {
  std::string out(size + 1, '\0');
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  zs.avail_in = static_cast<uInt>(packed.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

// A gzip member of text made by zlib, as a server's gzip module makes its answers.
std::string ZlibDeflate(const std::string& text) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(text.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

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
    EXPECT_EQ(ZlibInflate(*packed, text.size()), text) << level;
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

TEST(Gzip, TheBoundIsExact) {
  std::string text(70000, 'a');
  auto packed = GzipCompress(text);
  ASSERT_TRUE(packed.ok());
  EXPECT_EQ(*GzipDecompress(*packed, text.size()), text);
  auto over = GzipDecompress(*packed, text.size() - 1);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), Code::kResourceExhausted);
}

TEST(Gzip, InflatesZlibsGzip) {  // what servers send
  std::string text;
  for (int i = 0; i < 5000; ++i) text += R"({"id":"r_)" + std::to_string(i) + R"("},)";
  auto back = GzipDecompress(ZlibDeflate(text), text.size());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, text);
}

TEST(Gzip, InflatesTheFirstMemberAndSaysWhereItEnds) {
  std::string text(3000, 'q');
  auto packed = GzipCompress(text);
  ASSERT_TRUE(packed.ok());
  auto second = GzipCompress("second member");
  ASSERT_TRUE(second.ok());
  for (const std::string& after : {std::string("junk after it"), *second}) {
    size_t consumed = 0;
    auto back = GzipDecompress(*packed + after, 1 << 20, &consumed);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, text);
    EXPECT_EQ(consumed, packed->size());
  }
}

TEST(Gzip, RejectsGarbageTruncationAndAWrongTrailer) {
  auto packed = GzipCompress(std::string(5000, 'x') + "tail");
  ASSERT_TRUE(packed.ok());
  std::string wrong_size = *packed;
  wrong_size[wrong_size.size() - 4] ^= 0x01;  // ISIZE, the stated size, off by one
  std::string wrong_crc = *packed;
  wrong_crc[wrong_crc.size() - 8] ^= 0x01;
  for (const std::string& bad :
       {std::string("not gzip at all"), std::string("\x1f\x8b not gzip"), packed->substr(0, packed->size() - 6),
        packed->substr(0, 12), wrong_size, wrong_crc}) {
    auto out = GzipDecompress(bad, 100000);
    ASSERT_FALSE(out.ok()) << bad.size();
    EXPECT_EQ(out.status().code(), Code::kInvalidArgument) << bad.size() << ": " << out.status().ToString();
  }
}

}  // namespace
}  // namespace opescare::http
