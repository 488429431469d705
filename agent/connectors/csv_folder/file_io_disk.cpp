// The file pipeline's disk side on agent/env: reading exports in place, the errors report, durable moves with a
// cross-volume fallback. Platform-neutral: the OS calls are the Env's.
#include <memory>

#include "agent/connectors/csv_folder/file_io.h"
#include "agent/util/files.h"

namespace opescare::csv_folder {
namespace {

class EnvInputFile final : public InputFile {
 public:
  EnvInputFile(std::unique_ptr<env::SequentialFile> file, env::Env& env, std::string path, const env::FileInfo& info)
      : file_(std::move(file)), env_(env), path_(std::move(path)), info_(info) {}

  uint64_t size_at_open() const override { return info_.size; }
  Result<size_t> Read(char* buf, size_t n) override { return file_->Read(buf, n); }
  Status Rewind() override { return file_->Rewind(); }

  Result<bool> ChangedSinceOpen() override {
    auto now = env_.Stat(path_);
    if (!now.ok()) return true;  // gone or replaced: not the file we read
    return now->file_id != info_.file_id || now->size != info_.size || now->modified != info_.modified;
  }

 private:
  std::unique_ptr<env::SequentialFile> file_;
  env::Env& env_;
  std::string path_;
  env::FileInfo info_;
};

}  // namespace

Result<std::unique_ptr<InputFile>> InputFile::Open(const std::string& path, env::Env& env) {
  auto file = env.NewSequentialFile(path, /*follow_links=*/false);
  if (!file.ok()) {
    const Code code = file.status().code();
    if (code == Code::kNotFound || code == Code::kPermissionDenied) return file.status();
    return IoError(file.status().message());
  }
  auto info = env.Stat(path);  // the link was refused above, so this is the file opened
  if (!info.ok()) return IoError(info.status().message());
  if (info->type != env::FileType::kRegular) return InvalidArgument(path + ": not a regular file");
  return std::unique_ptr<InputFile>(new EnvInputFile(std::move(*file), env, path, *info));
}

struct ReportWriter::Impl {
  std::unique_ptr<env::WritableFile> file;
  std::string tmp_path;
  std::string buffer;
};

ReportWriter::ReportWriter(std::string final_path, env::Env& env)
    : final_path_(std::move(final_path)), env_(env), impl_(std::make_unique<Impl>()) {}

ReportWriter::~ReportWriter() {
  if (impl_->file) {
    impl_->file.reset();
    (void)env_.RemoveFile(impl_->tmp_path);
  }
}

namespace {

void AppendCsvCell(std::string_view cell, std::string* out) {
  if (cell.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(cell);
    return;
  }
  out->push_back('"');
  for (char c : cell) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace

Status ReportWriter::Add(int64_t row, std::string_view column, std::string_view reason) {
  if (!impl_->file) {
    impl_->tmp_path = JoinPath(env::ParentDir(final_path_), "." + BaseName(final_path_) + ".tmp");
    auto file = env_.NewWritableFile(impl_->tmp_path, env::OpenMode::kTruncate, 0640);
    if (!file.ok()) return file.status();
    impl_->file = std::move(*file);
    impl_->buffer = "row,column,reason\n";
  }
  if (row > 0) impl_->buffer += std::to_string(row);
  impl_->buffer.push_back(',');
  AppendCsvCell(column, &impl_->buffer);
  impl_->buffer.push_back(',');
  AppendCsvCell(reason, &impl_->buffer);
  impl_->buffer.push_back('\n');
  ++lines_;
  if (impl_->buffer.size() >= (64u << 10)) {
    Status s = impl_->file->Append(impl_->buffer);
    impl_->buffer.clear();
    return s;
  }
  return Status::Ok();
}

Status ReportWriter::Commit() {
  if (!impl_->file) return Status::Ok();
  Status s = impl_->file->Append(impl_->buffer);
  impl_->buffer.clear();
  if (s.ok()) s = impl_->file->Sync();
  if (Status closed = impl_->file->Close(); s.ok()) s = closed;
  impl_->file.reset();
  if (s.ok()) s = RenameDurable(impl_->tmp_path, final_path_, env_);
  if (!s.ok()) (void)env_.RemoveFile(impl_->tmp_path);
  return s;
}

Result<FileObservation> StatRegularFile(const std::string& path, env::Env& env) {
  auto info = env.Stat(path, /*follow_links=*/false);
  if (!info.ok()) {
    if (info.status().code() == Code::kNotFound) return NotFound(path + ": gone");
    return IoError(info.status().message());
  }
  if (info->type != env::FileType::kRegular) return InvalidArgument(path + ": not a regular file");
  return FileObservation{info->size, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         info->modified.time_since_epoch())
                                         .count()};
}

Result<std::chrono::system_clock::time_point> MovedHereAt(const std::string& path, env::Env& env) {
  auto info = env.Stat(path, /*follow_links=*/false);
  if (!info.ok()) return IoError(info.status().message());
  if (info->type != env::FileType::kRegular) return InvalidArgument(path + ": not a regular file");
  return info->changed;
}

Status RemoveFile(const std::string& path, env::Env& env) {
  if (Status s = env.RemoveFile(path); !s.ok()) return IoError(s.message());
  return Status::Ok();
}

namespace {

// Different volumes: copies from to a temporary file beside to, makes it durable, renames it into place.
Status CopyDurable(const std::string& from, const std::string& to, unsigned mode, env::Env& env) {
  const std::string tmp = JoinPath(env::ParentDir(to), "." + BaseName(to) + ".tmp");
  auto in = env.NewSequentialFile(from);
  if (!in.ok()) return IoError(in.status().message());
  auto out = env.NewWritableFile(tmp, env::OpenMode::kTruncate, mode);
  if (!out.ok()) return out.status();
  Status s;
  char buf[1 << 16];
  for (;;) {
    Result<size_t> n = (*in)->Read(buf, sizeof buf);
    if (!n.ok()) {
      s = IoError(n.status().message());
      break;
    }
    if (*n == 0) break;
    s = (*out)->Append(std::string_view(buf, *n));
    if (!s.ok()) break;
  }
  if (s.ok()) s = (*out)->Sync();
  if (Status closed = (*out)->Close(); s.ok()) s = closed;
  if (s.ok()) s = RenameDurable(tmp, to, env);
  if (!s.ok()) (void)env.RemoveFile(tmp);
  return s;
}

}  // namespace

Status MoveFileDurable(const std::string& from, const std::string& to, env::Env& env) {
  auto src = env.Stat(from);
  if (!src.ok()) {
    if (src.status().code() == Code::kNotFound) return src.status();
    return IoError(src.status().message());
  }
  // A missing destination folder is the folder's problem, not a vanished file (kNotFound).
  if (auto dir = env.Stat(env::ParentDir(to)); !dir.ok()) return IoError(dir.status().message());
  Status s = RenameDurable(from, to, env);
  // kNotFound only for a vanished source; a destination that cannot exist (a file named like the folder) is
  // the folder's problem.
  if (s.code() == Code::kNotFound && env.Stat(from).ok()) return IoError(s.message());
  if (s.code() != Code::kFailedPrecondition) return s;  // done, or failed on the same volume
  // Different volumes: copy, make the copy durable, then remove the original.
  if (s = CopyDurable(from, to, src->mode & 0777, env); !s.ok()) return s;
  if (Status r = env.RemoveFile(from); !r.ok()) return IoError(from + ": copied, but cannot remove: " + r.message());
  return env.SyncDir(env::ParentDir(from));
}

}  // namespace opescare::csv_folder
