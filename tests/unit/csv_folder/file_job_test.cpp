// Tests for a file's life in slices (FileJob): each Step does at most its budget, commits what it added with
// the file's progress, and a job interrupted at any slice is resumed by the next attempt exactly once.
#include "agent/connectors/csv_folder/file_job.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "agent/config/config.h"
#include "test_support.h"

namespace opescare::csv_folder {
namespace {

using csv_test::FakeSink;
using csv_test::ListNames;
using csv_test::TempDir;
using csv_test::WriteBytes;

// n valid patients, with every 10th row invalid (bad date): rows 2..n+1 of the file.
std::string Patients(int n) {
  std::string s = "first_name,last_name,dob,sex\n";
  for (int i = 0; i < n; ++i) {
    s += "P" + std::to_string(i) + ",Fouda," + (i % 10 == 9 ? "1990-13-40" : "1990-07-22") + ",female\n";
  }
  return s;
}

class FileJobTest : public ::testing::Test {
 protected:
  FileJobTest() : clock_(std::chrono::system_clock::from_time_t(1795981200)) {
    std::filesystem::create_directories(watch_);
    options_.processed_folder = dir_ / "processed";
    options_.failed_folder = dir_ / "failed";
    options_.types = RecordTypeTable(config::DefaultRecordTypes());
    std::filesystem::create_directories(options_.processed_folder);
    std::filesystem::create_directories(options_.failed_folder);
  }
  SliceBudget Rows(uint64_t n, uint64_t hash_bytes = 64) {  // 64: hashing in slices too
    SliceBudget b;
    b.max_rows = n;
    b.max_bytes = hash_bytes;
    return b;
  }
  // Steps until done; returns how many Steps it took.
  int RunToEnd(FileJob& job, const SliceBudget& budget) {
    int steps = 1;
    while (!job.Step(budget)) ++steps;
    return steps;
  }
  std::set<std::string> Ids() const {
    std::set<std::string> ids;
    for (const Record& r : sink_.records) ids.insert(r.id);
    return ids;
  }

