// Tests for the streaming CSV tokenizer: delimiters, quotes, line ends, row numbers, limits, chunking.
#include "agent/connectors/csv_folder/csv_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace opescare::csv_folder {
namespace {

struct Row {
  int64_t line;
  std::vector<std::string> fields;
  CsvRowProblem problem;
};

std::vector<Row> ReadAll(const std::string& input, CsvReaderOptions options = {}, size_t max_read = SIZE_MAX,
                         char* delimiter = nullptr) {
  StringByteSource source(input, max_read);
  CsvReader reader(&source, options);
  std::vector<Row> rows;
  CsvRow row;
  while (true) {
    Result<bool> got = reader.Next(&row);
    EXPECT_TRUE(got.ok());
    if (!got.ok() || !*got) break;
    Row r{row.line, {}, row.problem};
    for (size_t i = 0; i < row.size(); ++i) r.fields.emplace_back(row.field(i));
    rows.push_back(std::move(r));
  }
  if (delimiter) *delimiter = reader.delimiter();
  return rows;
}

using Fields = std::vector<std::string>;

TEST(SniffDelimiter, PicksTheMostFrequentOutsideQuotes) {
  EXPECT_EQ(SniffDelimiter("a,b,c"), ',');
  EXPECT_EQ(SniffDelimiter("Prénom;Nom;Date de naissance"), ';');
  EXPECT_EQ(SniffDelimiter("a\tb\tc"), '\t');
  EXPECT_EQ(SniffDelimiter("\"a,b,c\";d;e"), ';');      // commas inside quotes do not count
  EXPECT_EQ(SniffDelimiter("\"a,\"\"b,c\";d;e"), ';');  // nor after a doubled quote
  EXPECT_EQ(SniffDelimiter("x;5\" a,b;c"), ';');        // a quote inside a name is just a character
  EXPECT_EQ(SniffDelimiter("a;b,c;d\n,,,,,,,"), ';');   // only the first line counts
  EXPECT_EQ(SniffDelimiter("single"), ',');
  EXPECT_EQ(SniffDelimiter("a,b;c"), ',');  // a tie goes to the comma
}

TEST(CsvReader, SniffingDependsOnTheFileAloneNotOnReadSizes) {
  // Found by the fuzzer: a header longer than a read, and a quote opened in the header before its line end.
  std::string long_header = std::string(40, 'a') + ";" + std::string(40, 'b') + ",c,d\n1;2,3,4\n";
  std::string quoted_newline = "a\"b;c\nd\";e,f,g\n1,2,3\n";
  for (const std::string& input : {long_header, quoted_newline}) {
    char whole = 0;
    ReadAll(input, {}, SIZE_MAX, &whole);
    for (size_t max_read = 1; max_read < 20; ++max_read) {
      CsvReaderOptions options;
      options.chunk_bytes = 16;
      char pieces = 0;
      ReadAll(input, options, max_read, &pieces);
      EXPECT_EQ(pieces, whole) << input << " read " << max_read;
    }
  }
  EXPECT_EQ(SniffDelimiter("a\"b;c\nd\";e,f,g"), ';');  // the line ends at the newline, quoted or not
}

TEST(CsvReader, SniffsFromTheHeaderOrUsesTheForcedDelimiter) {
  char d = 0;
  auto rows = ReadAll("a;b\n1,5;2\n", {}, SIZE_MAX, &d);
  EXPECT_EQ(d, ';');
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields, (Fields{"1,5", "2"}));
  CsvReaderOptions forced;
  forced.delimiter = '|';
  rows = ReadAll("a|b,c\n1|2\n", forced);
  EXPECT_EQ(rows[0].fields, (Fields{"a", "b,c"}));
}

TEST(CsvReader, QuotesDoubledQuotesAndEmbeddedDelimitersAndNewlines) {
  auto rows = ReadAll("h1,h2,h3\n\"a,b\",\"say \"\"hi\"\"\",\"l1\nl2\"\n\"\",x,\"\"\"\"\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].fields, (Fields{"a,b", "say \"hi\"", "l1\nl2"}));
  EXPECT_EQ(rows[2].fields, (Fields{"", "x", "\""}));
  EXPECT_EQ(rows[2].line, 4);  // row 2 spans lines 2 and 3
}

TEST(CsvReader, QuoteInsideAnUnquotedFieldIsLiteralAndTextAfterAClosingQuoteIsKept) {
  auto rows = ReadAll("a,b\n5\" screen,\"ab\"cd\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields, (Fields{"5\" screen", "abcd"}));
}

