// Tests for a file's life (CSV.md steps 3-6) in real temporary folders with a fake outbox.
#include "agent/connectors/csv_folder/file_processor.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/enqueue.h"
#include "agent/connectors/csv_folder/record_id.h"
#include "agent/util/hash.h"
#include "test_support.h"

namespace opescare::csv_folder {
namespace {

using csv_test::FakeSink;
using csv_test::ListNames;
using csv_test::ReadBytes;
using csv_test::TempDir;
using csv_test::WriteBytes;
using Names = std::vector<std::string>;

const std::string kPatients =
    "first_name,last_name,dob,sex,phone\n"
    "Marie,Fouda,1990-07-22,female,+237690000001\n"
    "Paul,Mbarga,1985-13-01,male,+237690000002\n"
    "Awa,Ndiaye,2001-02-03,female,\n";

class FileProcessorTest : public ::testing::Test {
 protected:
  FileProcessorTest() : clock_(std::chrono::system_clock::from_time_t(1795981200)) {  // 2026-11-29T19:40:00Z
    std::filesystem::create_directories(watch_);
  }

  ProcessorOptions Options() {
    ProcessorOptions o;
    o.processed_folder = dir_ / "processed";
    o.failed_folder = dir_ / "failed";
    o.types = RecordTypeTable(config::DefaultRecordTypes());
    return o;
  }
  FileOutcome Run(const std::string& name, const ProcessorOptions& options, const ProgressCallback& progress = {}) {
    FileProcessor processor(options, &sink_, &clock_);
    EXPECT_TRUE(processor.PrepareFolders().ok());
    return processor.Process(watch_ + "/" + name, progress);
  }
  FileOutcome Run(const std::string& name) { return Run(name, Options()); }
  std::string Drop(const std::string& name, const std::string& bytes) {
    WriteBytes(watch_ + "/" + name, bytes);
    return watch_ + "/" + name;
  }

