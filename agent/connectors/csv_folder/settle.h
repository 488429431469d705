// SettleTracker: decides when a file in the watch folder has stopped changing (CSV.md step 2) and in which
// order ready files are taken. Pure: fed stat() observations and times, it never touches the disk.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace opescare::csv_folder {

struct FileObservation {
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // modification time, nanoseconds since the epoch
};

// Not thread-safe.
class SettleTracker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit SettleTracker(std::chrono::nanoseconds settle) : settle_(settle) {}

  // What a stat() of name showed at `now`. A changed size or mtime restarts the file's settle period.
  void Observe(const std::string& name, const FileObservation& seen, TimePoint now);
  // The file is gone or done with.
  void Forget(const std::string& name);

  // Files whose size and mtime were seen unchanged over at least the settle period (by observations at
  // both ends of it), oldest mtime first, then by name: the order they arrived in.
  std::vector<std::string> Ready() const;
  bool IsReady(const std::string& name) const;

  // The earliest time an unsettled file could become ready (observe it again then), if any.
  std::optional<TimePoint> NextDeadline() const;

  bool Contains(const std::string& name) const { return files_.count(name) != 0; }
  std::vector<std::string> Names() const;
  size_t size() const { return files_.size(); }

 private:
  struct Entry {
    FileObservation seen;
    TimePoint stable_since;  // first observation with the current size and mtime
    TimePoint last_seen;     // latest observation (still unchanged)
  };
  bool Settled(const Entry& e) const { return e.last_seen - e.stable_since >= settle_; }

  std::chrono::nanoseconds settle_;
  std::map<std::string, Entry> files_;
};

}  // namespace opescare::csv_folder
