// Tests for the outbox's pure decisions: validation, wire size, batch filling, split point, error mapping.
#include "agent/outbox/batching.h"

#include <gtest/gtest.h>

#include "agent/outbox/sqlite_db.h"

namespace opescare::outbox {
namespace {

Record Valid() { return {"r_1", "patient", R"({"a":"b"})", "patients_1.csv", 2}; }

TEST(ValidateRecord, AcceptsAWellFormedRecord) { EXPECT_TRUE(ValidateRecord(Valid()).ok()); }

TEST(ValidateRecord, RefusesEachBadField) {
  auto with = [](auto change) {
    Record r = Valid();
    change(r);
    return ValidateRecord(r).code();
  };
  EXPECT_EQ(with([](Record& r) { r.id.clear(); }), Code::kInvalidArgument);
  EXPECT_EQ(with([](Record& r) { r.id.assign(kMaxIdBytes + 1, 'i'); }), Code::kInvalidArgument);
  EXPECT_EQ(with([](Record& r) { r.type.clear(); }), Code::kInvalidArgument);
  EXPECT_EQ(with([](Record& r) { r.data_json = "[1,2]"; }), Code::kInvalidArgument);
  EXPECT_EQ(with([](Record& r) { r.data_json = ""; }), Code::kInvalidArgument);
  EXPECT_EQ(with([](Record& r) { r.data_json = "{" + std::string(kMaxDataBytes, ' ') + "}"; }), Code::kInvalidArgument);
  EXPECT_EQ(with([](Record& r) { r.source_row = -1; }), Code::kInvalidArgument);
  EXPECT_EQ(with([](Record& r) { r.data_json = "  {\"x\":\"y\"}\n"; }), Code::kOk);
}

TEST(RecordWireSize, CountsEveryTransmittedField) {
  Record r = Valid();
  uint64_t base = RecordWireSize(r);
  r.data_json += std::string(100, ' ');
  EXPECT_EQ(RecordWireSize(r), base + 100);
  r.source_file += "abc";
  EXPECT_EQ(RecordWireSize(r), base + 103);
  EXPECT_GT(base, r.id.size() + r.type.size() + 9);  // framing is counted
}

TEST(TakeNext, BoundsByCountAndBytesButAlwaysTakesOne) {
  BatchLimits limits{3, 100};
  EXPECT_TRUE(TakeNext(0, 0, 5000, limits));  // oversized first record travels alone
  EXPECT_FALSE(TakeNext(1, 5000, 1, limits));
  EXPECT_TRUE(TakeNext(2, 60, 40, limits));  // exactly max_bytes fits
  EXPECT_FALSE(TakeNext(2, 60, 41, limits));
  EXPECT_FALSE(TakeNext(3, 3, 1, limits));  // max_records reached
}

TEST(SplitPoint, FirstHalfIsTheSmallerHalf) {
  EXPECT_EQ(SplitPoint(2), 1u);
  EXPECT_EQ(SplitPoint(3), 1u);
  EXPECT_EQ(SplitPoint(500), 250u);
}

TEST(CodeForSqlite, MapsTheErrorsThatDecideWhatToDo) {
  using internal::CodeForSqlite;
  EXPECT_EQ(CodeForSqlite(SQLITE_FULL), Code::kResourceExhausted);
  EXPECT_EQ(CodeForSqlite(SQLITE_CORRUPT), Code::kDataLoss);
  EXPECT_EQ(CodeForSqlite(SQLITE_NOTADB), Code::kDataLoss);
  EXPECT_EQ(CodeForSqlite(SQLITE_BUSY), Code::kUnavailable);
  EXPECT_EQ(CodeForSqlite(SQLITE_BUSY_SNAPSHOT), Code::kUnavailable);
  EXPECT_EQ(CodeForSqlite(SQLITE_IOERR_FSYNC), Code::kIoError);
  EXPECT_EQ(CodeForSqlite(SQLITE_READONLY), Code::kPermissionDenied);
  EXPECT_EQ(CodeForSqlite(SQLITE_CONSTRAINT_UNIQUE), Code::kInvalidArgument);
  EXPECT_EQ(CodeForSqlite(SQLITE_MISUSE), Code::kInternal);
}

}  // namespace
}  // namespace opescare::outbox