  TempDir dir_;
  std::string watch_ = dir_ / "incoming";
  FakeSink sink_;
  ManualClock clock_;
};

TEST_F(FileProcessorTest, QueuesValidRowsReportsInvalidOnesAndMovesTheFile) {
  Drop("patients_a.csv", kPatients);
  FileOutcome out = Run("patients_a.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kQueued);
  EXPECT_TRUE(out.status.ok()) << out.Summary();
  EXPECT_EQ(out.rows_ok, 2u);
  EXPECT_EQ(out.rows_failed, 1u);
  EXPECT_EQ(out.sha256, Sha256Hex(kPatients));
  EXPECT_EQ(out.record_type, "patient");

  ASSERT_EQ(sink_.files.size(), 1u);
  EXPECT_EQ(sink_.begins, 1);
  EXPECT_EQ(sink_.files[0].info.name, "patients_a.csv");
  EXPECT_EQ(sink_.files[0].info.sha256, Sha256Hex(kPatients));
  EXPECT_EQ(sink_.files[0].info.size_bytes, kPatients.size());
  EXPECT_EQ(sink_.files[0].totals.rows_ok, 2u);
  EXPECT_EQ(sink_.files[0].totals.rows_failed, 1u);
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[0].id, RecordId(Sha256Hex(kPatients), 2));
  EXPECT_EQ(sink_.records[0].data_json,
            R"({"first_name":"Marie","last_name":"Fouda","dob":"1990-07-22","sex":"female","phone":"+237690000001"})");
  EXPECT_EQ(sink_.records[1].source_row, 4);
  EXPECT_EQ(sink_.records[1].data_json,
            R"({"first_name":"Awa","last_name":"Ndiaye","dob":"2001-02-03","sex":"female"})");

  EXPECT_EQ(ListNames(watch_), Names{});
  EXPECT_EQ(ListNames(dir_ / "processed"), Names{"patients_a.csv"});
  EXPECT_EQ(ReadBytes(dir_ / "processed/patients_a.csv"), kPatients);
  EXPECT_EQ(ListNames(dir_ / "failed"), Names{"patients_a.csv.errors.csv"});
  EXPECT_EQ(ReadBytes(dir_ / "failed/patients_a.csv.errors.csv"),
            "row,column,reason\n3,dob,not a valid calendar date\n");
  EXPECT_EQ(out.report_path, dir_ / "failed/patients_a.csv.errors.csv");
  EXPECT_EQ(out.moved_to, dir_ / "processed/patients_a.csv");
}

TEST_F(FileProcessorTest, SummaryAndReportNeverQuoteCellValues) {
  Drop("patients_a.csv", kPatients);
  FileOutcome out = Run("patients_a.csv");
  std::string text = out.Summary() + ReadBytes(dir_ / "failed/patients_a.csv.errors.csv");
  for (const char* value : {"Marie", "Paul", "Mbarga", "+2376", "1985-13-01", "13"}) {
    EXPECT_EQ(text.find(value), std::string::npos) << value << " in: " << text;
  }
  EXPECT_NE(out.Summary().find("queued 2 patient records, 1 row failed"), std::string::npos) << out.Summary();
}

TEST_F(FileProcessorTest, SameContentAgainIsADuplicateEvenUnderAnotherName) {
  Drop("patients_a.csv", kPatients);
  ASSERT_EQ(Run("patients_a.csv").kind, FileOutcome::Kind::kQueued);
  Drop("patients_a.csv", kPatients);  // dropped twice under the same name
  Drop("patients_copy.csv", kPatients);
  FileOutcome again = Run("patients_a.csv");
  FileOutcome copy = Run("patients_copy.csv");
  EXPECT_EQ(again.kind, FileOutcome::Kind::kDuplicate);
  EXPECT_EQ(copy.kind, FileOutcome::Kind::kDuplicate);
  EXPECT_TRUE(again.status.ok());
  EXPECT_EQ(sink_.records.size(), 2u);  // nothing queued twice
  EXPECT_EQ(sink_.begins, 1);
  EXPECT_EQ(ListNames(watch_), Names{});
  EXPECT_EQ(ListNames(dir_ / "processed"),
            (Names{"patients_a.20261129T194000Z.csv", "patients_a.20261129T194000Z.csv.duplicate", "patients_a.csv",
                   "patients_copy.csv", "patients_copy.csv.duplicate"}));
  EXPECT_NE(ReadBytes(dir_ / "processed/patients_copy.csv.duplicate").find(Sha256Hex(kPatients)), std::string::npos);
  EXPECT_NE(copy.Summary().find("already queued"), std::string::npos);
}

TEST_F(FileProcessorTest, NameTakenInProcessedGetsATimestampThenACounter) {
  for (int i = 0; i < 3; ++i) {
    Drop("patients_daily.csv", kPatients + "Extra,Row" + std::to_string(i) + ",2000-01-01,male,\n");
    FileOutcome out = Run("patients_daily.csv");
    ASSERT_EQ(out.kind, FileOutcome::Kind::kQueued) << out.Summary();
  }
  EXPECT_EQ(ListNames(dir_ / "processed"), (Names{"patients_daily.20261129T194000Z-2.csv",
                                                  "patients_daily.20261129T194000Z.csv", "patients_daily.csv"}));
  // The error reports do not overwrite each other either.
  EXPECT_EQ(ListNames(dir_ / "failed"),
            (Names{"patients_daily.csv.20261129T194000Z-2.errors.csv", "patients_daily.csv.20261129T194000Z.errors.csv",
                   "patients_daily.csv.errors.csv"}));
}

TEST_F(FileProcessorTest, NoValidRowGoesToFailedAndQueuesNothing) {
  Drop("patients_bad.csv", "first_name,last_name,dob,sex\nA,B,not-a-date,male\n,B,1990-01-01,female\n");
  FileOutcome out = Run("patients_bad.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRejected);
  EXPECT_TRUE(out.status.ok());
  EXPECT_EQ(out.rows_failed, 2u);
  EXPECT_TRUE(sink_.files.empty());
  EXPECT_EQ(sink_.begins, 0);
  EXPECT_EQ(ListNames(dir_ / "failed"), (Names{"patients_bad.csv", "patients_bad.csv.errors.csv"}));
  EXPECT_EQ(ReadBytes(dir_ / "failed/patients_bad.csv.errors.csv"),
            "row,column,reason\n2,dob,not a date in the format YYYY-MM-DD\n3,first_name,required value is empty\n");
  // The status page's words: counts and where to look, never a cell's value.
  EXPECT_EQ(out.reason, "no valid row (2 rows failed; see patients_bad.csv.errors.csv in the failed folder)");
  EXPECT_EQ(ListNames(dir_ / "processed"), Names{});
}

TEST_F(FileProcessorTest, UnknownNameIsRejectedWithTheKnownFragments) {
  Drop("stock.csv", "a,b\n1,2\n");
  FileOutcome out = Run("stock.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRejected);
  EXPECT_EQ(out.sha256, "");  // not even hashed
  EXPECT_EQ(out.reason.rfind("the file name matches no record type; known name fragments: appointments_", 0), 0u);
  EXPECT_EQ(ReadBytes(dir_ / "failed/stock.csv.errors.csv"),
            "row,column,reason\n,,\"the file name matches no record type; known name fragments: appointments_, "
            "encounters_, lab_results_, patients_, pharmacy_stock_, prescriptions_\"\n");
  EXPECT_EQ(ListNames(dir_ / "failed"), (Names{"stock.csv", "stock.csv.errors.csv"}));
}

TEST_F(FileProcessorTest, MissingColumnRejectsTheWholeFile) {
  Drop("encounters_x.csv", "health_id,notes\nOC-1,ok\n");
  FileOutcome out = Run("encounters_x.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRejected);
  EXPECT_EQ(ReadBytes(dir_ / "failed/encounters_x.csv.errors.csv"),
            "row,column,reason\n1,date,required column missing\n");
  EXPECT_EQ(out.reason, "date: required column missing");
  EXPECT_EQ(sink_.begins, 0);
}

TEST_F(FileProcessorTest, OutboxFullLeavesTheFileWhereItIs) {
  Drop("patients_a.csv", kPatients);
  sink_.full = true;
  FileOutcome out = Run("patients_a.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRetryLater);
  EXPECT_EQ(out.status.code(), Code::kResourceExhausted);
  EXPECT_EQ(ListNames(watch_), Names{"patients_a.csv"});
  EXPECT_EQ(ListNames(dir_ / "failed"), Names{});
  EXPECT_EQ(sink_.begins, 0);
  sink_.full = false;
  EXPECT_EQ(Run("patients_a.csv").kind, FileOutcome::Kind::kQueued);
}

TEST_F(FileProcessorTest, VanishedFileIsNotFoundAndNothingHappens) {
  FileOutcome out = Run("patients_gone.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRetryLater);
  EXPECT_EQ(out.status.code(), Code::kNotFound);
}

TEST_F(FileProcessorTest, UnreadableFileIsRetriedLater) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of their mode";
  std::string path = Drop("patients_a.csv", kPatients);
  std::filesystem::permissions(path, std::filesystem::perms::none);
  FileOutcome out = Run("patients_a.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRetryLater);
  EXPECT_EQ(out.status.code(), Code::kPermissionDenied);
  EXPECT_EQ(ListNames(watch_), Names{"patients_a.csv"});
}

TEST_F(FileProcessorTest, SinkFailureRollsBackAndLeavesTheFile) {
  Drop("patients_a.csv", kPatients);
  sink_.fail_add_after = 1;
  FileOutcome out = Run("patients_a.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRetryLater);
  EXPECT_EQ(out.status.code(), Code::kIoError);
  EXPECT_EQ(sink_.aborts, 1);
  EXPECT_TRUE(sink_.records.empty());
  EXPECT_EQ(ListNames(watch_), Names{"patients_a.csv"});
  // Nothing half-written is left behind (the report's temporary file is removed).
  EXPECT_EQ(ListNames(dir_ / "failed"), Names{});

  sink_.fail_add_after = -1;
  sink_.commit_error = Unavailable("database is locked");
  out = Run("patients_a.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRetryLater);
  EXPECT_EQ(out.status.code(), Code::kUnavailable);
  EXPECT_EQ(ListNames(watch_), Names{"patients_a.csv"});

  sink_.commit_error = Status::Ok();
  sink_.has_file_error = IoError("disk I/O error");
  EXPECT_EQ(Run("patients_a.csv").status.code(), Code::kIoError);
  EXPECT_EQ(ListNames(watch_), Names{"patients_a.csv"});
}

TEST_F(FileProcessorTest, CrashBetweenCommitAndMoveOnlyMovesOnTheNextRun) {
  std::string path = Drop("patients_a.csv", kPatients);
  ProcessorOptions options = Options();
  // Simulate the crash: keep a copy of the file at commit time, and put it back afterwards as if the
  // move never happened.
  options.after_commit = [&](const std::string& p) {
    EXPECT_EQ(p, path);
    EXPECT_EQ(sink_.files.size(), 1u);  // committed before the hook runs
    EXPECT_EQ(ListNames(dir_ / "processed"), Names{});
    std::filesystem::copy_file(p, dir_ / "kept.csv");
  };
  ASSERT_EQ(Run("patients_a.csv", options).kind, FileOutcome::Kind::kQueued);
  std::filesystem::remove(dir_ / "processed/patients_a.csv");
  std::filesystem::rename(dir_ / "kept.csv", path);

  FileOutcome restart = Run("patients_a.csv");
  EXPECT_EQ(restart.kind, FileOutcome::Kind::kDuplicate);
  EXPECT_TRUE(restart.status.ok());
  EXPECT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.begins, 1);
  EXPECT_EQ(ListNames(watch_), Names{});
  EXPECT_EQ(ListNames(dir_ / "processed"), (Names{"patients_a.csv", "patients_a.csv.duplicate"}));
}

TEST_F(FileProcessorTest, FileChangedWhileBeingReadIsRetriedWhole) {
  std::string path = Drop("patients_a.csv", kPatients);
  bool appended = false;
  FileOutcome out = Run("patients_a.csv", Options(), [&](const IngestProgress& p) {
    if (p.phase == IngestProgress::Phase::kParsing && !appended) {
      std::ofstream(path, std::ios::app) << "Late,Row,2000-01-01,male,\n";
      appended = true;
    }
  });
  EXPECT_TRUE(appended);
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRetryLater);
  EXPECT_EQ(out.status.code(), Code::kUnavailable);
  EXPECT_EQ(sink_.aborts, 1);
  EXPECT_TRUE(sink_.files.empty());
  EXPECT_EQ(ListNames(watch_), Names{"patients_a.csv"});
  out = Run("patients_a.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kQueued);
  EXPECT_EQ(out.rows_ok, 3u);
}

TEST_F(FileProcessorTest, MoveSourceFalseLeavesTheFileButStillReports) {
  Drop("patients_a.csv", kPatients);
  ProcessorOptions options = Options();
  options.move_source = false;
  FileOutcome out = Run("patients_a.csv", options);
  EXPECT_EQ(out.kind, FileOutcome::Kind::kQueued);
  EXPECT_TRUE(out.moved_to.empty());
  EXPECT_EQ(ListNames(watch_), Names{"patients_a.csv"});
  EXPECT_EQ(ListNames(dir_ / "failed"), Names{"patients_a.csv.errors.csv"});
}

TEST_F(FileProcessorTest, LargeFileIsOneStreamedTransactionWithProgress) {
  std::string big = "health_id,date,notes\n";
  const int kRows = 200000;
  for (int i = 0; i < kRows; ++i)
    big += "OC-" + std::to_string(i) + ",2026-11-29,visite de contrôle numéro " + std::to_string(i) + "\n";
  Drop("encounters_big.csv", big);
  std::vector<IngestProgress> seen;
  FileOutcome out = Run("encounters_big.csv", Options(), [&](const IngestProgress& p) { seen.push_back(p); });
  EXPECT_EQ(out.kind, FileOutcome::Kind::kQueued);
  EXPECT_EQ(out.rows_ok, static_cast<uint64_t>(kRows));
  EXPECT_EQ(sink_.begins, 1);
  EXPECT_EQ(sink_.records.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(sink_.records.back().source_row, kRows + 1);
  ASSERT_GT(seen.size(), 4u);
  EXPECT_EQ(seen.back().phase, IngestProgress::Phase::kDone);
  uint64_t last_parse = 0;
  for (const IngestProgress& p : seen) {
    EXPECT_EQ(p.bytes_total, big.size());
    EXPECT_LE(p.bytes_done, big.size());
    if (p.phase == IngestProgress::Phase::kParsing) {
      EXPECT_GE(p.bytes_done, last_parse);
      last_parse = p.bytes_done;
    }
  }
  EXPECT_EQ(last_parse, big.size());
}

TEST_F(FileProcessorTest, ForcedEncodingAndDelimiterAndDateFormat) {
  Drop("patients_fr.csv", std::string("Pr\xE9nom|first_name|last_name|dob|sex\nx|Andr\xE9|Eto'o|03/02/1981|male\n"));
  ProcessorOptions options = Options();
  options.encoding = Encoding::kLatin1;
  options.delimiter = '|';
  options.date_format = DateFormat::kDayMonthYear;
  FileOutcome out = Run("patients_fr.csv", options);
  ASSERT_EQ(out.kind, FileOutcome::Kind::kQueued) << out.Summary();
  EXPECT_EQ(sink_.records[0].data_json,
            R"({"prénom":"x","first_name":"André","last_name":"Eto'o","dob":"1981-02-03","sex":"male"})");
}

TEST_F(FileProcessorTest, EnqueueRunsTheSamePipelineAndCreatesTheFolders) {
  std::string path = Drop("lab_results_manual.csv", "health_id,test,result,date\nOC-1,NFS,normal,2026-11-29\n");
  ProcessorOptions options = Options();
  options.processed_folder = dir_ / "elsewhere/processed";
  options.failed_folder = dir_ / "elsewhere/failed";
  int calls = 0;
  FileOutcome out = EnqueueFile(path, options, &sink_, &clock_, [&](const IngestProgress&) { ++calls; });
  EXPECT_EQ(out.kind, FileOutcome::Kind::kQueued) << out.Summary();
  EXPECT_GT(calls, 0);
  EXPECT_EQ(ListNames(dir_ / "elsewhere/processed"), Names{"lab_results_manual.csv"});
  EXPECT_EQ(out.Summary(), "lab_results_manual.csv: queued 1 lab_result record; moved to " +
                               (dir_ / "elsewhere/processed/lab_results_manual.csv"));
  Drop("lab_results_manual.csv", "health_id,test,result,date\nOC-1,NFS,normal,2026-11-29\n");
  EXPECT_EQ(EnqueueFile(path, options, &sink_, &clock_).kind, FileOutcome::Kind::kDuplicate);
}

TEST(PauseHook, WaitsUntilTheFlagFileIsRemoved) {
  TempDir dir;
  std::string flag = dir / "paused";
  ::setenv("OB_TEST_PAUSE_AFTER_COMMIT", flag.c_str(), 1);
  auto hook = PauseHookFromEnv();
  ::unsetenv("OB_TEST_PAUSE_AFTER_COMMIT");
  ASSERT_TRUE(hook);
  std::thread releaser([&] {
    for (int i = 0; i < 500 && !std::filesystem::exists(flag); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(ReadBytes(flag), "/x/patients_a.csv\n");
    std::filesystem::remove(flag);
  });
  auto start = std::chrono::steady_clock::now();
  hook("/x/patients_a.csv");
  releaser.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_FALSE(PauseHookFromEnv());  // unset: no hook
}

}  // namespace
}  // namespace opescare::csv_folder
