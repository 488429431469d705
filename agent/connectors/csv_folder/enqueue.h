// `opescare-bridge enqueue FILE...`: the watch folder's pipeline (FileProcessor) run once on a named file,
// with progress for the CLI's bar and FileOutcome::Summary() for its summary line.
#pragma once

#include <string>

#include "agent/connectors/csv_folder/file_processor.h"

namespace opescare::csv_folder {

// Creates processed/ and failed/ if needed, then processes path like a settled file of the watch folder:
// duplicate check, errors report, one transaction, move (unless options.move_source is false). A file the
// outbox cannot take now (full, locked) comes back as kRetryLater with the status saying why.
FileOutcome EnqueueFile(const std::string& path, const ProcessorOptions& options, RecordSink* sink, const Clock* clock,
                        const ProgressCallback& progress = {});

}  // namespace opescare::csv_folder
