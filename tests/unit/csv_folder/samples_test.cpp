// The demo's sample exports (tests/data/samples) ingest completely with the default configuration, and
// what the pipeline reports about them quotes none of the people in them.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/file_processor.h"
#include "test_support.h"

namespace opescare::csv_folder {
namespace {

using csv_test::FakeSink;
using csv_test::ReadBytes;
using csv_test::TempDir;

const std::string kSamples = std::string(OB_TEST_DATA_DIR) + "/samples";

std::vector<std::string> SensitiveValues() {
  std::vector<std::string> out;
  std::istringstream in(ReadBytes(kSamples + "/SENSITIVE.txt"));
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

TEST(Samples, AllRowsIngestWithDefaultsAndNothingPersonalIsReported) {
  std::vector<std::string> sensitive = SensitiveValues();
  ASSERT_GT(sensitive.size(), 20u);
  const std::map<std::string, std::pair<std::string, uint64_t>> expected = {
      {"patients_20261129.csv", {"patient", 8}},
      {"patients_20261130_excel.csv", {"patient", 5}},
      {"encounters_20261129.csv", {"encounter", 6}},
      {"lab_results_20261129.csv", {"lab_result", 6}},
  };
  TempDir dir;
  ProcessorOptions options;
  options.processed_folder = dir / "processed";
  options.failed_folder = dir / "failed";
  options.types = RecordTypeTable(config::DefaultRecordTypes());
  FakeSink sink;
  ManualClock clock;
  FileProcessor processor(options, &sink, &clock);
  ASSERT_TRUE(processor.PrepareFolders().ok());
  std::string all_data;
  for (const auto& [name, want] : expected) {
    std::filesystem::copy_file(kSamples + "/" + name, dir / name);
    size_t before = sink.records.size();
    FileOutcome out = processor.Process(dir / name);
    EXPECT_EQ(out.kind, FileOutcome::Kind::kQueued) << out.Summary();
    EXPECT_EQ(out.record_type, want.first);
    EXPECT_EQ(out.rows_ok, want.second) << name;
    EXPECT_EQ(out.rows_failed, 0u) << name;
    EXPECT_TRUE(out.report_path.empty());
    for (const std::string& value : sensitive)
      EXPECT_EQ(out.Summary().find(value), std::string::npos) << value << " in " << out.Summary();
    for (size_t i = before; i < sink.records.size(); ++i) all_data += sink.records[i].data_json + "\n";
  }
  // The Excel export was decoded from Windows-1252, its header names normalised.
  EXPECT_NE(all_data.find(R"("health_id":"OC-100015","first_name":"Jérôme")"), std::string::npos) << all_data;
  EXPECT_NE(all_data.find(R"("address":"Œuvre sociale — Mvog-Ada")"), std::string::npos);
  EXPECT_NE(all_data.find(R"("address":"Cité Verte; bloc C")"), std::string::npos);
  EXPECT_NE(all_data.find(R"("notes":"Douleur thoracique\nréférée en cardiologie")"), std::string::npos);
  // Every sensitive value really is in the data (the list is not stale).
  for (const std::string& value : sensitive) EXPECT_NE(all_data.find(value), std::string::npos) << value;
}

}  // namespace
}  // namespace opescare::csv_folder