  TempDir dir_;
  std::string watch_ = dir_ / "incoming";
  ProcessorOptions options_;
  FakeSink sink_;
  ManualClock clock_;
};

TEST_F(FileJobTest, AFileLargerThanASliceIsQueuedInSeveralCommitsWithItsProgress) {
  const std::string path = watch_ + "/patients_big.csv";
  WriteBytes(path, Patients(100));
  FileJob job(options_, &sink_, &clock_, path);
  int steps = 1;
  while (!job.Step(Rows(30))) {
    ++steps;
    EXPECT_TRUE(sink_.pending.empty()) << "a slice ended with records not committed";
  }
  const FileOutcome& out = job.outcome();
  EXPECT_EQ(out.kind, FileOutcome::Kind::kQueued) << out.Summary();
  EXPECT_EQ(out.rows_ok, 90u);
  EXPECT_EQ(out.rows_failed, 10u);
  EXPECT_EQ(out.rows_added, 90u);
  EXPECT_GE(sink_.slices, 3);  // 100 rows at 30 a slice
  EXPECT_GT(steps, 4);         // hashing took slices of its own
  EXPECT_EQ(sink_.records.size(), 90u);
  EXPECT_EQ(Ids().size(), 90u);
  EXPECT_TRUE(sink_.progress.empty()) << "the final commit ends the file's progress";
  ASSERT_EQ(sink_.files.size(), 1u);
  EXPECT_EQ(ListNames(options_.processed_folder), std::vector<std::string>{"patients_big.csv"});
}

TEST_F(FileJobTest, AnInterruptedJobIsResumedExactlyOnceWithACompleteReport) {
  const std::string path = watch_ + "/patients_resume.csv";
  WriteBytes(path, Patients(100));
  int resumed_with_progress = 0;
  for (int stop_after = 1; stop_after < 12; ++stop_after) {
    FakeSink sink;
    {
      FileJob job(options_, &sink, &clock_, path);
      bool done = false;
      for (int i = 0; i < stop_after && !done; ++i) done = job.Step(Rows(17, 1 << 20));  // hashed at once
      if (done) break;  // the file was done before this many steps: every interruption point was tried
    }  // destroyed mid-file: a stop, or a crash after its last slice committed
    EXPECT_TRUE(sink.pending.empty());
    resumed_with_progress += sink.progress.empty() ? 0 : 1;
    FileJob again(options_, &sink, &clock_, path);
    RunToEnd(again, Rows(17));
    ASSERT_EQ(again.outcome().kind, FileOutcome::Kind::kQueued) << stop_after << ": " << again.outcome().Summary();
    std::set<std::string> ids;
    for (const Record& r : sink.records) ids.insert(r.id);
    EXPECT_EQ(sink.records.size(), 90u) << "stopped after " << stop_after << " steps";
    EXPECT_EQ(ids.size(), 90u) << "a record queued twice after " << stop_after << " steps";
    EXPECT_EQ(again.outcome().rows_failed, 10u);
    // The report lists every invalid row, also those before the point the second attempt resumed from.
    std::string report = csv_test::ReadBytes(again.outcome().report_path);
    EXPECT_EQ(std::count(report.begin(), report.end(), '\n'), 11) << report;  // header + 10 rows
    // Put the file back for the next round.
    std::filesystem::rename(again.outcome().moved_to, path);
    std::filesystem::remove(again.outcome().report_path);
  }
  EXPECT_GE(resumed_with_progress, 4) << "too few interruptions landed between slices";
}

TEST_F(FileJobTest, AFullSinkMidFileStopsTheJobAndKeepsWhatWasCommitted) {
  const std::string path = watch_ + "/patients_full.csv";
  WriteBytes(path, Patients(100));
  FileJob job(options_, &sink_, &clock_, path);
  while (sink_.slices == 0) ASSERT_FALSE(job.Step(Rows(25)));
  sink_.full = true;  // the disk filled between two slices
  EXPECT_TRUE(job.Step(Rows(25)));
  EXPECT_EQ(job.outcome().kind, FileOutcome::Kind::kRetryLater);
  EXPECT_EQ(job.outcome().status.code(), Code::kResourceExhausted);
  EXPECT_FALSE(sink_.records.empty());
  EXPECT_TRUE(std::filesystem::exists(path)) << "the file stays in the watch folder";
  sink_.full = false;
  FileJob again(options_, &sink_, &clock_, path);
  RunToEnd(again, Rows(25));
  EXPECT_EQ(again.outcome().kind, FileOutcome::Kind::kQueued);
  EXPECT_EQ(Ids().size(), 90u);
  EXPECT_EQ(sink_.records.size(), 90u);
}

TEST_F(FileJobTest, AFailedSliceCommitRetriesLaterAndLosesNothing) {
  const std::string path = watch_ + "/patients_slicefail.csv";
  WriteBytes(path, Patients(60));
  sink_.slice_error = IoError("injected: disk I/O error");
  FileJob job(options_, &sink_, &clock_, path);
  RunToEnd(job, Rows(20));
  EXPECT_EQ(job.outcome().kind, FileOutcome::Kind::kRetryLater);
  EXPECT_EQ(job.outcome().status.code(), Code::kIoError);
  EXPECT_TRUE(sink_.records.empty());
  sink_.slice_error = Status::Ok();
  FileJob again(options_, &sink_, &clock_, path);
  RunToEnd(again, Rows(20));
  EXPECT_EQ(again.outcome().kind, FileOutcome::Kind::kQueued);
  EXPECT_EQ(Ids().size(), 54u);
}

TEST_F(FileJobTest, UnlimitedIsOneStepAndOneTransaction) {
  const std::string path = watch_ + "/patients_once.csv";
  WriteBytes(path, Patients(50));
  FileJob job(options_, &sink_, &clock_, path);
  EXPECT_EQ(RunToEnd(job, SliceBudget::Unlimited()), 1);
  EXPECT_EQ(sink_.slices, 0);
  EXPECT_EQ(sink_.begins, 1);
  EXPECT_EQ(job.outcome().kind, FileOutcome::Kind::kQueued);
}

}  // namespace
}  // namespace opescare::csv_folder
