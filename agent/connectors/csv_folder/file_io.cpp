// Portable path helpers for the file pipeline.
#include "agent/connectors/csv_folder/file_io.h"

#include <ctime>

#include "agent/util/clock.h"

namespace opescare::csv_folder {

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
#ifdef _WIN32
  size_t back = path.find_last_of('\\');
  if (back != std::string::npos && (slash == std::string::npos || back > slash)) slash = back;
#endif
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

bool PathExists(const std::string& path, env::Env& env) {
  return env.Stat(path, /*follow_links=*/false).ok();
}

Status EnsureFolder(const std::string& path, env::Env& env) {
  if (Status s = env.CreateDirs(path); !s.ok()) return IoError(s.message());
  return Status::Ok();
}

Result<std::vector<std::string>> ListFolder(const std::string& folder, env::Env& env) {
  auto names = env.ListDir(folder);
  if (!names.ok()) return IoError(names.status().message());
  return names;
}

std::string FreeNameIn(const std::string& dir, const std::string& name, const std::string& keep_suffix,
                       std::chrono::system_clock::time_point now,
                       const std::function<bool(const std::string& path)>& taken) {
  if (!taken(JoinPath(dir, name))) return name;
  std::string head = name, tail;
  if (!keep_suffix.empty() && name.size() > keep_suffix.size() &&
      name.compare(name.size() - keep_suffix.size(), keep_suffix.size(), keep_suffix) == 0) {
    head = name.substr(0, name.size() - keep_suffix.size());
    tail = keep_suffix;
  } else if (size_t dot = name.find_last_of('.'); keep_suffix.empty() && dot != std::string::npos && dot > 0) {
    head = name.substr(0, dot);
    tail = name.substr(dot);
  }
  std::time_t secs = static_cast<std::time_t>(UnixSeconds(now));
  std::tm tm{};
#ifdef _WIN32
  gmtime_s(&tm, &secs);
#else
  gmtime_r(&secs, &tm);
#endif
  char stamp[24];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string base = head + "." + stamp;
  std::string candidate = base + tail;
  for (int n = 2; taken(JoinPath(dir, candidate)) && n < 100000; ++n) candidate = base + "-" + std::to_string(n) + tail;
  return candidate;
}

}  // namespace opescare::csv_folder
