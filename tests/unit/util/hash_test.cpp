// Tests for SHA-256, hex and UUID helpers.
#include "agent/util/hash.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace opescare {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  Result<Sha256Digest> digest = h.Finish();
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(HexEncode(*digest), Sha256Hex("abc"));
}

TEST(Uuid, IsVersion7AndUnique) {
  std::regex form("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    Result<std::string> id = NewUuid();
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    std::string u = *id;
    EXPECT_TRUE(std::regex_match(u, form)) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace opescare
