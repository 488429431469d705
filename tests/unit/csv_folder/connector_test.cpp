// Tests for the watch folder: candidates, settling, arrival order, retries, inotify wake-ups, options.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/csv_folder_connector.h"
#include "test_support.h"

namespace opescare::csv_folder {
namespace {

using csv_test::FakeSink;
using csv_test::ListNames;
using csv_test::TempDir;
using csv_test::WriteBytes;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Names = std::vector<std::string>;

const std::string kPatients = "first_name,last_name,dob,sex\nMarie,Fouda,1990-07-22,female\n";

class ConnectorTest : public ::testing::Test {
 protected:
  ConnectorOptions Options() {
    ConnectorOptions o;
    o.watch_folder = watch_;
    o.settle = seconds(2);
    o.scan_interval = seconds(30);
    o.processing.processed_folder = dir_ / "processed";
    o.processing.failed_folder = dir_ / "failed";
    o.processing.types = RecordTypeTable(config::DefaultRecordTypes());
    return o;
  }
  std::unique_ptr<CsvFolderConnector> Make(std::unique_ptr<FolderWatcher> watcher = nullptr) {
    auto c = std::make_unique<CsvFolderConnector>(Options(), &sink_, &clock_, std::move(watcher));
    EXPECT_TRUE(c->Start().ok());
    return c;
  }
  void Drop(const std::string& name, const std::string& bytes = kPatients) { WriteBytes(watch_ + "/" + name, bytes); }
  std::string Path(const std::string& name) { return watch_ + "/" + name; }

  TempDir dir_;
  std::string watch_ = dir_ / "incoming";
  FakeSink sink_;
  ManualClock clock_;
};

TEST_F(ConnectorTest, StartCreatesTheFoldersAndFindsFilesAlreadyThere) {
  std::filesystem::create_directories(watch_);
  Drop("patients_early.csv");
  auto c = Make();
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "processed"));
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "failed"));
  EXPECT_TRUE(c->watcher_status().ok()) << c->watcher_status().ToString();
  EXPECT_TRUE(c->Poll().empty());  // seen, not yet settled
  EXPECT_EQ(c->waiting_files(), 1u);
  clock_.Advance(seconds(2));
  EXPECT_EQ(c->Poll(), Names{Path("patients_early.csv")});
}

TEST_F(ConnectorTest, ANewFileIsReadOnlyOnceSettledThenProcessedAndForgotten) {
  auto c = Make();
  EXPECT_TRUE(c->Poll().empty());  // the initial scan
  Drop("patients_a.csv");
  EXPECT_TRUE(c->Poll().empty());  // inotify told us; the scan is not due for 30 s
  EXPECT_EQ(c->waiting_files(), 1u);
  EXPECT_EQ(c->NextWakeup(), clock_.Steady() + seconds(2));
  clock_.Advance(milliseconds(1500));
  EXPECT_TRUE(c->Poll().empty());
  clock_.Advance(milliseconds(500));
  Names ready = c->Poll();
  ASSERT_EQ(ready, Names{Path("patients_a.csv")});
  FileOutcome out = c->ProcessFile(ready[0]);
  EXPECT_EQ(out.kind, FileOutcome::Kind::kQueued) << out.Summary();
  EXPECT_EQ(c->waiting_files(), 0u);
  EXPECT_TRUE(c->Poll().empty());
  EXPECT_EQ(ListNames(dir_ / "processed"), Names{"patients_a.csv"});
  EXPECT_EQ(sink_.records.size(), 1u);
}

TEST_F(ConnectorTest, AFileStillBeingWrittenWaitsUntilItStopsChanging) {
  auto c = Make();
  c->Poll();
  Drop("patients_a.csv", "first_name,last_name,dob,sex\n");
  for (int i = 0; i < 5; ++i) {  // appended to every second for 5 s
    EXPECT_TRUE(c->Poll().empty()) << i;
    clock_.Advance(seconds(1));
    std::ofstream(Path("patients_a.csv"), std::ios::app) << "Marie,Fouda,1990-07-2" << i << ",female\n";
  }
  EXPECT_TRUE(c->Poll().empty());
  clock_.Advance(seconds(1));
  EXPECT_TRUE(c->Poll().empty());
  clock_.Advance(seconds(1));
  EXPECT_EQ(c->Poll().size(), 1u);
}

