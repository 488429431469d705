// A file's life (FileProcessor) against injected disk faults (FaultEnv): a move that fails before or half-way,
// a move across volumes, a full disk under the errors report. Each must be reported with its kind, lose no
// row and queue none twice.
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/file_processor.h"
#include "agent/env/fault_env.h"
#include "test_support.h"

namespace opescare::csv_folder {
namespace {

using csv_test::FakeSink;
using csv_test::ListNames;
using csv_test::ReadBytes;
using csv_test::TempDir;
using csv_test::WriteBytes;
using env::FaultEnv;
using Names = std::vector<std::string>;

const std::string kPatients =
    "first_name,last_name,dob,sex,phone\n"
    "Marie,Fouda,1990-07-22,female,+237690000001\n"
    "Awa,Ndiaye,2001-02-03,female,\n";
const std::string kNoValidRow = "first_name,last_name,dob,sex,phone\nPaul,Mbarga,1985-13-01,male,+237690000002\n";

class FileFaultsTest : public ::testing::Test {
 protected:
  FileFaultsTest() : clock_(std::chrono::system_clock::from_time_t(1795981200)) {
    std::filesystem::create_directories(watch_);
  }
  FileOutcome Run(const std::string& name) {
    ProcessorOptions o;
    o.processed_folder = dir_ / "processed";
    o.failed_folder = dir_ / "failed";
    o.types = RecordTypeTable(config::DefaultRecordTypes());
    o.env = &fault_;
    FileProcessor processor(o, &sink_, &clock_);
    EXPECT_TRUE(processor.PrepareFolders().ok());
    return processor.Process(watch_ + "/" + name);
  }

  TempDir dir_;
  std::string watch_ = dir_ / "incoming";
  FakeSink sink_;
  ManualClock clock_;
  FaultEnv fault_;
};

TEST_F(FileFaultsTest, AMoveThatFailsLeavesTheFileForARetryThatQueuesNothingTwice) {
  WriteBytes(watch_ + "/patients_a.csv", kPatients);
  fault_.FailRename("patients_a.csv", FaultEnv::RenameFault::kBefore);
  FileOutcome first = Run("patients_a.csv");
  EXPECT_EQ(first.status.code(), Code::kIoError) << first.Summary();
  EXPECT_FALSE(first.folder_problem.empty());  // a fault people are shown, with its fix
  EXPECT_EQ(ListNames(watch_), Names{"patients_a.csv"});
  EXPECT_EQ(sink_.records.size(), 2u);  // committed before the move

  fault_.Heal();
  FileOutcome retry = Run("patients_a.csv");
  EXPECT_TRUE(retry.status.ok()) << retry.Summary();
  EXPECT_EQ(retry.kind, FileOutcome::Kind::kDuplicate);
  EXPECT_EQ(sink_.records.size(), 2u);  // not queued again
  EXPECT_TRUE(ListNames(watch_).empty());
}

TEST_F(FileFaultsTest, AMoveThatFailsHalfWayIsReportedAndTheFileIsWhole) {
  WriteBytes(watch_ + "/patients_b.csv", kPatients);
  fault_.FailRename("patients_b.csv", FaultEnv::RenameFault::kAfter);
  FileOutcome out = Run("patients_b.csv");
  EXPECT_EQ(out.status.code(), Code::kIoError) << out.Summary();
  EXPECT_TRUE(out.moved_to.empty());  // not claimed as moved: the durable step did not report success
  EXPECT_EQ(ReadBytes(dir_ / "processed" + "/patients_b.csv"), kPatients);
  EXPECT_EQ(sink_.records.size(), 2u);
}

TEST_F(FileFaultsTest, AMoveAcrossVolumesCopiesThenRemovesTheOriginal) {
  WriteBytes(watch_ + "/patients_c.csv", kPatients);
  fault_.CrossVolume(watch_ + "/patients_c.csv");
  FileOutcome out = Run("patients_c.csv");
  EXPECT_TRUE(out.status.ok()) << out.Summary();
  EXPECT_GE(fault_.faults_injected(), 1u);
  EXPECT_EQ(ReadBytes(dir_ / "processed" + "/patients_c.csv"), kPatients);
  EXPECT_TRUE(ListNames(watch_).empty());
  EXPECT_EQ(ListNames(dir_ / "processed"), Names{"patients_c.csv"});  // no temporary copy left behind
}

TEST_F(FileFaultsTest, AFullDiskUnderTheCopyKeepsTheOriginalAndSaysWaitForRoom) {
  WriteBytes(watch_ + "/patients_d.csv", kPatients);
  fault_.CrossVolume(watch_ + "/patients_d.csv");
  fault_.FillDisk(dir_ / "processed", 10);
  FileOutcome out = Run("patients_d.csv");
  EXPECT_EQ(out.status.code(), Code::kResourceExhausted) << out.Summary();
  EXPECT_EQ(ListNames(watch_), Names{"patients_d.csv"});
  EXPECT_TRUE(ListNames(dir_ / "processed").empty());
}

TEST_F(FileFaultsTest, AFullDiskUnderTheErrorsReportRetriesLaterWithTheFileInPlace) {
  WriteBytes(watch_ + "/patients_e.csv", kNoValidRow);
  fault_.FillDisk(dir_ / "failed");
  FileOutcome out = Run("patients_e.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRetryLater) << out.Summary();
  EXPECT_EQ(out.status.code(), Code::kResourceExhausted) << out.Summary();
  EXPECT_EQ(ListNames(watch_), Names{"patients_e.csv"});
  EXPECT_TRUE(ListNames(dir_ / "failed").empty());  // no partial report, no temporary
}

TEST_F(FileFaultsTest, AFailingSyncOfTheErrorsReportLeavesNoReport) {
  WriteBytes(watch_ + "/patients_f.csv", kNoValidRow);
  fault_.FailSync("errors.csv");
  FileOutcome out = Run("patients_f.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRetryLater) << out.Summary();
  EXPECT_EQ(out.status.code(), Code::kIoError) << out.Summary();
  EXPECT_TRUE(ListNames(dir_ / "failed").empty());
  EXPECT_EQ(ListNames(watch_), Names{"patients_f.csv"});
}

}  // namespace
}  // namespace opescare::csv_folder
