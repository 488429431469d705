// The file pipeline into a real SQLite outbox: one transaction per file, duplicates by hash, crash-repeat.
#include "agent/connectors/csv_folder/outbox_sink.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/file_processor.h"
#include "test_support.h"

namespace opescare::csv_folder {
namespace {

using csv_test::ListNames;
using csv_test::TempDir;
using csv_test::WriteBytes;

class OutboxSinkTest : public ::testing::Test {
 protected:
  OutboxSinkTest() {
    std::filesystem::create_directories(watch_);
    outbox::OutboxOptions o;
    o.path = dir_ / "outbox.db";
    o.clock = &clock_;
    Result<std::unique_ptr<outbox::Outbox>> opened = outbox::OpenOutbox(o);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (opened.ok()) outbox_ = std::move(*opened);
  }
  ProcessorOptions Options() {
    ProcessorOptions o;
    o.processed_folder = dir_ / "processed";
    o.failed_folder = dir_ / "failed";
    o.types = RecordTypeTable(config::DefaultRecordTypes());
    return o;
  }
  int64_t Pending() {
    Result<outbox::Stats> stats = outbox_->GetStats();
    EXPECT_TRUE(stats.ok());
    return stats.ok() ? stats->pending : -1;
  }

  TempDir dir_;
  std::string watch_ = dir_ / "incoming";
  ManualClock clock_{std::chrono::system_clock::from_time_t(1795981200)};
  std::unique_ptr<outbox::Outbox> outbox_;
};

TEST_F(OutboxSinkTest, QueuesAFileOnceAndRecordsItsHash) {
  ASSERT_TRUE(outbox_);
  OutboxRecordSink sink(outbox_.get(), 2048);
  FileProcessor processor(Options(), &sink, &clock_);
  ASSERT_TRUE(processor.PrepareFolders().ok());
  std::string csv = "health_id,date\nOC-1,2026-11-29\nOC-2,2026-11-30\nOC-3,bad\n";
  WriteBytes(watch_ + "/encounters_a.csv", csv);
  FileOutcome out = processor.Process(watch_ + "/encounters_a.csv");
  ASSERT_EQ(out.kind, FileOutcome::Kind::kQueued) << out.Summary();
  EXPECT_EQ(Pending(), 2);
  EXPECT_TRUE(*outbox_->HasFile(out.sha256));
  Result<std::vector<outbox::IngestedFile>> files = outbox_->ListFiles(10);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);

  WriteBytes(watch_ + "/encounters_b.csv", csv);
  EXPECT_EQ(processor.Process(watch_ + "/encounters_b.csv").kind, FileOutcome::Kind::kDuplicate);
  EXPECT_EQ(Pending(), 2);
}

TEST_F(OutboxSinkTest, CrashBeforeTheHashCommitQueuesNothingTwice) {
  ASSERT_TRUE(outbox_);
  OutboxRecordSink sink(outbox_.get(), 2048);
  FileProcessor processor(Options(), &sink, &clock_);
  ASSERT_TRUE(processor.PrepareFolders().ok());
  std::string path = watch_ + "/encounters_a.csv";
  WriteBytes(path, "health_id,date\nOC-1,2026-11-29\nOC-2,2026-11-30\n");
  // An aborted transaction leaves nothing behind.
  ASSERT_TRUE(sink.BeginFile(FileInfo{"encounters_a.csv", "abc", 1, "encounter"}).ok());
  Record r{"r_x", "encounter", "encounters_a.csv", 2, "{}"};
  ASSERT_TRUE(sink.Add(r).ok());
  sink.AbortFile();
  EXPECT_EQ(Pending(), 0);
  EXPECT_FALSE(*outbox_->HasFile("abc"));

  ASSERT_EQ(processor.Process(path).kind, FileOutcome::Kind::kQueued);
  EXPECT_EQ(Pending(), 2);
  EXPECT_EQ(ListNames(watch_), std::vector<std::string>{});
}

TEST_F(OutboxSinkTest, FullOutboxMakesFilesWait) {
  ASSERT_TRUE(outbox_);
  OutboxRecordSink tiny(outbox_.get(), 0);
  EXPECT_FALSE(*tiny.IsFull());  // 0: no cap
  // Fill past 1 MiB, then a 1 MiB cap says full.
  OutboxRecordSink sink(outbox_.get(), 1);
  FileProcessor processor(Options(), &sink, &clock_);
  ASSERT_TRUE(processor.PrepareFolders().ok());
  std::string big = "item_code,quantity,label\n";
  for (int i = 0; i < 20000; ++i) big += "ITEM" + std::to_string(i) + ",1," + std::string(100, 'x') + "\n";
  WriteBytes(watch_ + "/pharmacy_stock_a.csv", big);
  ASSERT_EQ(processor.Process(watch_ + "/pharmacy_stock_a.csv").kind, FileOutcome::Kind::kQueued);
  EXPECT_TRUE(*sink.IsFull());
  WriteBytes(watch_ + "/pharmacy_stock_b.csv", "item_code,quantity\nX,1\n");
  FileOutcome out = processor.Process(watch_ + "/pharmacy_stock_b.csv");
  EXPECT_EQ(out.kind, FileOutcome::Kind::kRetryLater);
  EXPECT_EQ(out.status.code(), Code::kResourceExhausted);
  EXPECT_EQ(ListNames(watch_), std::vector<std::string>{"pharmacy_stock_b.csv"});
}

}  // namespace
}  // namespace opescare::csv_folder
