// Tests for ModeFromAces: the key-file check's view of a Windows access list.
#include "agent/env/acl_mode.h"

#include <gtest/gtest.h>

namespace opescare::env {
namespace {

constexpr uint32_t kFileAllAccess = 0x001F01FF;
constexpr uint32_t kReadAndExecute = 0x001200A9;  // what "Users: Read & execute" grants
constexpr uint32_t kReadAttributes = 0x0080;      // FILE_READ_ATTRIBUTES: sees the size, not the bytes

TEST(ModeFromAcesTest, OnlyTrustedEntriesIsPrivate) {
  const std::vector<AceView> aces = {{true, true, false, kFileAllAccess}, {true, true, false, kFileAllAccess}};
  EXPECT_EQ(ModeFromAces(aces, true, false), 0600u);
  EXPECT_EQ(ModeFromAces(aces, true, true), 0700u);
  EXPECT_EQ(ModeFromAces({}, true, false), 0600u);  // an empty DACL: nobody but the owner's implicit rights
}

TEST(ModeFromAcesTest, UsersReadingIsLike0644) {
  const std::vector<AceView> aces = {{true, true, false, kFileAllAccess}, {true, false, false, kReadAndExecute}};
  EXPECT_EQ(ModeFromAces(aces, true, false), 0644u);
  EXPECT_EQ(ModeFromAces(aces, true, true), 0755u);
  EXPECT_EQ(ModeFromAces({{true, false, false, 0x80000000u}}, true, false), 0644u);  // GENERIC_READ
}

TEST(ModeFromAcesTest, UntrustedWriteAndFullControlCount) {
  EXPECT_EQ(ModeFromAces({{true, false, false, 0x0002}}, true, false), 0622u);
  EXPECT_EQ(ModeFromAces({{true, false, false, kFileAllAccess}}, true, false), 0666u);
  EXPECT_EQ(ModeFromAces({{true, false, false, 0x10000000u}}, true, false), 0666u);  // GENERIC_ALL
}

TEST(ModeFromAcesTest, DenyInheritOnlyAndAttributeOnlyEntriesOpenNothing) {
  EXPECT_EQ(ModeFromAces({{false, false, false, kFileAllAccess}}, true, false), 0600u);
  EXPECT_EQ(ModeFromAces({{true, false, true, kFileAllAccess}}, true, false), 0600u);
  EXPECT_EQ(ModeFromAces({{true, false, false, kReadAttributes}}, true, false), 0600u);
}

TEST(ModeFromAcesTest, ANullDaclOpensEverything) {
  EXPECT_EQ(ModeFromAces({}, false, false), 0666u);
  EXPECT_EQ(ModeFromAces({}, false, true), 0777u);
}

}  // namespace
}  // namespace opescare::env
