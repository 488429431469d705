// Shared fixture for the outbox tests: a fresh temporary directory per test and record factories.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "agent/outbox/outbox.h"

namespace opescare::outbox::testing {

inline std::string MakeTempDir() {
  std::string tmpl = std::filesystem::temp_directory_path() / "outbox_test_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  return tmpl;
}

// A record of about `data_bytes` bytes of data, with a stable id from its file and row.
inline Record MakeRecord(int row, const std::string& file = "patients_1.csv", size_t data_bytes = 40) {
  Record r;
  r.id = "r_" + file + "_" + std::to_string(row);
  r.type = "patient";
  std::string filler(data_bytes > 30 ? data_bytes - 30 : 1, 'x');
  r.data_json = R"({"first_name":"Marie","n":")" + filler + R"("})";
  r.source_file = file;
  r.source_row = row;
  return r;
}

inline std::vector<Record> MakeRecords(int first_row, int count, const std::string& file = "patients_1.csv",
                                       size_t data_bytes = 40) {
  std::vector<Record> out;
  for (int i = 0; i < count; ++i) out.push_back(MakeRecord(first_row + i, file, data_bytes));
  return out;
}

inline std::vector<std::string> Ids(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const Record& r : records) out.push_back(r.id);
  return out;
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    path_ = dir_ + "/outbox.db";
    clock_.Set(TimePoint(std::chrono::seconds(1'800'000'000)));
  }
  void TearDown() override {
    outbox_.reset();
    std::filesystem::remove_all(dir_);
  }

  OutboxOptions Options() const {
    OutboxOptions o;
    o.path = path_;
    o.clock = &clock_;
    return o;
  }
  // Opens (or reopens) the outbox under test; fails the test on error.
  Outbox& Open() {
    outbox_.reset();
    auto r = OpenOutbox(Options());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) outbox_ = std::move(*r);
    return *outbox_;
  }
  Stats GetStats() {
    auto s = outbox_->GetStats();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : Stats{};
  }
  TimePoint Now() const { return clock_.Now(); }

  std::string dir_;
  std::string path_;
  ManualClock clock_;
  std::unique_ptr<Outbox> outbox_;
};

}  // namespace opescare::outbox::testing
