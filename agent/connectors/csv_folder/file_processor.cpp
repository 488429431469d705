// A CSV file's life (CSV.md steps 3-6). Every early return leaves the file either untouched in the watch
// folder (retry later) or fully dealt with; a crash at any point repeats at most the interrupted step.
#include "agent/connectors/csv_folder/file_processor.h"

#include <memory>

#include "agent/connectors/csv_folder/file_io.h"
#include "agent/util/files.h"
#include "agent/util/hash.h"

namespace opescare::csv_folder {
namespace {

constexpr size_t kHashChunk = 256 * 1024;
constexpr uint64_t kProgressEvery = 1 << 20;

FileOutcome RetryLater(FileOutcome out, Status why) {
  out.kind = FileOutcome::Kind::kRetryLater;
  out.status = std::move(why);
  return out;
}

// The status page's words for a file without one valid row: counts and where to look, never a value.
std::string NoValidRowReason(const std::string& file_name, uint64_t rows_failed) {
  return "no valid row (" + std::to_string(rows_failed) + " row" + (rows_failed == 1 ? "" : "s") + " failed; see " +
         file_name + ".errors.csv in the failed folder)";
}

}  // namespace

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
  Status s = EnsureFolder(options_.processed_folder);
  if (!s.ok()) return s;
  return EnsureFolder(options_.failed_folder);
}

void FileProcessor::MoveTo(const std::string& path, const std::string& folder, FileOutcome* out) {
  if (!options_.move_source) return;
  std::string name = FreeNameIn(folder, out->file_name, "", clock_->Now(), PathExists);
  std::string to = JoinPath(folder, name);
  Status s = MoveFileDurable(path, to);
  if (!s.ok()) {
    out->status = s;
    return;
  }
  out->moved_to = to;
}

FileOutcome FileProcessor::Reject(const std::string& path, FileOutcome out, const std::vector<RowError>& problems) {
  out.kind = FileOutcome::Kind::kRejected;
  for (const RowError& e : problems) {
    if (e.row <= 1) {  // the whole file or its header (row 1): not one row's values
      out.reason = e.column.empty() ? e.reason : e.column + ": " + e.reason;
      break;
    }
  }
  if (out.reason.empty()) out.reason = NoValidRowReason(out.file_name, problems.size());
  std::string name =
      FreeNameIn(options_.failed_folder, out.file_name + ".errors.csv", ".errors.csv", clock_->Now(), PathExists);
  ReportWriter report(JoinPath(options_.failed_folder, name));
  for (const RowError& e : problems) {
    Status s = report.Add(e.row, e.column, e.reason);
    if (!s.ok()) return RetryLater(std::move(out), s);
  }
  Status s = report.Commit();
  if (!s.ok()) return RetryLater(std::move(out), s);
  out.report_path = report.final_path();
  MoveTo(path, options_.failed_folder, &out);
  return out;
}

