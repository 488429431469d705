// Test helpers for the CSV connector: a fake RecordSink, temporary folders, small file helpers.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/connectors/csv_folder/record_sink.h"

namespace opescare::csv_folder::csv_test {

// Records what a file's transaction would have committed; failures can be injected.
class FakeSink : public RecordSink {
 public:
  struct CommittedFile {
    FileInfo info;
    FileTotals totals;
    size_t first_record = 0;  // index into records
  };

  Result<bool> IsFull() override { return full; }
  Result<bool> HasFile(const std::string& sha256) override {
    if (!has_file_error.ok()) return has_file_error;
    return hashes.count(sha256) != 0;
  }
  Status BeginFile(const FileInfo& file) override {
    EXPECT_FALSE(open) << "BeginFile inside an open transaction";
    open = true;
    current = file;
    pending.clear();
    ++begins;
    return Status::Ok();
  }
  Status Add(const Record& record) override {
    EXPECT_TRUE(open) << "Add outside a transaction";
    if (fail_add_after >= 0 && static_cast<int64_t>(pending.size()) >= fail_add_after)
      return IoError("injected Add failure");
    pending.push_back(record);
    return Status::Ok();
  }
  Status CommitFile(const FileTotals& totals) override {
    EXPECT_TRUE(open);
    if (!commit_error.ok()) return commit_error;
    files.push_back(CommittedFile{current, totals, records.size()});
    records.insert(records.end(), pending.begin(), pending.end());
    hashes.insert(current.sha256);
    progress.erase(current.sha256);
    pending.clear();
    open = false;
    return Status::Ok();
  }
  // Slices: the records so far become committed with the file's progress; the file stays open.
  Status CommitSlice(const SliceProgress& p) override {
    EXPECT_TRUE(open) << "CommitSlice outside a transaction";
    if (!slice_error.ok()) return slice_error;
    records.insert(records.end(), pending.begin(), pending.end());
    pending.clear();
    progress[current.sha256] = p.rows_done;
    ++slices;
    return Status::Ok();
  }
  Result<uint64_t> ResumePoint(const std::string& sha256) override {
    auto it = progress.find(sha256);
    return it == progress.end() ? uint64_t{0} : it->second;
  }
  void AbortFile() override {
    pending.clear();
    open = false;
    ++aborts;
  }

  bool full = false;
  Status has_file_error;
  Status commit_error;
  int64_t fail_add_after = -1;
  bool open = false;
  Status slice_error;
  int begins = 0, aborts = 0, slices = 0;
  std::map<std::string, uint64_t> progress;  // sha256 -> rows_done of its last slice
  FileInfo current;
  std::vector<Record> pending;
  std::vector<Record> records;
  std::vector<CommittedFile> files;
  std::set<std::string> hashes;
};

// A fresh folder under the build's temp area, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string base = std::filesystem::temp_directory_path().string() + "/ob_csv_test_XXXXXX";
    std::vector<char> buf(base.begin(), base.end());
    buf.push_back('\0');
    const char* made = ::mkdtemp(buf.data());
    EXPECT_NE(made, nullptr);
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  ASSERT_TRUE(out.good()) << path;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file()) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace opescare::csv_folder::csv_test
