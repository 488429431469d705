// One-shot ingest of a named file.
#include "agent/connectors/csv_folder/enqueue.h"

namespace opescare::csv_folder {

FileOutcome EnqueueFile(const std::string& path, const ProcessorOptions& options, RecordSink* sink, const Clock* clock,
                        const ProgressCallback& progress) {
  FileProcessor processor(options, sink, clock);
  Status folders = processor.PrepareFolders();
  if (!folders.ok()) {
    FileOutcome out;
    out.file_name = path;
    out.kind = FileOutcome::Kind::kRetryLater;
    out.status = folders;
    return out;
  }
  return processor.Process(path, progress);
}

}  // namespace opescare::csv_folder
