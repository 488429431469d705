// Tests for row validation and mapping in CsvRecordStream beyond the corpus: encoding decisions and
// edge cases of headers and rows.
#include "agent/connectors/csv_folder/record_stream.h"

#include <gtest/gtest.h>

#include "agent/util/hash.h"

namespace opescare::csv_folder {
namespace {

struct Output {
  std::vector<RowError> file_errors;
  std::vector<Record> records;
  std::vector<RowError> errors;
};

Output Ingest(const std::string& csv, Encoding encoding, std::vector<std::string> required = {}) {
  StringByteSource source(csv);
  StreamParams params;
  params.file_name = "x.csv";
  params.file_sha256 = Sha256Hex(csv);
  params.rule = TypeRule{"x_", "thing", std::move(required)};
  params.encoding = encoding;
  CsvRecordStream stream(&source, params);
  Output out;
  Result<std::vector<RowError>> header = stream.Open();
  EXPECT_TRUE(header.ok());
  out.file_errors = *header;
  if (!out.file_errors.empty()) return out;
  for (;;) {
    Result<CsvRecordStream::Item> item = stream.Next();
    EXPECT_TRUE(item.ok());
    if (!item.ok() || *item == CsvRecordStream::Item::kEnd) break;
    if (*item == CsvRecordStream::Item::kRecord) out.records.push_back(stream.record());
    for (const RowError& e : stream.row_errors()) out.errors.push_back(e);
  }
  EXPECT_EQ(stream.rows_ok(), out.records.size());
  return out;
}

TEST(RecordStream, AMultiByteSequenceSplitByADelimiterIsInvalidInBothFields) {
  // Joined, "\xC3" + "\xA9" would be a valid "é": each field must still be checked on its own.
  Output out = Ingest("a,b\nx\xC3,\xA9y\nok,\xC3\xA9\n", Encoding::kUtf8);
  ASSERT_EQ(out.errors.size(), 2u);
  EXPECT_EQ(out.errors[0].row, 2);
  EXPECT_EQ(out.errors[0].column, "a");
  EXPECT_EQ(out.errors[1].column, "b");
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].data_json, R"({"a":"ok","b":"é"})");
}

TEST(RecordStream, AutoWithoutAVerdictDecidesOnTheFirstNonAsciiCell) {
  Output cp = Ingest("name\nabc\nH\xE9l\xE8ne\nNo\xEBl\n", Encoding::kAuto);
  ASSERT_EQ(cp.records.size(), 3u);
  EXPECT_EQ(cp.records[1].data_json, R"({"name":"Hélène"})");
  EXPECT_EQ(cp.records[2].data_json, R"({"name":"Noël"})");
  Output utf = Ingest("name\nH\xC3\xA9l\xC3\xA8ne\nRen\xE9\n", Encoding::kAuto);
  ASSERT_EQ(utf.records.size(), 1u);
  ASSERT_EQ(utf.errors.size(), 1u);
  EXPECT_EQ(utf.errors[0].reason, "invalid UTF-8 (byte 0xE9)");
}

TEST(RecordStream, HeaderProblems) {
  Output dup = Ingest("a,B,b\n1,2,3\n", Encoding::kUtf8);
  ASSERT_EQ(dup.file_errors.size(), 1u);
  EXPECT_EQ(dup.file_errors[0].column, "b");
  EXPECT_EQ(dup.file_errors[0].reason, "duplicate column (columns 2 and 3)");

  Output bad = Ingest("a,b\x81\n1,2\n", Encoding::kWindows1252, {"a"});
  ASSERT_EQ(bad.file_errors.size(), 1u);
  EXPECT_EQ(bad.file_errors[0].column, "column 2");
  EXPECT_EQ(bad.file_errors[0].reason, "header: byte 0x81 is undefined in Windows-1252");

  Output missing = Ingest("a\n1\n", Encoding::kUtf8, {"a", "First Name", "dob"});
  ASSERT_EQ(missing.file_errors.size(), 2u);
  EXPECT_EQ(missing.file_errors[0].column, "First Name");  // as configured (RecordTypeTable normalises)
  EXPECT_EQ(missing.file_errors[1].column, "dob");

  Output huge = Ingest(std::string(1000, ',') + "\n", Encoding::kUtf8);
  ASSERT_EQ(huge.file_errors.size(), 1u);
  EXPECT_EQ(huge.file_errors[0].reason, "header: row has more columns than the limit of 1000");
}

TEST(RecordStream, UnnamedColumnsKeepTheirCellsAndBlankRowsAreSkipped) {
  Output out = Ingest("a,,c\n1,2,3\n,,\n , ,\t\n4,,\n", Encoding::kUtf8);
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_EQ(out.records[0].data_json, R"({"a":"1","column_2":"2","c":"3"})");
  EXPECT_EQ(out.records[1].data_json, R"({"a":"4"})");
  EXPECT_EQ(out.records[1].source_row, 5);
}

TEST(RecordStream, EveryProblemOfARowIsReported) {
  Output out = Ingest("first_name,dob,visit_date\n,31/01/2026,2026-02-30\n", Encoding::kUtf8, {"first_name", "dob"});
  ASSERT_EQ(out.errors.size(), 3u);
  EXPECT_EQ(out.errors[0].column, "first_name");
  EXPECT_EQ(out.errors[1].column, "dob");
  EXPECT_EQ(out.errors[1].reason, "not a date in the format YYYY-MM-DD");
  EXPECT_EQ(out.errors[2].column, "visit_date");
  EXPECT_EQ(out.errors[2].reason, "not a valid calendar date");
  EXPECT_TRUE(out.records.empty());
}

TEST(RecordStream, ValuesAreTrimmedAndEscaped) {
  Output out = Ingest("a,b\n  x  ,\"say \"\"hi\"\"\\\n\tthere\"\n", Encoding::kUtf8);
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].data_json, R"({"a":"x","b":"say \"hi\"\\\n\tthere"})");
}

}  // namespace
}  // namespace opescare::csv_folder
