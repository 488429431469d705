// FileOutcome's summary line and the one-go FileProcessor over FileJob (file_job.h does the work).
#include "agent/connectors/csv_folder/file_processor.h"

#include "agent/connectors/csv_folder/file_io.h"
#include "agent/connectors/csv_folder/file_job.h"

namespace opescare::csv_folder {
std::string FileOutcome::Summary() const {
  std::string s = file_name + ": ";
  switch (kind) {
    case Kind::kQueued:
      s += "queued " + std::to_string(rows_ok) + " " + record_type + " record" + (rows_ok == 1 ? "" : "s");
      if (rows_failed > 0) s += ", " + std::to_string(rows_failed) + " row" + (rows_failed == 1 ? "" : "s") + " failed";
      break;
    case Kind::kDuplicate:
      s += "already queued (same content, sha256 " + sha256.substr(0, 12) + "...), nothing queued again";
      break;
    case Kind::kRejected:
      s += "rejected, nothing queued";
      if (rows_failed > 0)
        s += " (" + std::to_string(rows_failed) + " row" + (rows_failed == 1 ? "" : "s") + " failed)";
      break;
    case Kind::kRetryLater:
      s += "not processed yet";
      break;
  }
  if (!report_path.empty()) s += "; report: " + report_path;
  if (!moved_to.empty()) s += "; moved to " + moved_to;
  if (!status.ok()) s += "; will retry: " + status.message();
  return s;
}

FileProcessor::FileProcessor(ProcessorOptions options, RecordSink* sink, const Clock* clock)
    : options_(std::move(options)), sink_(sink), clock_(clock) {}

Status FileProcessor::PrepareFolders() const {
  Status s = EnsureFolder(options_.processed_folder, *options_.env);
  if (!s.ok()) return s;
  return EnsureFolder(options_.failed_folder, *options_.env);
}

FileOutcome FileProcessor::Process(const std::string& path, const ProgressCallback& progress) {
  FileJob job(options_, sink_, clock_, path, progress);
  while (!job.Step(SliceBudget::Unlimited())) {
  }
  return job.outcome();
}

}  // namespace opescare::csv_folder