FileOutcome FileProcessor::Process(const std::string& path, const ProgressCallback& progress) {
  FileOutcome out;
  out.file_name = BaseName(path);
  IngestProgress prog;
  auto report_progress = [&](IngestProgress::Phase phase, uint64_t done) {
    if (!progress) return;
    prog.phase = phase;
    prog.bytes_done = done;
    progress(prog);
  };

  // The type comes from the name alone: a name matching no fragment needs no hashing.
  const TypeRule* rule = options_.types.Match(out.file_name);
  if (rule == nullptr)
    return Reject(
        path, std::move(out),
        {RowError{0, "",
                  "the file name matches no record type; known name fragments: " + options_.types.KnownFragments()}});
  out.record_type = rule->type;
  Result<bool> full = sink_->IsFull();
  if (!full.ok()) return RetryLater(std::move(out), full.status());
  if (*full) return RetryLater(std::move(out), ResourceExhausted("the outbox is above its size cap; the file waits"));

  Result<std::unique_ptr<InputFile>> opened = InputFile::Open(path);
  if (!opened.ok()) return RetryLater(std::move(out), opened.status());
  InputFile& file = **opened;
  prog.bytes_total = file.size_at_open();

  // Step 3: the hash, and (same pass) whether the text is UTF-8.
  Sha256 hasher;
  Utf8Scanner scanner;
  {
    std::unique_ptr<char[]> buf(new char[kHashChunk]);
    uint64_t last = 0;
    for (;;) {
      Result<size_t> n = file.Read(buf.get(), kHashChunk);
      if (!n.ok()) return RetryLater(std::move(out), n.status());
      if (*n == 0) break;
      std::string_view chunk(buf.get(), *n);
      hasher.Update(chunk);
      if (options_.encoding == Encoding::kAuto) scanner.Update(chunk);
      out.bytes += *n;
      if (out.bytes - last >= kProgressEvery) {
        last = out.bytes;
        report_progress(IngestProgress::Phase::kHashing, out.bytes);
      }
    }
    scanner.Finish();
    report_progress(IngestProgress::Phase::kHashing, out.bytes);
  }
  out.sha256 = HexEncode(hasher.Finish());

  Result<bool> known = sink_->HasFile(out.sha256);
  if (!known.ok()) return RetryLater(std::move(out), known.status());
  if (*known) {
    out.kind = FileOutcome::Kind::kDuplicate;
    MoveTo(path, options_.processed_folder, &out);
    if (!out.moved_to.empty()) {
      // The note is informative only: losing it to a crash loses nothing.
      Status s = WriteFileAtomic(
          out.moved_to + ".duplicate",
          "This file's content (SHA-256 " + out.sha256 + ") was already queued; nothing was queued again.\n", 0640);
      (void)s;
    }
    return out;
  }

  // Step 4: parse and validate, streaming the records into one transaction.
  Status rewound = file.Rewind();
  if (!rewound.ok()) return RetryLater(std::move(out), rewound);
  InputFileSource source(&file, out.bytes);
  StreamParams params;
  params.file_name = out.file_name;
  params.file_sha256 = out.sha256;
  params.rule = *rule;
  params.encoding = options_.encoding == Encoding::kAuto ? scanner.Verdict() : options_.encoding;
  params.date_format = options_.date_format;
  params.reader.delimiter = options_.delimiter;
  params.reader.limits = options_.limits;
  CsvRecordStream stream(&source, std::move(params));

  Result<std::vector<RowError>> header = stream.Open();
  if (!header.ok()) return RetryLater(std::move(out), header.status());
  if (!header->empty()) return Reject(path, std::move(out), *header);

  std::string report_name =
      FreeNameIn(options_.failed_folder, out.file_name + ".errors.csv", ".errors.csv", clock_->Now(), PathExists);
  ReportWriter report(JoinPath(options_.failed_folder, report_name));
  bool begun = false;
  auto abort = [&](Status why) {
    if (begun) sink_->AbortFile();
    return RetryLater(std::move(out), std::move(why));
  };
  uint64_t last = 0;
  for (;;) {
    Result<CsvRecordStream::Item> item = stream.Next();
    if (!item.ok()) return abort(item.status());
    if (*item == CsvRecordStream::Item::kEnd) break;
    if (*item == CsvRecordStream::Item::kRecord) {
      if (!begun) {
        Status s = sink_->BeginFile(FileInfo{out.file_name, out.sha256, out.bytes, out.record_type});
        if (!s.ok()) return abort(s);
        begun = true;
      }
      Status s = sink_->Add(stream.record());
      if (!s.ok()) return abort(s);
    } else {
      for (const RowError& e : stream.row_errors()) {
        Status s = report.Add(e.row, e.column, e.reason);
        if (!s.ok()) return abort(s);
      }
    }
    if (stream.bytes_read() - last >= kProgressEvery) {
      last = stream.bytes_read();
      prog.rows_ok = stream.rows_ok();
      prog.rows_failed = stream.rows_failed();
      report_progress(IngestProgress::Phase::kParsing, last);
    }
  }
  out.rows_ok = stream.rows_ok();
  out.rows_failed = stream.rows_failed();
  prog.rows_ok = out.rows_ok;
  prog.rows_failed = out.rows_failed;
  report_progress(IngestProgress::Phase::kParsing, stream.bytes_read());

  // A file still being written (settle was not enough) is read again later, whole.
  Result<bool> changed = file.ChangedSinceOpen();
  if (!changed.ok()) return abort(changed.status());
  if (*changed) return abort(Unavailable("the file changed while it was being read"));

  if (out.rows_ok == 0) {
    if (begun) sink_->AbortFile();
    if (out.rows_failed == 0) {
      Status s = report.Add(0, "", "the file has a header but no data rows");
      if (!s.ok()) return RetryLater(std::move(out), s);
    }
    Status s = report.Commit();
    if (!s.ok()) return RetryLater(std::move(out), s);
    out.report_path = report.final_path();
    out.kind = FileOutcome::Kind::kRejected;
    out.reason = out.rows_failed == 0 ? "the file has a header but no data rows"
                                      : NoValidRowReason(out.file_name, out.rows_failed);
    MoveTo(path, options_.failed_folder, &out);
    report_progress(IngestProgress::Phase::kDone, out.bytes);
    return out;
  }

  // The report before the commit: a crash in between rewrites it on the next attempt, never loses it.
  Status s = report.Commit();
  if (!s.ok()) return abort(s);
  if (report.lines() > 0) out.report_path = report.final_path();

  // Step 5: the durable point.
  s = sink_->CommitFile(FileTotals{out.rows_ok, out.rows_failed});
  if (!s.ok()) {
    sink_->AbortFile();
    return RetryLater(std::move(out), s);
  }
  out.kind = FileOutcome::Kind::kQueued;
  if (options_.after_commit) options_.after_commit(path);

  // Step 6.
  MoveTo(path, options_.processed_folder, &out);
  report_progress(IngestProgress::Phase::kDone, out.bytes);
  return out;
}

}  // namespace opescare::csv_folder