TEST(CsvReader, AllLineEndsAndRowNumbersArePhysicalLines) {
  for (std::string eol : {"\n", "\r\n", "\r"}) {
    std::string input = "h" + eol + "a" + eol + eol + "b" + eol + "\"c" + eol + "d\"" + eol + "e";
    auto rows = ReadAll(input);
    ASSERT_EQ(rows.size(), 5u) << "eol " << eol.size();
    EXPECT_EQ(rows[0].line, 1);
    EXPECT_EQ(rows[1].line, 2);
    EXPECT_EQ(rows[2].line, 4);  // the blank line 3 is skipped but counted
    EXPECT_EQ(rows[3].line, 5);
    EXPECT_EQ(rows[3].fields, (Fields{"c" + eol + "d"}));
    EXPECT_EQ(rows[4].line, 7);
    EXPECT_EQ(rows[4].fields, (Fields{"e"}));
  }
}

TEST(CsvReader, CrlfSplitAcrossReadsIsOneLineEnd) {
  std::string input = "h1,h2\r\n1,2\r\n\r\n3,4\r\n";
  for (size_t max_read = 1; max_read < 8; ++max_read) {
    CsvReaderOptions options;
    options.chunk_bytes = 16;
    auto rows = ReadAll(input, options, max_read);
    ASSERT_EQ(rows.size(), 3u) << max_read;
    EXPECT_EQ(rows[1].line, 2);
    EXPECT_EQ(rows[2].line, 4);
    EXPECT_EQ(rows[2].fields, (Fields{"3", "4"}));
  }
}

TEST(CsvReader, TrailingBlankLinesAndNoFinalNewline) {
  EXPECT_EQ(ReadAll("h\n1\n\n\n\r\n").size(), 2u);
  auto rows = ReadAll("h,i\n1,");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields, (Fields{"1", ""}));
  EXPECT_TRUE(ReadAll("").empty());
  EXPECT_TRUE(ReadAll("\n\r\n\r").empty());
}

TEST(CsvReader, Utf8BomIsSkippedAndUtf16BomIsFlagged) {
  StringByteSource bom("\xEF\xBB\xBFh1;h2\n");
  CsvReader reader(&bom, {});
  CsvRow row;
  ASSERT_TRUE(*reader.Next(&row));
  EXPECT_TRUE(reader.had_bom());
  EXPECT_EQ(row.field(0), "h1");
  EXPECT_EQ(reader.delimiter(), ';');

  std::string utf16("\xFF\xFEh\0,\0", 6);
  StringByteSource source(utf16);
  CsvReader reader16(&source, {});
  ASSERT_TRUE(*reader16.Next(&row));
  EXPECT_TRUE(reader16.utf16_bom());
}

TEST(CsvReader, HighBytesAndNulMarkTheRowForDecoding) {
  std::string input("h\nabc\n\xE9t\xE9\na\0b\n", 14);  // the source borrows it
  StringByteSource source(input);
  CsvReader reader(&source, {});
  CsvRow row;
  ASSERT_TRUE(*reader.Next(&row));
  ASSERT_TRUE(*reader.Next(&row));
  EXPECT_FALSE(row.needs_decoding);
  ASSERT_TRUE(*reader.Next(&row));
  EXPECT_TRUE(row.needs_decoding);
  ASSERT_TRUE(*reader.Next(&row));
  EXPECT_TRUE(row.needs_decoding);
  EXPECT_EQ(row.field(0), std::string_view("a\0b", 3));
}

TEST(CsvReader, FieldAboveOneMebibyteFailsItsRowAndReadingGoesOn) {
  std::string big(1 << 20, 'x');
  std::string input = "a,b\n1,ok\n2," + big + "y\n3,\"" + big + "\n,still quoted\"\n4,fine\n";
  auto rows = ReadAll(input);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[1].problem, CsvRowProblem::kNone);
  EXPECT_EQ(rows[2].problem, CsvRowProblem::kFieldTooLong);
  EXPECT_TRUE(rows[2].fields.empty());
  EXPECT_EQ(rows[3].problem, CsvRowProblem::kFieldTooLong);
  EXPECT_EQ(rows[3].line, 4);
  EXPECT_EQ(rows[4].line, 6);  // the quoted newline was skipped over correctly
  EXPECT_EQ(rows[4].fields, (Fields{"4", "fine"}));
  // Exactly at the limit is fine.
  rows = ReadAll("a\n" + std::string(1 << 20, 'z') + "\n");
  EXPECT_EQ(rows[1].problem, CsvRowProblem::kNone);
}

