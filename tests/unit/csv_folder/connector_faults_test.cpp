// Tests for what the watch folder makes the connector say and do beyond files: a name that is not a regular
// file (said once, left alone), a folder it cannot write (a fault with the fix, cleared once it works), old
// processed and failed files removed (CSV.md steps 1 and 7), and slices over ready files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/csv_folder_connector.h"
#include "test_support.h"

namespace opescare::csv_folder {
namespace {

using csv_test::FakeSink;
using csv_test::ListNames;
using csv_test::TempDir;
using csv_test::WriteBytes;
using std::chrono::hours;
using std::chrono::seconds;

const std::string kPatients = "first_name,last_name,dob,sex\nMarie,Fouda,1990-07-22,female\n";

class ConnectorFaultsTest : public ::testing::Test {
 protected:
  ConnectorFaultsTest() : clock_(std::chrono::system_clock::now()) {}
  ConnectorOptions Options() {
    ConnectorOptions o;
    o.watch_folder = watch_;
    o.settle = seconds(1);
    o.scan_interval = seconds(30);
    o.keep_processed = hours(24 * 30);
    o.processing.processed_folder = dir_ / "processed";
    o.processing.failed_folder = dir_ / "failed";
    o.processing.types = RecordTypeTable(config::DefaultRecordTypes());
    return o;
  }
  std::unique_ptr<CsvFolderConnector> Make(ConnectorOptions o) {
    auto c = std::make_unique<CsvFolderConnector>(std::move(o), &sink_, &clock_, NewScanOnlyWatcher());
    EXPECT_TRUE(c->Start().ok());
    return c;
  }
  // Runs slices until no work is left; returns the outcomes of the files that finished.
  std::vector<FileOutcome> Drain(CsvFolderConnector& c) {
    std::vector<FileOutcome> done;
    for (int i = 0; i < 1000; ++i) {
      CsvFolderConnector::Slice s = c.RunSlice(SliceBudget{});
      if (s.finished) done.push_back(*s.finished);
      if (!s.more) break;
    }
    return done;
  }

