// ClassifyStoreFault: each outbox code gets its kind, a fix in words, and a wait that backs off to a cap.
#include "agent/delivery/store_fault.h"

#include <gtest/gtest.h>

namespace opescare::delivery {
namespace {

using std::chrono::milliseconds;

TEST(ClassifyStoreFault, EachCodeHasItsKindAndFix) {
  struct Case {
    Status status;
    const char* kind;
    const char* fix_part;
  } cases[] = {
      {ResourceExhausted("database or disk is full"), "disk_full", "free space"},
      {DataLoss("malformed"), "corrupt", "doctor"},
      {Unavailable("database is locked"), "locked", "only one agent"},
      {IoError("disk I/O error"), "io", "dmesg"},
      {Internal("bug"), "other", "doctor"},
  };
  for (const auto& c : cases) {
    StoreFault f = ClassifyStoreFault(c.status, "record the outcome of batch b1", 1);
    EXPECT_STREQ(StoreFaultKindName(f.kind), c.kind);
    EXPECT_NE(f.fix.find(c.fix_part), std::string::npos) << f.fix;
    EXPECT_NE(f.message.find("record the outcome of batch b1"), std::string::npos) << f.message;
    EXPECT_NE(f.message.find(c.status.message()), std::string::npos) << f.message;
    EXPECT_NE(f.message.find("records stay queued"), std::string::npos);
  }
}

TEST(ClassifyStoreFault, TheWaitDoublesUpToACap) {
  const Status full = ResourceExhausted("full");
  EXPECT_EQ(ClassifyStoreFault(full, "x", 1).retry_in, milliseconds(1000));
  EXPECT_EQ(ClassifyStoreFault(full, "x", 2).retry_in, milliseconds(2000));
  EXPECT_EQ(ClassifyStoreFault(full, "x", 3).retry_in, milliseconds(4000));
  EXPECT_EQ(ClassifyStoreFault(full, "x", 4).retry_in, milliseconds(5000));  // space may return any moment
  EXPECT_EQ(ClassifyStoreFault(full, "x", 1'000'000).retry_in, milliseconds(5000));
  const Status corrupt = DataLoss("malformed");
  EXPECT_EQ(ClassifyStoreFault(corrupt, "x", 1).retry_in, milliseconds(5000));
  EXPECT_EQ(ClassifyStoreFault(corrupt, "x", 100).retry_in, milliseconds(300'000));
  EXPECT_EQ(ClassifyStoreFault(Unavailable("locked"), "x", 0).retry_in, milliseconds(500));
}

}  // namespace
}  // namespace opescare::delivery
