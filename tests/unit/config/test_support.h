// Helpers for the config tests: temporary directories, files with a given mode, running a check as an
// unprivileged user (root reads every file, so permission tests must drop root to mean anything).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "agent/config/config.h"

namespace opescare::config::testing {

inline constexpr char kKey[] = "k3y-S3cret-value-0123456789";

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ob-config-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) ? pattern : "";
    ::chmod(path_.c_str(), 0755);  // an unprivileged child must be able to reach files inside
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& contents, unsigned mode = 0644) const {
    std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary) << contents;
    ::chmod(file.c_str(), mode);
    return file;
  }

 private:
  std::string path_;
};

// Runs fn as user nobody in a child process when this process is root, else runs it directly; returns
// what fn returned.
inline std::string RunUnprivileged(const std::function<std::string()>& fn) {
  if (::geteuid() != 0) return fn();
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string out = (::setgid(65534) == 0 && ::setuid(65534) == 0) ? fn() : "cannot drop root";
    ssize_t ignored = ::write(fds[1], out.data(), out.size());
    (void)ignored;
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

// All problems of a result, one ToString() per line.
inline std::string AllProblems(const LoadResult& result) {
  std::string out;
  for (const Problem& p : result.problems) out += p.ToString() + "\n";
  return out;
}

}  // namespace opescare::config::testing