TEST(CsvReader, RowAboveFourMebibytesFails) {
  std::string field(900 * 1024, 'x');
  std::string row;
  for (int i = 0; i < 5; ++i) row += (i ? "," : "") + field;
  auto rows = ReadAll("a,b,c,d,e\n" + row + "\n1,2,3,4,5\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].problem, CsvRowProblem::kRowTooLong);
  EXPECT_EQ(rows[2].fields.size(), 5u);
}

TEST(CsvReader, WhichLimitFailsDoesNotDependOnReadSizes) {
  // Found by the fuzzer: a long field that also takes the row over its limit. Byte by byte, the row
  // limit is crossed first here (stored bytes exclude delimiters: 4 x 15 bytes, then the 5th byte of the
  // last field makes 65, while that field is only 5 bytes long).
  CsvReaderOptions small;
  small.limits.max_field_bytes = 16;
  small.limits.max_row_bytes = 64;
  std::string f(15, 'x');
  std::string input = "a,b,c,d,e\n" + f + "," + f + "," + f + "," + f + "," + std::string(40, 'y') + "\nok\n";
  for (size_t max_read : {size_t{1}, size_t{3}, size_t{1000}}) {
    for (size_t chunk : {size_t{16}, size_t{4096}}) {
      small.chunk_bytes = chunk;
      auto rows = ReadAll(input, small, max_read);
      ASSERT_EQ(rows.size(), 3u);
      EXPECT_EQ(rows[1].problem, CsvRowProblem::kRowTooLong) << max_read << " " << chunk;
    }
  }
}

TEST(CsvReader, MoreThanAThousandColumnsFails) {
  std::string ok(999, ','), too_many(1000, ',');
  auto rows = ReadAll("h\n" + ok + "\n" + too_many + "\nlast\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].problem, CsvRowProblem::kNone);
  EXPECT_EQ(rows[1].fields.size(), 1000u);
  EXPECT_EQ(rows[2].problem, CsvRowProblem::kTooManyColumns);
  EXPECT_EQ(rows[3].fields, (Fields{"last"}));
}

TEST(CsvReader, UnterminatedQuoteRunsToTheEndAndIsAProblem) {
  auto rows = ReadAll("a,b\n1,\"open\n2,3\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].problem, CsvRowProblem::kUnterminatedQuote);
  EXPECT_EQ(rows[1].line, 2);
}

TEST(CsvReader, MemoryStaysBoundedOnAHugeUnterminatedField) {
  // 20 MiB inside one quoted field: the reader drops the bytes past the limit instead of keeping them.
  std::string input = "a\n\"" + std::string(20 << 20, 'q');
  StringByteSource source(input);
  CsvReader reader(&source, {});
  CsvRow row;
  ASSERT_TRUE(*reader.Next(&row));
  ASSERT_TRUE(*reader.Next(&row));
  EXPECT_EQ(row.problem, CsvRowProblem::kFieldTooLong);
  EXPECT_EQ(row.size(), 0u);
}

TEST(CsvReader, ReadErrorsAreReturned) {
  class Failing : public ByteSource {
   public:
    Result<size_t> Read(char* buf, size_t n) override {
      if (calls++ == 0) {
        std::string s = "a,b\n1,";
        size_t k = std::min(n, s.size());
        s.copy(buf, k);
        return k;
      }
      return IoError("disk on fire");
    }
    int calls = 0;
  } source;
  CsvReader reader(&source, {});
  CsvRow row;
  Result<bool> first = reader.Next(&row);
  // The first line gathering hits the error while looking for more than the first chunk.
  if (first.ok()) {
    Result<bool> second = reader.Next(&row);
    EXPECT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), Code::kIoError);
  } else {
    EXPECT_EQ(first.status().code(), Code::kIoError);
  }
}

TEST(CsvReader, DescribesProblemsWithTheLimitsInForce) {
  CsvLimits limits;
  EXPECT_EQ(DescribeRowProblem(CsvRowProblem::kFieldTooLong, limits), "field longer than the limit of 1 MiB");
  EXPECT_EQ(DescribeRowProblem(CsvRowProblem::kRowTooLong, limits), "row longer than the limit of 4 MiB");
  EXPECT_EQ(DescribeRowProblem(CsvRowProblem::kTooManyColumns, limits), "row has more columns than the limit of 1000");
}

}  // namespace
}  // namespace opescare::csv_folder