TEST_F(ConnectorTest, HiddenTemporaryAndNonMatchingNamesAreIgnored) {
  auto c = Make();
  for (const char* name : {".patients_a.csv", "patients_b.csv.part", "patients_c.csv.tmp", "patients_d.csv~",
                           "patients_e.txt", "patients_f.csv.partial"})
    Drop(name);
  std::filesystem::create_directories(watch_ + "/patients_dir.csv");
  c->Poll();
  clock_.Advance(seconds(60));
  EXPECT_TRUE(c->Poll().empty());
  EXPECT_EQ(c->waiting_files(), 0u);
  // Renamed into place by the writer: now it counts.
  std::filesystem::rename(Path("patients_b.csv.part"), Path("patients_b.csv"));
  c->Poll();
  clock_.Advance(seconds(2));
  EXPECT_EQ(c->Poll(), Names{Path("patients_b.csv")});
}

TEST_F(ConnectorTest, ReadyFilesComeInArrivalOrder) {
  auto c = Make();
  auto now = std::filesystem::file_time_type::clock::now();
  int k = 0;
  for (const char* name : {"patients_c.csv", "patients_a.csv", "patients_b.csv"}) {
    Drop(name);
    std::filesystem::last_write_time(Path(name), now - std::chrono::hours(3 - k++));
  }
  Drop("encounters_same_time_b.csv", "health_id,date\nOC-1,2026-01-01\n");
  Drop("encounters_same_time_a.csv", "health_id,date\nOC-1,2026-01-02\n");
  std::filesystem::last_write_time(Path("encounters_same_time_a.csv"), now);
  std::filesystem::last_write_time(Path("encounters_same_time_b.csv"), now);
  c->Poll();
  clock_.Advance(seconds(2));
  EXPECT_EQ(c->Poll(), (Names{Path("patients_c.csv"), Path("patients_a.csv"), Path("patients_b.csv"),
                              Path("encounters_same_time_a.csv"), Path("encounters_same_time_b.csv")}));
}

TEST_F(ConnectorTest, OutboxFullRetriesWithBackoffAndRetryNow) {
  auto c = Make();
  Drop("patients_a.csv");
  c->Poll();
  clock_.Advance(seconds(2));
  sink_.full = true;
  ASSERT_EQ(c->Poll().size(), 1u);
  FileOutcome out = c->ProcessFile(Path("patients_a.csv"));
  EXPECT_EQ(out.status.code(), Code::kResourceExhausted);
  EXPECT_TRUE(c->Poll().empty());  // waits out the first retry delay (1 s)
  EXPECT_EQ(c->NextWakeup(), clock_.Steady() + seconds(1));
  clock_.Advance(seconds(1));
  ASSERT_EQ(c->Poll().size(), 1u);
  c->ProcessFile(Path("patients_a.csv"));
  clock_.Advance(seconds(1));
  EXPECT_TRUE(c->Poll().empty());  // the second delay is 2 s
  clock_.Advance(seconds(1));
  EXPECT_EQ(c->Poll().size(), 1u);
  c->ProcessFile(Path("patients_a.csv"));
  EXPECT_TRUE(c->Poll().empty());
  sink_.full = false;
  c->RetryNow();  // delivery freed room
  ASSERT_EQ(c->Poll().size(), 1u);
  EXPECT_EQ(c->ProcessFile(Path("patients_a.csv")).kind, FileOutcome::Kind::kQueued);
  EXPECT_EQ(ListNames(watch_), Names{});
}

TEST_F(ConnectorTest, AVanishedFileIsForgotten) {
  auto c = Make();
  Drop("patients_a.csv");
  c->Poll();
  EXPECT_EQ(c->waiting_files(), 1u);
  std::filesystem::remove(Path("patients_a.csv"));
  clock_.Advance(seconds(2));
  EXPECT_TRUE(c->Poll().empty());
  EXPECT_EQ(c->waiting_files(), 0u);
  // Gone between Poll and ProcessFile: not lost, nothing to lose; forgotten as well.
  Drop("patients_b.csv");
  c->Poll();
  clock_.Advance(seconds(2));
  ASSERT_EQ(c->Poll().size(), 1u);
  std::filesystem::remove(Path("patients_b.csv"));
  EXPECT_EQ(c->ProcessFile(Path("patients_b.csv")).status.code(), Code::kNotFound);
  EXPECT_EQ(c->waiting_files(), 0u);
}

