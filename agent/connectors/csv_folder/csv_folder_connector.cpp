// The watch folder's bookkeeping around FileProcessor: candidates, settling, order and retries.
#include "agent/connectors/csv_folder/csv_folder_connector.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "agent/connectors/csv_folder/file_io.h"
#include "agent/connectors/csv_folder/name_filter.h"

namespace opescare::csv_folder {

CsvFolderConnector::CsvFolderConnector(ConnectorOptions options, RecordSink* sink, const Clock* clock,
                                       std::unique_ptr<FolderWatcher> watcher)
    : options_(std::move(options)),
      clock_(clock),
      watcher_(watcher ? std::move(watcher) : options_.processing.env->NewFolderWatcher(options_.watch_folder)),
      processor_(options_.processing, sink, clock),
      settle_(options_.settle) {}

CsvFolderConnector::~CsvFolderConnector() { Stop(); }

Status CsvFolderConnector::Start() {
  Status s = EnsureFolder(options_.watch_folder, *options_.processing.env);
  if (!s.ok()) return s;
  s = processor_.PrepareFolders();
  if (!s.ok()) return s;
  // A processed or failed folder that is the watch folder itself would feed files back in forever.
  for (const std::string& folder : {options_.processing.processed_folder, options_.processing.failed_folder}) {
    std::error_code ec;
    if (std::filesystem::equivalent(options_.watch_folder, folder, ec))
      return FailedPrecondition(folder + ": the processed and failed folders must not be the watch folder");
  }
  watcher_status_ = watcher_->Start();
  if (!watcher_status_.ok()) watcher_ = NewScanOnlyWatcher();  // scans alone still find every file
  scan_due_ = true;
  return Status::Ok();
}

void CsvFolderConnector::Stop() {
  job_.reset();  // its uncommitted slice is rolled back; committed slices resume at the next start
  ready_.clear();
  watcher_->Stop();
}

void CsvFolderConnector::Note(const std::vector<std::string>& names) {
  for (const std::string& name : names)
    if (IsCandidateName(name, options_.file_pattern)) noted_.push_back(name);
}

void CsvFolderConnector::Scan() {
  scan_due_ = false;
  next_scan_ = clock_->Steady() + options_.scan_interval;
  Result<std::vector<std::string>> names = ListFolder(options_.watch_folder, *options_.processing.env);
  if (!names.ok()) return;  // a folder that cannot be listed now is listed again at the next scan
  Note(*names);
  // A folder, FIFO or link that is gone from the listing is no longer a fault.
  std::set<std::string> present(names->begin(), names->end());
  for (auto it = faults_.begin(); it != faults_.end();) {
    bool gone = it->second.kind == "not_regular_file" && present.count(BaseName(it->first)) == 0;
    it = gone ? faults_.erase(it) : std::next(it);
  }
}

Status CsvFolderConnector::Wait(std::chrono::milliseconds timeout) {
  Result<WatchEvents> events = watcher_->Wait(timeout);
  if (!events.ok()) return events.status();
  Note(events->names);
  if (events->rescan) scan_due_ = true;
  return Status::Ok();
}

std::vector<std::string> CsvFolderConnector::Poll() {
  Result<WatchEvents> events = watcher_->Drain();
  if (events.ok()) {
    Note(events->names);
    if (events->rescan) scan_due_ = true;
  } else {
    scan_due_ = true;
  }
  auto now = clock_->Steady();
  if (scan_due_ || now >= next_scan_) Scan();
  RemoveOldFiles();

  std::set<std::string> names(noted_.begin(), noted_.end());
  noted_.clear();
  for (const std::string& name : settle_.Names()) names.insert(name);
  for (const std::string& name : names) {
    const std::string path = JoinPath(options_.watch_folder, name);
    Result<FileObservation> seen = StatRegularFile(path, *options_.processing.env);
    if (!seen.ok()) {
      if (seen.status().code() == Code::kIoError) continue;  // keep it; look again next time
      settle_.Forget(name);
      retries_.erase(name);
      if (seen.status().code() == Code::kInvalidArgument) {  // a folder, a FIFO, a link: said once, left alone
        if (faults_.count(path) == 0) Raise(NotRegularFileFault(path));
      } else {
        faults_.erase(path);  // gone
      }
      continue;
    }
    settle_.Observe(name, *seen, now);
  }

  std::vector<std::string> ready;
  for (const std::string& name : settle_.Ready()) {
    auto retry = retries_.find(name);
    if (retry != retries_.end() && retry->second.at > now) continue;
    ready.push_back(JoinPath(options_.watch_folder, name));
  }
  return ready;
}

std::chrono::steady_clock::time_point CsvFolderConnector::NextWakeup() const {
  auto now = clock_->Steady();
  if (scan_due_ || !noted_.empty()) return now;
  auto next = next_scan_;
  if (auto deadline = settle_.NextDeadline(); deadline && *deadline < next) next = *deadline;
  for (const auto& [name, retry] : retries_)
    if (settle_.IsReady(name) && retry.at < next) next = retry.at;
  return std::max(next, now);
}

FileOutcome CsvFolderConnector::ProcessFile(const std::string& path, const ProgressCallback& progress) {
  FileOutcome outcome = processor_.Process(path, progress);
  Settled(path, outcome);
  return outcome;
}

void CsvFolderConnector::Raise(ConnectorFault fault) {
  auto it = faults_.find(fault.path);
  if (it != faults_.end() && it->second.message == fault.message) return;  // already said
  new_faults_.push_back(fault);
  faults_[fault.path] = std::move(fault);
}

std::vector<ConnectorFault> CsvFolderConnector::faults() const {
  std::vector<ConnectorFault> out;
  for (const auto& [path, fault] : faults_) out.push_back(fault);
  return out;
}

// CSV.md step 7: patient data does not pile up on the facility's disk. Checked once an hour; the age is
// counted from when the file was moved there (its status change time), not from its export.
void CsvFolderConnector::RemoveOldFiles() {
  if (options_.keep_processed.count() == 0) return;
  const auto now = clock_->Steady();
  if (now < next_cleanup_) return;
  next_cleanup_ = now + std::chrono::hours(1);
  const auto cutoff = clock_->Now() - options_.keep_processed;
  for (const std::string& folder : {options_.processing.processed_folder, options_.processing.failed_folder}) {
    Result<std::vector<std::string>> names = ListFolder(folder, *options_.processing.env);
    if (!names.ok()) continue;  // said by the folder checks; tried again in an hour
    for (const std::string& name : *names) {
      const std::string path = JoinPath(folder, name);
      Result<std::chrono::system_clock::time_point> moved = MovedHereAt(path, *options_.processing.env);
      if (moved.ok() && *moved < cutoff && RemoveFile(path, *options_.processing.env).ok()) ++removed_old_files_;
    }
  }
}

size_t CsvFolderConnector::TakeRemovedOldFiles() {
  size_t n = removed_old_files_;
  removed_old_files_ = 0;
  return n;
}

std::vector<ConnectorFault> CsvFolderConnector::TakeNewFaults() {
  std::vector<ConnectorFault> out;
  out.swap(new_faults_);
  return out;
}

void CsvFolderConnector::Settled(const std::string& path, const FileOutcome& outcome) {
  if (!outcome.folder_problem.empty()) {
    Raise(FolderFault(path, outcome.folder_problem, outcome.status));
  } else if (outcome.status.ok() || outcome.status.code() == Code::kNotFound) {
    faults_.erase(path);
  }
  std::string name = BaseName(path);
  if (outcome.status.ok() || outcome.status.code() == Code::kNotFound) {
    settle_.Forget(name);
    retries_.erase(name);
    return;
  }
  Retry& retry = retries_[name];
  retry.delay = retry.delay.count() == 0 ? options_.retry_initial : std::min(retry.delay * 2, options_.retry_max);
  retry.at = clock_->Steady() + retry.delay;
}

CsvFolderConnector::Slice CsvFolderConnector::RunSlice(const SliceBudget& budget) {
  Slice slice;
  if (!job_) {
    if (ready_.empty()) {
      std::vector<std::string> ready = Poll();
      ready_.assign(ready.begin(), ready.end());
    }
    if (ready_.empty()) return slice;
    job_ = std::make_unique<FileJob>(options_.processing, processor_.sink(), clock_, ready_.front());
    ready_.pop_front();
  }
  if (job_->Step(budget)) {
    slice.finished = job_->outcome();
    Settled(job_->path(), *slice.finished);
    job_.reset();
    // A file waiting because the outbox is full: the others would wait too; look again when woken.
    if (slice.finished->kind == FileOutcome::Kind::kRetryLater &&
        slice.finished->status.code() == Code::kResourceExhausted)
      ready_.clear();
  }
  slice.more = job_ != nullptr || !ready_.empty();
  return slice;
}

void CsvFolderConnector::RetryNow() {
  auto now = clock_->Steady();
  for (auto& [name, retry] : retries_) retry.at = now;
}

}  // namespace opescare::csv_folder
