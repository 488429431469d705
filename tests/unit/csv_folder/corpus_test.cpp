// The corpus (tests/data/csv): every input file through the whole file pipeline must yield exactly the
// records and the error report its .expected.json lists; and the bare record stream, fed in tiny chunks,
// must yield the same records and errors (no dependence on where reads split the input).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/byte_source.h"
#include "agent/connectors/csv_folder/file_processor.h"
#include "agent/connectors/csv_folder/record_id.h"
#include "agent/connectors/csv_folder/record_stream.h"
#include "agent/util/hash.h"
#include "test_support.h"

namespace opescare::csv_folder {
namespace {

namespace json = boost::json;
using csv_test::FakeSink;
using csv_test::ReadBytes;
using csv_test::TempDir;

const std::string kCorpus = std::string(OB_TEST_DATA_DIR) + "/csv";

struct Case {
  std::string name;
  json::object expected;
};

std::vector<Case> LoadCases() {
  std::vector<Case> cases;
  for (const auto& e : std::filesystem::directory_iterator(kCorpus)) {
    std::string name = e.path().filename().string();
    if (e.path().extension() != ".csv") continue;
    std::string expected_path = e.path().string() + ".expected.json";
    Case c{name, {}};
    if (std::filesystem::exists(expected_path)) c.expected = json::parse(ReadBytes(expected_path)).as_object();
    cases.push_back(std::move(c));
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.name < b.name; });
  return cases;
}

ProcessorOptions OptionsFor(const json::object& expected) {
  ProcessorOptions o;
  o.types = RecordTypeTable(config::DefaultRecordTypes());
  if (const json::value* opts = expected.if_contains("options")) {
    const json::object& m = opts->as_object();
    if (auto* v = m.if_contains("date_format")) o.date_format = *ParseDateFormat(v->as_string().c_str());
    if (auto* v = m.if_contains("encoding")) o.encoding = *ParseEncoding(v->as_string().c_str());
    if (auto* v = m.if_contains("delimiter")) o.delimiter = v->as_string()[0];
    if (auto* v = m.if_contains("max_field_bytes")) o.limits.max_field_bytes = v->to_number<size_t>();
    if (auto* v = m.if_contains("max_row_bytes")) o.limits.max_row_bytes = v->to_number<size_t>();
    if (auto* v = m.if_contains("max_columns")) o.limits.max_columns = v->to_number<size_t>();
  }
  return o;
}

struct ErrorLine {
  std::string row, column, reason;
};

// The report is itself a CSV (row,column,reason): read it with the project's reader.
std::vector<ErrorLine> ParseReport(const std::string& text) {
  std::vector<ErrorLine> out;
  StringByteSource source(text);
  CsvReaderOptions options;
  options.delimiter = ',';
  CsvReader reader(&source, options);
  CsvRow row;
  bool header = true;
  while (true) {
    Result<bool> got = reader.Next(&row);
    EXPECT_TRUE(got.ok());
    if (!got.ok() || !*got) break;
    EXPECT_EQ(row.size(), 3u) << text;
    if (row.size() != 3) break;
    if (header) {
      EXPECT_EQ(row.field(0), "row");
      EXPECT_EQ(row.field(1), "column");
      EXPECT_EQ(row.field(2), "reason");
      header = false;
      continue;
    }
    out.push_back({std::string(row.field(0)), std::string(row.field(1)), std::string(row.field(2))});
  }
  return out;
}

void ExpectErrors(const json::object& expected, const std::vector<ErrorLine>& actual, const std::string& where) {
  const json::array& want = expected.at("errors").as_array();
  bool at_least = expected.if_contains("errors_at_least") && expected.at("errors_at_least").as_bool();
  if (!at_least) {
    EXPECT_EQ(actual.size(), want.size()) << where;
  }
  size_t from = 0;
  for (const json::value& w : want) {
    const json::object& e = w.as_object();
    std::string row = e.at("row").is_null() ? "" : std::to_string(e.at("row").to_number<int64_t>());
    std::string column = e.at("column").as_string().c_str();
    std::string reason = e.at("reason").as_string().c_str();
    bool found = false;
    for (size_t i = from; i < actual.size() && !found; ++i) {
      if (actual[i].row == row && actual[i].column == column && actual[i].reason.find(reason) != std::string::npos) {
        found = true;
        if (!at_least) from = i + 1;  // in order
      }
    }
    EXPECT_TRUE(found) << where << ": missing error row=" << row << " column=" << column << " reason~" << reason;
  }
  for (const ErrorLine& a : actual) EXPECT_FALSE(a.reason.empty()) << where;
}

void ExpectRecords(const json::object& expected, const std::vector<Record>& records, const std::string& name,
                   const std::string& sha256, const std::string& where) {
  const json::array& want = expected.at("records").as_array();
  ASSERT_EQ(records.size(), want.size()) << where;
  for (size_t i = 0; i < want.size(); ++i) {
    const json::object& w = want[i].as_object();
    const Record& r = records[i];
    int64_t row = w.at("row").to_number<int64_t>();
    EXPECT_EQ(r.source_row, row) << where << " record " << i;
    EXPECT_EQ(r.type, expected.at("type").as_string().c_str()) << where;
    EXPECT_EQ(r.source_file, name) << where;
    EXPECT_EQ(r.id, RecordId(sha256, row)) << where;
    json::value data;
    ASSERT_NO_THROW(data = json::parse(r.data_json)) << where << ": " << r.data_json;
    EXPECT_EQ(data, w.at("data")) << where << " row " << row << ": got " << r.data_json;
    for (const auto& kv : data.as_object()) EXPECT_TRUE(kv.value().is_string()) << where;
  }
}

class Corpus : public ::testing::TestWithParam<Case> {};

TEST_P(Corpus, FilePipelineYieldsExactlyTheExpectedRecordsAndReport) {
  const Case& c = GetParam();
  ASSERT_FALSE(c.expected.empty()) << c.name << " has no .expected.json";
  TempDir dir;
  std::filesystem::create_directories(dir / "processed");
  std::filesystem::create_directories(dir / "failed");
  std::string path = dir / c.name;
  std::filesystem::copy_file(kCorpus + "/" + c.name, path);
  std::string bytes = ReadBytes(path);

  ProcessorOptions options = OptionsFor(c.expected);
  options.processed_folder = dir / "processed";
  options.failed_folder = dir / "failed";
  FakeSink sink;
  ManualClock clock;
  FileProcessor processor(options, &sink, &clock);
  FileOutcome out = processor.Process(path);

  std::string outcome = c.expected.at("outcome").as_string().c_str();
  EXPECT_TRUE(out.status.ok()) << out.Summary();
  if (outcome == "queued") {
    EXPECT_EQ(out.kind, FileOutcome::Kind::kQueued) << out.Summary();
    EXPECT_EQ(out.moved_to, dir.path() + "/processed/" + c.name);
    ASSERT_EQ(sink.files.size(), 1u);
    EXPECT_EQ(sink.files[0].info.sha256, Sha256Hex(bytes));
    EXPECT_EQ(sink.files[0].totals.rows_ok, c.expected.at("records").as_array().size());
    EXPECT_EQ(sink.files[0].totals.rows_failed, out.rows_failed);
  } else {
    EXPECT_EQ(out.kind, FileOutcome::Kind::kRejected) << out.Summary();
    EXPECT_EQ(out.moved_to, dir.path() + "/failed/" + c.name);
    EXPECT_TRUE(sink.files.empty());
    EXPECT_FALSE(sink.open);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  ExpectRecords(c.expected, sink.records, c.name, Sha256Hex(bytes), c.name);

  std::string report = dir.path() + "/failed/" + c.name + ".errors.csv";
  if (c.expected.at("errors").as_array().empty()) {
    EXPECT_FALSE(std::filesystem::exists(report)) << c.name;
    EXPECT_TRUE(out.report_path.empty());
  } else {
    ASSERT_TRUE(std::filesystem::exists(report)) << c.name;
    EXPECT_EQ(out.report_path, report);
    ExpectErrors(c.expected, ParseReport(ReadBytes(report)), c.name + " report");
  }
  // Nothing else is left behind (no temporary files).
  EXPECT_TRUE(csv_test::ListNames(dir.path()).empty());
}

TEST_P(Corpus, StreamIsIndependentOfReadSizes) {
  const Case& c = GetParam();
  const json::object& expected = c.expected;
  ProcessorOptions options = OptionsFor(expected);
  const TypeRule* rule = options.types.Match(c.name);
  if (rule == nullptr) GTEST_SKIP() << "no record type: the stream is never run";
  std::string bytes = ReadBytes(kCorpus + "/" + c.name);
  Utf8Scanner scanner;
  scanner.Update(bytes);
  scanner.Finish();
  for (size_t max_read : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, size_t{1} << 20}) {
    for (size_t chunk : {size_t{16}, size_t{256 * 1024}}) {
      std::string where = c.name + " read " + std::to_string(max_read) + " chunk " + std::to_string(chunk);
      StringByteSource source(bytes, max_read);
      StreamParams params;
      params.file_name = c.name;
      params.file_sha256 = Sha256Hex(bytes);
      params.rule = *rule;
      params.encoding = options.encoding == Encoding::kAuto ? scanner.Verdict() : options.encoding;
      params.date_format = options.date_format;
      params.reader.delimiter = options.delimiter;
      params.reader.limits = options.limits;
      params.reader.chunk_bytes = chunk;
      CsvRecordStream stream(&source, params);
      Result<std::vector<RowError>> header = stream.Open();
      ASSERT_TRUE(header.ok());
      std::vector<Record> records;
      std::vector<ErrorLine> errors;
      auto add = [&](const RowError& e) {
        errors.push_back({e.row > 0 ? std::to_string(e.row) : "", e.column, e.reason});
      };
      for (const RowError& e : *header) add(e);
      if (header->empty()) {
        while (true) {
          Result<CsvRecordStream::Item> item = stream.Next();
          ASSERT_TRUE(item.ok());
          if (*item == CsvRecordStream::Item::kEnd) break;
          if (*item == CsvRecordStream::Item::kRecord) records.push_back(stream.record());
          for (const RowError& e : stream.row_errors()) add(e);
        }
      }
      ExpectRecords(expected, records, c.name, params.file_sha256, where);
      // The file pipeline adds its own "no data rows" line for a header-only file; the stream does not.
      if (expected.at("outcome") == "rejected" && header->empty()) continue;
      ExpectErrors(expected, errors, where);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Files, Corpus, ::testing::ValuesIn(LoadCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace opescare::csv_folder
