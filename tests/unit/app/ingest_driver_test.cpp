// The ingest driver as a state machine on a real io_context, one handler at a time (run_one): a real watch
// folder and a real SQLite outbox, a fake clock. A large file goes in slices with other work served in
// between; a stop between two slices leaves a committed prefix that the next start resumes exactly once; a
// driver destroyed with a slice still posted never runs it; a full outbox is said once, however often retried;
// a FIFO named like an export is a fault handed to the hook.
#include "agent/app/ingest_driver.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace opescare::app {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Kind = csv_folder::FileOutcome::Kind;

constexpr int kRows = 12'000;  // more than two slices of SliceBudget's 5,000 rows
constexpr int kMaxHandlers = 10'000;

std::string Patients(int n) {
  std::string s = "first_name,last_name,dob,sex\n";
  for (int i = 0; i < n; ++i) s += "P" + std::to_string(i) + ",Fouda,1990-07-22,female\n";
  return s;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

class IngestDriverTest : public ::testing::Test {
 protected:
  IngestDriverTest() : clock_(std::chrono::system_clock::from_time_t(1795981200)) {
    std::string tmpl = (fs::temp_directory_path() / "ingest_driver_test_XXXXXX").string();
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    settings_.watch_folder = dir_ + "/incoming";
    settings_.settle_seconds = 0;
    settings_.scan_interval_seconds = 3600;
    fs::create_directories(settings_.watch_folder);
    outbox::OutboxOptions o;
    o.path = dir_ + "/outbox.db";
    o.clock = &clock_;
    auto opened = outbox::OpenOutbox(o);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (opened.ok()) outbox_ = std::move(*opened);
    log_ = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
    log_->set_level(spdlog::level::debug);
  }
  ~IngestDriverTest() override {
    driver_.reset();
    outbox_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void MakeDriver(uint64_t min_free_mb = 0) {
    IngestHooks hooks;
    hooks.on_outcome = [this](const csv_folder::FileOutcome& out, int64_t inserted) {
      outcomes_.push_back(out);
      inserted_ += inserted;
    };
    hooks.on_faults = [this](const std::vector<csv_folder::ConnectorFault>& f) { faults_.push_back(f); };
    driver_ = std::make_unique<IngestDriver>(io_, outbox_.get(), &clock_, log_, std::move(hooks));
    Status s = driver_->Start(settings_, /*max_size_mb=*/0, min_free_mb);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void Export(const std::string& name, int rows) {
    std::ofstream(settings_.watch_folder + "/" + name, std::ios::binary) << Patients(rows);
  }

  int64_t Queued() {
    auto s = outbox_->GetStats();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? s->queued : -1;
  }

  // Runs one ready handler at a time until `done` holds; false if it never did within kMaxHandlers handlers
  // or nothing was left ready. (The driver's timer is set from the fake clock, whose steady time is near zero:
  // a past deadline is ready at once, a deadline ahead of the machine's uptime never comes, so nothing here
  // waits for real time.)
  template <typename Pred>
  bool RunUntil(Pred done) {
    for (int i = 0; i < kMaxHandlers && !done(); ++i) {
      io_.restart();
      if (io_.poll_one() == 0) break;
    }
    return done();
  }
  void RunReady(int max_handlers) {
    for (int i = 0; i < max_handlers; ++i) {
      io_.restart();
      if (io_.poll_one() == 0) return;
    }
  }

  ManualClock clock_;
  std::string dir_;
  config::ConnectorConfig settings_;
  std::unique_ptr<outbox::Outbox> outbox_;
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  asio::io_context io_;
  std::unique_ptr<IngestDriver> driver_;
  std::vector<csv_folder::FileOutcome> outcomes_;
  int64_t inserted_ = 0;
  std::vector<std::vector<csv_folder::ConnectorFault>> faults_;
};

TEST_F(IngestDriverTest, LargeFileGoesInSlicesWithOtherWorkServedInBetween) {
  Export("patients_big.csv", kRows);
  MakeDriver();
  // Work posted by another part of the agent (a delivery step, the watchdog's probe) once the ingest began.
  ASSERT_TRUE(RunUntil([&] { return Queued() > 0; }));
  int64_t queued_when_served = -1;
  asio::post(io_, [&] { queued_when_served = Queued(); });
  ASSERT_TRUE(RunUntil([&] { return !outcomes_.empty(); })) << log_text_.str();

  EXPECT_GT(queued_when_served, 0);
  EXPECT_LT(queued_when_served, kRows) << "the other work waited for the whole file";
  ASSERT_EQ(outcomes_.size(), 1u);
  EXPECT_EQ(outcomes_[0].kind, Kind::kQueued) << outcomes_[0].Summary();
  EXPECT_EQ(outcomes_[0].rows_ok, static_cast<uint64_t>(kRows));
  EXPECT_EQ(inserted_, kRows);
  EXPECT_EQ(Queued(), kRows);
  EXPECT_TRUE(fs::exists(settings_.watch_folder + "/processed/patients_big.csv"));
}

TEST_F(IngestDriverTest, StopBetweenSlicesKeepsTheCommittedPrefixAndTheNextStartResumesExactlyOnce) {
  Export("patients_stop.csv", kRows);
  MakeDriver();
  ASSERT_TRUE(RunUntil([&] { return Queued() > 0; }));
  driver_->Stop();
  io_.restart();
  io_.poll();  // what was posted before the stop runs and does nothing

  const int64_t prefix = Queued();
  EXPECT_GT(prefix, 0);
  EXPECT_LT(prefix, kRows);
  EXPECT_TRUE(outcomes_.empty()) << "a stopped ingest reported an outcome";
  EXPECT_TRUE(fs::exists(settings_.watch_folder + "/patients_stop.csv")) << "the file left before it was queued";
  auto files = outbox_->ListFiles(10);
  ASSERT_TRUE(files.ok());
  EXPECT_TRUE(files->empty()) << "the file was recorded as ingested after a stop mid-file";

  MakeDriver();  // a new start, as after a restart of the agent
  ASSERT_TRUE(RunUntil([&] { return !outcomes_.empty(); })) << log_text_.str();
  ASSERT_EQ(outcomes_[0].kind, Kind::kQueued) << outcomes_[0].Summary();
  EXPECT_EQ(outcomes_[0].rows_ok, static_cast<uint64_t>(kRows));
  EXPECT_EQ(outcomes_[0].rows_added, static_cast<uint64_t>(kRows - prefix)) << "the resumed file began again";
  EXPECT_EQ(Queued(), kRows);
}

TEST_F(IngestDriverTest, ADriverDestroyedWithASlicePostedNeverRunsIt) {
  Export("patients_gone.csv", kRows);
  MakeDriver();
  ASSERT_TRUE(RunUntil([&] { return Queued() > 0; }));
  const int64_t queued = Queued();
  driver_.reset();
  io_.restart();
  io_.poll();  // the posted slice, the cancelled timer and folder wait: none may touch the driver
  EXPECT_EQ(Queued(), queued);
  EXPECT_TRUE(outcomes_.empty());
}

TEST_F(IngestDriverTest, AFullOutboxIsSaidOnceHoweverOftenTheFileIsRetried) {
  Export("patients_wait.csv", 10);
  MakeDriver(/*min_free_mb=*/uint64_t{1} << 40);  // no volume has a petabyte free: always below the watermark
  ASSERT_TRUE(RunUntil([&] { return !outcomes_.empty(); }));
  driver_->RetryNow();
  driver_->RetryNow();
  ASSERT_TRUE(RunUntil([&] { return outcomes_.size() >= 3; })) << log_text_.str();

  for (const auto& out : outcomes_) {
    EXPECT_EQ(out.kind, Kind::kRetryLater) << out.Summary();
    EXPECT_EQ(out.status.code(), Code::kResourceExhausted) << out.Summary();
  }
  EXPECT_EQ(Count(log_text_.str(), "ingest paused"), 1u) << log_text_.str();
  EXPECT_NE(log_text_.str().find("outbox.min_free_mb"), std::string::npos) << "the cause is not named";
  EXPECT_EQ(Queued(), 0);
  EXPECT_TRUE(fs::exists(settings_.watch_folder + "/patients_wait.csv"));
}

TEST_F(IngestDriverTest, AFifoNamedLikeAnExportIsAFaultHandedToTheHook) {
  ASSERT_EQ(::mkfifo((settings_.watch_folder + "/patients_pipe.csv").c_str(), 0600), 0);
  MakeDriver();
  ASSERT_TRUE(RunUntil([&] { return !faults_.empty() && !faults_.back().empty(); })) << log_text_.str();
  const auto& f = faults_.back().front();
  EXPECT_EQ(f.kind, "not_regular_file");
  EXPECT_NE(f.path.find("patients_pipe.csv"), std::string::npos) << f.path;
  EXPECT_FALSE(f.fix.empty());
  // A later scan (the backstop scan is due after an hour) still sees it, and says nothing more.
  clock_.Advance(std::chrono::hours(2));
  driver_->RetryNow();
  RunReady(50);
  EXPECT_EQ(Count(log_text_.str(), "is not a regular file"), 1u) << "said more than once:\n" << log_text_.str();
  EXPECT_EQ(faults_.back().size(), 1u);
  EXPECT_TRUE(outcomes_.empty());
}

}  // namespace
}  // namespace opescare::app
