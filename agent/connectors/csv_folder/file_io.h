// The disk side of a file's life: reading an export in place, writing the errors report durably, and
// moving files aside without overwriting anything, all through an env::Env (file_io_disk.cpp; tests pass a
// FaultEnv).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/connectors/csv_folder/byte_source.h"
#include "agent/connectors/csv_folder/settle.h"
#include "agent/env/env.h"
#include "agent/util/status.h"

namespace opescare::csv_folder {

// An export opened for reading. Non-copyable; not thread-safe.
class InputFile {
 public:
  // kNotFound when the file is gone (moved or deleted meanwhile), kPermissionDenied, or kIoError.
  static Result<std::unique_ptr<InputFile>> Open(const std::string& path, env::Env& env = *env::Env::Default());
  virtual ~InputFile() = default;

  virtual uint64_t size_at_open() const = 0;
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  virtual Status Rewind() = 0;
  // True when the file's size or mtime differ from when it was opened (someone is still writing it).
  virtual Result<bool> ChangedSinceOpen() = 0;
};

// Reads at most `limit` bytes of an InputFile (the bytes that were hashed), which it borrows.
class InputFileSource final : public ByteSource {
 public:
  InputFileSource(InputFile* file, uint64_t limit) : file_(file), left_(limit) {}
  Result<size_t> Read(char* buf, size_t n) override {
    if (left_ == 0) return size_t{0};
    if (n > left_) n = static_cast<size_t>(left_);
    Result<size_t> got = file_->Read(buf, n);
    if (got.ok()) left_ -= *got;
    return got;
  }

 private:
  InputFile* file_;
  uint64_t left_;
};

// A CSV report (failed/<name>.errors.csv: columns row,column,reason) written as it goes to a temporary
// hidden file, then fsync'd and renamed into place with the folder fsync'd. Created on the first line only.
class ReportWriter {
 public:
  // final_path is where Commit() puts the report (the caller picks a name that is free).
  explicit ReportWriter(std::string final_path, env::Env& env = *env::Env::Default());
  ~ReportWriter();  // discards an uncommitted report
  ReportWriter(const ReportWriter&) = delete;
  ReportWriter& operator=(const ReportWriter&) = delete;

  // row 0 is written as an empty cell (a problem with the whole file).
  Status Add(int64_t row, std::string_view column, std::string_view reason);
  // Makes the report durable at final_path. No-op (OK) when nothing was added.
  Status Commit();
  uint64_t lines() const { return lines_; }
  const std::string& final_path() const { return final_path_; }

 private:
  struct Impl;
  std::string final_path_;
  env::Env& env_;
  std::unique_ptr<Impl> impl_;
  uint64_t lines_ = 0;
};

// A name for `name` in `dir` that is not taken: `name` itself, else `name` with ".<timestamp>" inserted
// before `keep_suffix` (".csv", ".errors.csv"; empty = before the last extension), else with "-2", "-3"...
// `taken` tells whether a path exists (injected for tests).
std::string FreeNameIn(const std::string& dir, const std::string& name, const std::string& keep_suffix,
                       std::chrono::system_clock::time_point now,
                       const std::function<bool(const std::string& path)>& taken);
bool PathExists(const std::string& path, env::Env& env = *env::Env::Default());

// Moves `from` to `to` durably (fsyncing both folders); when they are on different filesystems, copies
// to a temporary file beside `to`, fsyncs it, renames it into place and then removes `from`.
Status MoveFileDurable(const std::string& from, const std::string& to, env::Env& env = *env::Env::Default());

// Size and mtime of a regular file (symbolic links are not followed). kNotFound when it is gone,
// kInvalidArgument when it is not a regular file.
Result<FileObservation> StatRegularFile(const std::string& path, env::Env& env = *env::Env::Default());

// Names of every entry directly inside folder (not recursive): files, folders, FIFOs, links alike; the caller
// tells them apart (StatRegularFile).
Result<std::vector<std::string>> ListFolder(const std::string& folder, env::Env& env = *env::Env::Default());

// When a regular file last had its status changed (its ctime: a rename into a folder sets it), for ages in a
// folder; kInvalidArgument when it is not a regular file.
Result<std::chrono::system_clock::time_point> MovedHereAt(const std::string& path,
                                                          env::Env& env = *env::Env::Default());
// Removes a regular file (never a folder).
Status RemoveFile(const std::string& path, env::Env& env = *env::Env::Default());

// Creates a folder and its parents if missing.
Status EnsureFolder(const std::string& path, env::Env& env = *env::Env::Default());

std::string BaseName(const std::string& path);
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace opescare::csv_folder
