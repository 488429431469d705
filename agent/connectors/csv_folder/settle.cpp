// Settle detection over stat() observations.
#include "agent/connectors/csv_folder/settle.h"

#include <algorithm>

namespace opescare::csv_folder {

void SettleTracker::Observe(const std::string& name, const FileObservation& seen, TimePoint now) {
  auto [it, inserted] = files_.try_emplace(name, Entry{seen, now, now});
  if (inserted) return;
  Entry& e = it->second;
  if (e.seen.size != seen.size || e.seen.mtime_ns != seen.mtime_ns) {
    e.seen = seen;
    e.stable_since = now;
  }
  if (now > e.last_seen) e.last_seen = now;
}

void SettleTracker::Forget(const std::string& name) { files_.erase(name); }

std::vector<std::string> SettleTracker::Ready() const {
  std::vector<std::pair<int64_t, const std::string*>> ready;
  for (const auto& [name, e] : files_)
    if (Settled(e)) ready.emplace_back(e.seen.mtime_ns, &name);
  std::sort(ready.begin(), ready.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : *a.second < *b.second;
  });
  std::vector<std::string> out;
  out.reserve(ready.size());
  for (const auto& r : ready) out.push_back(*r.second);
  return out;
}

bool SettleTracker::IsReady(const std::string& name) const {
  auto it = files_.find(name);
  return it != files_.end() && Settled(it->second);
}

std::optional<SettleTracker::TimePoint> SettleTracker::NextDeadline() const {
  std::optional<TimePoint> next;
  for (const auto& [name, e] : files_) {
    if (Settled(e)) continue;
    TimePoint due = e.stable_since + std::chrono::duration_cast<TimePoint::duration>(settle_);
    if (!next || due < *next) next = due;
  }
  return next;
}

std::vector<std::string> SettleTracker::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : files_) out.push_back(name);
  return out;
}

}  // namespace opescare::csv_folder