  TempDir dir_;
  std::string watch_ = dir_ / "incoming";
  FakeSink sink_;
  ManualClock clock_;
};

TEST_F(ConnectorFaultsTest, ANameThatIsNotARegularFileIsSaidOnceAndLeftAlone) {
  std::filesystem::create_directories(watch_ + "/patients_folder.csv");
  ASSERT_EQ(::mkfifo((watch_ + "/patients_fifo.csv").c_str(), 0600), 0);
  auto c = Make(Options());
  Drain(*c);
  std::vector<ConnectorFault> news = c->TakeNewFaults();
  ASSERT_EQ(news.size(), 2u);
  for (const ConnectorFault& f : news) {
    EXPECT_EQ(f.kind, "not_regular_file");
    EXPECT_NE(f.message.find("not a regular file"), std::string::npos);
  }
  clock_.Advance(seconds(31));  // the next scan lists them again: no new word, the same two faults
  Drain(*c);
  EXPECT_TRUE(c->TakeNewFaults().empty());
  EXPECT_EQ(c->faults().size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(watch_ + "/patients_fifo.csv"));  // never opened (it would block)
  std::filesystem::remove(watch_ + "/patients_fifo.csv");
  clock_.Advance(seconds(31));
  Drain(*c);
  EXPECT_EQ(c->faults().size(), 1u);  // gone from the folder, gone from the faults
}

TEST_F(ConnectorFaultsTest, AFolderItCannotWriteIsAFaultWithItsFixUntilItWorks) {
  std::filesystem::create_directories(watch_);
  auto c = Make(Options());
  Drain(*c);
  WriteBytes(watch_ + "/patients_ro.csv", kPatients);
  // processed/ replaced by a plain file: no move can land there, whoever runs the test (root included).
  std::filesystem::remove_all(dir_ / "processed");
  WriteBytes(dir_ / "processed", "not a folder");
  clock_.Advance(seconds(31));  // the next scan sees the file
  Drain(*c);
  clock_.Advance(seconds(2));
  std::vector<FileOutcome> done = Drain(*c);
  std::vector<ConnectorFault> faults = c->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, "watch_folder");
  EXPECT_NE(faults[0].message.find("cannot move patients_ro.csv"), std::string::npos) << faults[0].message;
  EXPECT_NE(faults[0].fix.find("opescare-bridge"), std::string::npos) << faults[0].fix;
  EXPECT_EQ(c->TakeNewFaults().size(), 1u);
  std::filesystem::remove(dir_ / "processed");
  std::filesystem::create_directories(dir_ / "processed");
  clock_.Advance(seconds(120));
  Drain(*c);
  EXPECT_TRUE(c->faults().empty());
  // Moved on the retry (which finds it queued already, hence its .duplicate note), queued once.
  EXPECT_EQ(ListNames(dir_ / "processed")[0], "patients_ro.csv");
  EXPECT_EQ(sink_.records.size(), 1u);
}

TEST_F(ConnectorFaultsTest, FixFollowsTheError) {
  ConnectorFault ro = FolderFault("/srv/exports/patients.csv", "cannot move patients.csv to /srv/exports/processed",
                                  IoError("rename: Read-only file system"));
  EXPECT_NE(ro.fix.find("ReadWritePaths=/srv/exports"), std::string::npos) << ro.fix;
  EXPECT_NE(ro.fix.find("systemctl edit opescare-bridge"), std::string::npos);
  ConnectorFault full = FolderFault("/srv/exports/patients.csv", "cannot write", IoError("No space left on device"));
  EXPECT_NE(full.fix.find("free space"), std::string::npos);
  EXPECT_NE(full.message.find("No space left"), std::string::npos);
}

TEST_F(ConnectorFaultsTest, AStartOnAReadOnlyFolderNamesTheDropInForTheWatchFolder) {
  ConnectorFault f = StartFault("/srv/exports",
                                IoError("/srv/exports/processed: cannot create folder: Read-only file system"));
  EXPECT_EQ(f.kind, "watch_folder");
  EXPECT_EQ(f.path, "/srv/exports");
  EXPECT_NE(f.message.find("Read-only file system"), std::string::npos);
  EXPECT_NE(f.fix.find("systemctl edit opescare-bridge"), std::string::npos);
  EXPECT_NE(f.fix.find("ReadWritePaths=/srv/exports "), std::string::npos);  // the folder itself, not /srv
  ConnectorFault denied = StartFault("/srv/exports", PermissionDenied("/srv/exports: cannot list: Permission denied"));
  EXPECT_EQ(denied.fix.find("ReadWritePaths"), std::string::npos);
  EXPECT_NE(denied.fix.find("opescare-bridge"), std::string::npos);
}

TEST_F(ConnectorFaultsTest, OldProcessedAndFailedFilesAreRemovedYoungOnesKept) {
  std::filesystem::create_directories(watch_);
  auto keep = Make(Options());
  WriteBytes(dir_ / "processed/patients_old.csv", kPatients);
  WriteBytes(dir_ / "failed/patients_old.csv.errors.csv", "row,column,reason\n");
  Drain(*keep);
  EXPECT_EQ(keep->TakeRemovedOldFiles(), 0u);  // moved there just now
  clock_.Set(std::chrono::system_clock::now() + hours(24 * 31));
  clock_.Advance(hours(2));  // the hourly check is due
  Drain(*keep);
  EXPECT_EQ(keep->TakeRemovedOldFiles(), 2u);
  EXPECT_TRUE(ListNames(dir_ / "processed").empty());
  EXPECT_TRUE(ListNames(dir_ / "failed").empty());

  ConnectorOptions forever = Options();
  forever.keep_processed = hours(0);
  auto c = Make(forever);
  WriteBytes(dir_ / "processed/patients_kept.csv", kPatients);
  clock_.Advance(hours(2));
  Drain(*c);
  EXPECT_EQ(c->TakeRemovedOldFiles(), 0u);
  EXPECT_EQ(ListNames(dir_ / "processed"), std::vector<std::string>{"patients_kept.csv"});
}

TEST_F(ConnectorFaultsTest, SlicesTakeReadyFilesOneAfterAnother) {
  std::filesystem::create_directories(watch_);
  auto c = Make(Options());
  Drain(*c);
  for (int i = 0; i < 3; ++i)
    WriteBytes(watch_ + "/patients_" + std::to_string(i) + ".csv", kPatients + "P" + std::to_string(i) + ",X,2001-01-01,male\n");
  clock_.Advance(seconds(31));
  Drain(*c);  // seen by the scan, not settled yet
  clock_.Advance(seconds(2));
  std::vector<FileOutcome> done = Drain(*c);
  ASSERT_EQ(done.size(), 3u);
  for (const FileOutcome& o : done) EXPECT_EQ(o.kind, FileOutcome::Kind::kQueued) << o.Summary();
  EXPECT_EQ(sink_.records.size(), 6u);
}

}  // namespace
}  // namespace opescare::csv_folder