TEST_F(ConnectorTest, WaitReturnsSoonAfterAFileArrives) {
  auto c = Make();
  c->Poll();
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(100));
    Drop("patients_a.csv");
  });
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->Wait(seconds(20)).ok());
  writer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
  c->Poll();
  EXPECT_EQ(c->waiting_files(), 1u);
}

TEST_F(ConnectorTest, WakeInterruptsWait) {
  auto c = Make();
  std::thread waker([&] {
    std::this_thread::sleep_for(milliseconds(100));
    c->Wake();
  });
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->Wait(seconds(20)).ok());
  waker.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
}

TEST_F(ConnectorTest, ScanAloneFindsFilesWithoutWatcherEvents) {
  auto c = Make(NewScanOnlyWatcher());
  EXPECT_EQ(c->NewWatchFd(), -1);
  c->Poll();
  Drop("patients_a.csv");
  c->Poll();
  EXPECT_EQ(c->waiting_files(), 0u);  // no events, scan not due
  EXPECT_EQ(c->NextWakeup(), clock_.Steady() + seconds(30));
  clock_.Advance(seconds(30));
  c->Poll();
  EXPECT_EQ(c->waiting_files(), 1u);
  clock_.Advance(seconds(2));
  EXPECT_EQ(c->Poll().size(), 1u);
}

TEST_F(ConnectorTest, RefusesAProcessedFolderThatIsTheWatchFolder) {
  ConnectorOptions options = Options();
  options.processing.processed_folder = watch_ + "/.";
  CsvFolderConnector c(options, &sink_, &clock_);
  Status s = c.Start();
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
}

TEST(ConnectorOptions, FromConfigDefaultsAndErrors) {
  config::ConnectorConfig cfg;
  cfg.watch_folder = "/srv/in";
  Result<ConnectorOptions> o = ConnectorOptionsFromConfig(cfg);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->processing.processed_folder, "/srv/in/processed");
  EXPECT_EQ(o->processing.failed_folder, "/srv/in/failed");
  EXPECT_EQ(o->settle, seconds(2));
  EXPECT_EQ(o->processing.delimiter, 0);
  EXPECT_EQ(o->processing.encoding, Encoding::kAuto);
  EXPECT_EQ(o->processing.date_format, DateFormat::kIso);
  ASSERT_NE(o->processing.types.Match("patients_x.csv"), nullptr);
  EXPECT_FALSE(o->processing.after_commit);

  cfg.processed_folder = "/srv/done";
  cfg.delimiter = ";";
  cfg.encoding = "windows-1252";
  cfg.date_format = "DD/MM/YYYY";
  cfg.record_types.clear();  // as if replace_default_record_types: the table is used as given
  cfg.record_types["stock_"] = {"pharmacy_stock", {"item_code"}};
  o = ConnectorOptionsFromConfig(cfg);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->processing.processed_folder, "/srv/done");
  EXPECT_EQ(o->processing.delimiter, ';');
  EXPECT_EQ(o->processing.encoding, Encoding::kWindows1252);
  EXPECT_EQ(o->processing.date_format, DateFormat::kDayMonthYear);
  EXPECT_EQ(o->processing.types.Match("patients_x.csv"), nullptr);
  EXPECT_EQ(o->processing.types.Match("stock_x.csv")->type, "pharmacy_stock");

  cfg.delimiter = "tab";
  EXPECT_EQ(ConnectorOptionsFromConfig(cfg)->processing.delimiter, '\t');
  for (const char* bad : {"\"", ";;", "\n"}) {
    cfg.delimiter = bad;
    Result<ConnectorOptions> r = ConnectorOptionsFromConfig(cfg);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("connector.delimiter"), std::string::npos);
  }
  cfg.delimiter = "auto";
  cfg.encoding = "utf-16";
  EXPECT_NE(ConnectorOptionsFromConfig(cfg).status().message().find("connector.encoding"), std::string::npos);
  cfg.encoding = "auto";
  cfg.settle_seconds = -1;
  EXPECT_NE(ConnectorOptionsFromConfig(cfg).status().message().find("connector.settle_seconds"), std::string::npos);
}

}  // namespace
}  // namespace opescare::csv_folder
