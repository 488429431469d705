// The file helpers, on agent/env: the same durable steps on every platform.
#include "agent/util/files.h"

namespace opescare {

Result<std::string> ReadFileLimited(const std::string& path, uint64_t max_bytes, env::Env& env) {
  auto file = env.NewSequentialFile(path);
  if (!file.ok()) return IoError(file.status().message());
  auto info = env.Stat(path);
  if (!info.ok()) return IoError(info.status().message());
  if (info->type == env::FileType::kDirectory) return InvalidArgument(path + ": is a directory, not a file");
  if (info->size > max_bytes)
    return InvalidArgument(path + ": file is " + std::to_string(info->size) + " bytes, more than the limit of " +
                           std::to_string(max_bytes));
  std::string out;
  char buf[65536];
  for (;;) {
    Result<size_t> n = (*file)->Read(buf, sizeof buf);
    if (!n.ok()) return IoError(n.status().message());
    if (*n == 0) break;
    out.append(buf, *n);
    if (out.size() > max_bytes) return InvalidArgument(path + ": file grew beyond the size limit while reading");
  }
  return out;
}

Status FsyncDirectory(const std::string& dir, env::Env& env) { return env.SyncDir(dir); }

Status WriteFileAtomic(const std::string& path, const std::string& contents, unsigned mode, env::Env& env) {
  const std::string tmp = path + ".tmp";
  Status s;
  {
    auto file = env.NewWritableFile(tmp, env::OpenMode::kTruncate, mode);
    if (!file.ok()) return file.status();
    s = (*file)->Append(contents);
    if (s.ok()) s = (*file)->Sync();
    if (s.ok()) s = (*file)->Close();
  }
  if (s.ok()) s = env.RenameFile(tmp, path);
  if (!s.ok()) {
    (void)env.RemoveFile(tmp);  // best effort: the error to report is s
    return s;
  }
  return env.SyncDir(env::ParentDir(path));
}

Status RenameDurable(const std::string& from, const std::string& to, env::Env& env) {
  if (Status s = env.RenameFile(from, to); !s.ok()) return s;
  const std::string to_dir = env::ParentDir(to), from_dir = env::ParentDir(from);
  if (Status s = env.SyncDir(to_dir); !s.ok()) return s;
  if (from_dir != to_dir) return env.SyncDir(from_dir);
  return Status::Ok();
}

Result<unsigned> FileMode(const std::string& path, env::Env& env) {
  auto info = env.Stat(path);
  if (!info.ok()) return info.status();
  return info->mode;
}

Result<uint64_t> FreeDiskBytes(const std::string& path, env::Env& env) {
  // FreeSpace measures a missing path's folder; this one must name an existing path.
  if (auto info = env.Stat(path); !info.ok()) return info.status();
  return env.FreeSpace(path);
}

Result<uint64_t> FreeSpaceBytes(const std::string& path, env::Env& env) { return env.FreeSpace(path); }

Status PreallocateFile(const std::string& path, uint64_t bytes, env::Env& env) {
  Status s;
  {
    auto file = env.NewWritableFile(path, env::OpenMode::kAppend, 0600);
    if (!file.ok()) return file.status();
    s = (*file)->Allocate(bytes);
    if (s.ok()) s = (*file)->Sync();
    if (s.ok()) s = (*file)->Close();
  }
  if (!s.ok()) {
    (void)env.RemoveFile(path);  // a partial reservation would only mislead
    return s;
  }
  return env.SyncDir(env::ParentDir(path));
}

}  // namespace opescare
