// A CSV file's life in slices (file_job.h). Every early return leaves the file either untouched in the
// watch folder (retry later; committed slices stay, recorded with their progress) or fully dealt with; a
// crash at any point repeats at most the interrupted slice.
#include "agent/connectors/csv_folder/file_job.h"

#include "agent/connectors/csv_folder/file_io.h"
#include "agent/connectors/csv_folder/parse_ahead.h"
#include "agent/util/files.h"
#include "agent/util/hash.h"

namespace opescare::csv_folder {
namespace {

// FreeNameIn's test of whether a name is taken, through the job's Env.
std::function<bool(const std::string&)> TakenIn(env::Env& env) {
  return [&env](const std::string& path) { return PathExists(path, env); };
}

}  // namespace

namespace {

constexpr size_t kHashChunk = 256 * 1024;
constexpr uint64_t kProgressEvery = 1 << 20;

// The status page's words for a file without one valid row: counts and where to look, never a value.
std::string NoValidRowReason(const std::string& file_name, uint64_t rows_failed) {
  return "no valid row (" + std::to_string(rows_failed) + " row" + (rows_failed == 1 ? "" : "s") + " failed; see " +
         file_name + ".errors.csv in the failed folder)";
}

bool OverTime(const Clock* clock, std::chrono::steady_clock::time_point started, const SliceBudget& budget) {
  if (budget.max_time == std::chrono::milliseconds::max()) return false;
  return clock->Steady() - started >= budget.max_time;
}

}  // namespace

SliceBudget SliceBudget::Unlimited() {
  SliceBudget b;
  b.max_rows = UINT64_MAX;
  b.max_bytes = UINT64_MAX;
  b.max_time = std::chrono::milliseconds::max();
  return b;
}

struct FileJob::State {
  enum class Phase { kStart, kHashing, kParsing, kFinishing, kDone };
  Phase phase = Phase::kStart;
  const TypeRule* rule = nullptr;
  std::unique_ptr<InputFile> file;
  Sha256 hasher;
  Utf8Scanner scanner;
  std::unique_ptr<char[]> buf;
  std::unique_ptr<InputFileSource> source;
  std::unique_ptr<CsvRecordStream> opened;  // the stream, its header checked, until the first slice parses
  std::unique_ptr<ParseAhead> rows;         // then the same stream, parsed on a thread of its own
  std::unique_ptr<ReportWriter> report;
  bool begun = false;        // the sink holds this file open
  bool uncommitted = false;  // records added since the last commit
  uint64_t skip_rows = 0;    // rows an earlier attempt already committed (its progress)
  uint64_t last_progress = 0;
  IngestProgress prog;
};

FileJob::FileJob(const ProcessorOptions& options, RecordSink* sink, const Clock* clock, std::string path,
                 ProgressCallback progress)
    : options_(options),
      sink_(sink),
      clock_(clock),
      path_(std::move(path)),
      progress_(std::move(progress)),
      st_(std::make_unique<State>()) {
  out_.file_name = BaseName(path_);
}

FileJob::~FileJob() {
  if (st_ && st_->begun) sink_->AbortFile();  // only the slice not yet committed is rolled back
}

void FileJob::Report(int phase, uint64_t done) {
  if (!progress_) return;
  st_->prog.phase = static_cast<IngestProgress::Phase>(phase);
  st_->prog.bytes_done = done;
  progress_(st_->prog);
}

bool FileJob::Step(const SliceBudget& budget) {
  using Phase = State::Phase;
  switch (st_->phase) {
    case Phase::kStart:
      if (Start()) return true;
      [[fallthrough]];
    case Phase::kHashing:
      if (Hash(budget)) return true;
      if (st_->phase != Phase::kParsing) return false;  // the slice's bytes were spent hashing
      [[fallthrough]];
    case Phase::kParsing: return Parse(budget);
    case Phase::kFinishing: return Finish();
    case Phase::kDone: return true;
  }
  return true;
}

bool FileJob::RetryLater(Status why) {
  st_->rows.reset();  // the parser stops: nothing it parsed ahead is needed
  if (st_->begun) sink_->AbortFile();
  st_->begun = false;
  out_.kind = FileOutcome::Kind::kRetryLater;
  out_.status = std::move(why);
  st_->phase = State::Phase::kDone;
  return true;
}

bool FileJob::FolderRetry(std::string what, Status why) {
  if (why.code() != Code::kNotFound) out_.folder_problem = std::move(what);  // a vanished file is no fault
  return RetryLater(std::move(why));
}

void FileJob::MoveTo(const std::string& folder) {
  if (!options_.move_source) return;
  std::string name = FreeNameIn(folder, out_.file_name, "", clock_->Now(), TakenIn(*options_.env));
  std::string to = JoinPath(folder, name);
  Status s = MoveFileDurable(path_, to, *options_.env);
  if (!s.ok()) {
    out_.status = s;
    if (s.code() != Code::kNotFound) out_.folder_problem = "cannot move " + out_.file_name + " to " + folder;
    return;
  }
  out_.moved_to = to;
}

bool FileJob::Reject(const std::vector<RowError>& problems) {
  if (st_->begun) sink_->AbortFile();
  st_->begun = false;
  out_.kind = FileOutcome::Kind::kRejected;
  for (const RowError& e : problems) {
    if (e.row <= 1) {  // the whole file or its header (row 1): not one row's values
      out_.reason = e.column.empty() ? e.reason : e.column + ": " + e.reason;
      break;
    }
  }
  if (out_.reason.empty()) out_.reason = NoValidRowReason(out_.file_name, problems.size());
  std::string name = FreeNameIn(options_.failed_folder, out_.file_name + ".errors.csv", ".errors.csv", clock_->Now(),
                                TakenIn(*options_.env));
  ReportWriter report(JoinPath(options_.failed_folder, name), *options_.env);
  const std::string cannot_report = "cannot write the errors report in " + options_.failed_folder;
  for (const RowError& e : problems) {
    Status s = report.Add(e.row, e.column, e.reason);
    if (!s.ok()) return FolderRetry(cannot_report, s);
  }
  Status s = report.Commit();
  if (!s.ok()) return FolderRetry(cannot_report, s);
  out_.report_path = report.final_path();
  MoveTo(options_.failed_folder);
  st_->phase = State::Phase::kDone;
  return true;
}

// The type from the name alone (a name matching no fragment needs no hashing), room in the outbox, the file.
// True when the job ended here.
bool FileJob::Start() {
  st_->rule = options_.types.Match(out_.file_name);
  if (st_->rule == nullptr)
    return Reject({RowError{
        0, "", "the file name matches no record type; known name fragments: " + options_.types.KnownFragments()}});
  out_.record_type = st_->rule->type;
  Result<bool> full = sink_->IsFull();
  if (!full.ok()) return RetryLater(full.status());
  if (*full) return RetryLater(ResourceExhausted("the outbox is above its size cap; the file waits"));
  Result<std::unique_ptr<InputFile>> opened = InputFile::Open(path_, *options_.env);
  if (!opened.ok()) return FolderRetry("cannot read " + path_, opened.status());
  st_->file = std::move(*opened);
  st_->prog.bytes_total = st_->file->size_at_open();
  st_->buf.reset(new char[kHashChunk]);
  st_->phase = State::Phase::kHashing;
  return false;
}

// Step 3: the hash and (same pass) whether the text is UTF-8, a budget of bytes at a time; then the
// duplicate check, how far an interrupted attempt got, and the header. True when the job ended here.
bool FileJob::Hash(const SliceBudget& budget) {
  const auto started = clock_->Steady();
  uint64_t hashed = 0;
  for (;;) {
    if (hashed >= budget.max_bytes || OverTime(clock_, started, budget)) return false;
    Result<size_t> n = st_->file->Read(st_->buf.get(), kHashChunk);
    if (!n.ok()) return FolderRetry("cannot read " + path_, n.status());
    if (*n == 0) break;
    std::string_view chunk(st_->buf.get(), *n);
    st_->hasher.Update(chunk);
    if (options_.encoding == Encoding::kAuto && !st_->scanner.decided()) st_->scanner.Update(chunk);
    out_.bytes += *n;
    hashed += *n;
    if (out_.bytes - st_->last_progress >= kProgressEvery) {
      st_->last_progress = out_.bytes;
      Report(static_cast<int>(IngestProgress::Phase::kHashing), out_.bytes);
    }
  }
  st_->scanner.Finish();
  Report(static_cast<int>(IngestProgress::Phase::kHashing), out_.bytes);
  Result<Sha256Digest> digest = st_->hasher.Finish();
  if (!digest.ok()) return RetryLater(digest.status());
  out_.sha256 = HexEncode(*digest);

  Result<bool> known = sink_->HasFile(out_.sha256);
  if (!known.ok()) return RetryLater(known.status());
  if (*known) {
    out_.kind = FileOutcome::Kind::kDuplicate;
    MoveTo(options_.processed_folder);
    if (!out_.moved_to.empty()) {
      // The note is informative only: losing it to a crash loses nothing.
      Status s = WriteFileAtomic(
          out_.moved_to + ".duplicate",
          "This file's content (SHA-256 " + out_.sha256 + ") was already queued; nothing was queued again.\n", 0640,
          *options_.env);
      (void)s;
    }
    st_->phase = State::Phase::kDone;
    return true;
  }
  Result<uint64_t> resume = sink_->ResumePoint(out_.sha256);
  if (!resume.ok()) return RetryLater(resume.status());
  st_->skip_rows = *resume;

  // Step 4 begins: parse and validate, streaming the records into the sink.
  Status rewound = st_->file->Rewind();
  if (!rewound.ok()) return RetryLater(rewound);
  st_->source = std::make_unique<InputFileSource>(st_->file.get(), out_.bytes);
  StreamParams params;
  params.file_name = out_.file_name;
  params.file_sha256 = out_.sha256;
  params.rule = *st_->rule;
  params.encoding = options_.encoding == Encoding::kAuto ? st_->scanner.Verdict() : options_.encoding;
  params.date_format = options_.date_format;
  params.reader.delimiter = options_.delimiter;
  params.reader.limits = options_.limits;
  auto stream = std::make_unique<CsvRecordStream>(st_->source.get(), std::move(params));
  Result<std::vector<RowError>> header = stream->Open();
  if (!header.ok()) return RetryLater(header.status());
  if (!header->empty()) return Reject(*header);
  st_->opened = std::move(stream);
  std::string report_name = FreeNameIn(options_.failed_folder, out_.file_name + ".errors.csv", ".errors.csv",
                                       clock_->Now(), TakenIn(*options_.env));
  st_->report = std::make_unique<ReportWriter>(JoinPath(options_.failed_folder, report_name), *options_.env);
  st_->last_progress = 0;
  st_->phase = State::Phase::kParsing;
  return false;
}

// Step 4, a budget of rows at a time. Rows an interrupted attempt already committed are parsed again (their
// errors belong in the report) but not queued again. A slice that added records ends with their commit and
// the file's progress. True when the job ended here.
bool FileJob::Parse(const SliceBudget& budget) {
  if (st_->begun || st_->skip_rows > 0) {  // the disk may have filled since the last slice
    Result<bool> full = sink_->IsFull();
    if (!full.ok()) return RetryLater(full.status());
    if (*full) return RetryLater(ResourceExhausted("the outbox is full; the rest of the file waits"));
  }
  // The parser starts with the first slice that will take its rows (not for a file that waits at once).
  if (!st_->rows) st_->rows = std::make_unique<ParseAhead>(std::move(st_->opened));
  ParseAhead& stream = *st_->rows;
  const auto started = clock_->Steady();
  for (uint64_t rows = 0;; ++rows) {
    bool over = rows >= budget.max_rows || ((rows & 255) == 255 && OverTime(clock_, started, budget));
    if (over) {
      if (st_->uncommitted) {
        SliceProgress p{stream.rows_ok() + stream.rows_failed(), stream.rows_ok(), stream.rows_failed()};
        Status s = sink_->CommitSlice(p);
        if (!s.ok()) return RetryLater(s);
        st_->uncommitted = false;
      }
      return false;
    }
    Result<CsvRecordStream::Item> item = stream.Next();
    if (!item.ok()) return RetryLater(item.status());
    if (*item == CsvRecordStream::Item::kEnd) break;
    if (*item == CsvRecordStream::Item::kRecord) {
      if (stream.rows_ok() + stream.rows_failed() <= st_->skip_rows) continue;  // queued by an earlier attempt
      if (!st_->begun) {
        Status s = sink_->BeginFile(FileInfo{out_.file_name, out_.sha256, out_.bytes, out_.record_type});
        if (!s.ok()) return RetryLater(s);
        st_->begun = true;
      }
      Status s = sink_->Add(stream.record());
      if (!s.ok()) return RetryLater(s);
      st_->uncommitted = true;
      out_.rows_added++;
    } else {
      for (const RowError& e : stream.row_errors()) {
        Status s = st_->report->Add(e.row, e.column, e.reason);
        if (!s.ok()) return FolderRetry("cannot write the errors report in " + options_.failed_folder, s);
      }
    }
    if (stream.bytes_read() - st_->last_progress >= kProgressEvery) {
      st_->last_progress = stream.bytes_read();
      st_->prog.rows_ok = stream.rows_ok();
      st_->prog.rows_failed = stream.rows_failed();
      Report(static_cast<int>(IngestProgress::Phase::kParsing), st_->last_progress);
    }
  }
  out_.rows_ok = stream.rows_ok();
  out_.rows_failed = stream.rows_failed();
  st_->prog.rows_ok = out_.rows_ok;
  st_->prog.rows_failed = out_.rows_failed;
  Report(static_cast<int>(IngestProgress::Phase::kParsing), stream.bytes_read());
  st_->phase = State::Phase::kFinishing;
  return Finish();
}

// Steps 5 and 6: the report, the durable commit of the file, the move. True: the job always ends here.
bool FileJob::Finish() {
  // A file still being written (settle was not enough) is read again later, whole.
  Result<bool> changed = st_->file->ChangedSinceOpen();
  if (!changed.ok()) return RetryLater(changed.status());
  if (*changed) return RetryLater(Unavailable("the file changed while it was being read"));
  ReportWriter& report = *st_->report;
  if (out_.rows_ok == 0) {
    if (st_->begun) sink_->AbortFile();
    st_->begun = false;
    if (out_.rows_failed == 0) {
      Status s = report.Add(0, "", "the file has a header but no data rows");
      if (!s.ok()) return FolderRetry("cannot write the errors report in " + options_.failed_folder, s);
    }
    Status s = report.Commit();
    if (!s.ok()) return FolderRetry("cannot write the errors report in " + options_.failed_folder, s);
    out_.report_path = report.final_path();
    out_.kind = FileOutcome::Kind::kRejected;
    out_.reason = out_.rows_failed == 0 ? "the file has a header but no data rows"
                                        : NoValidRowReason(out_.file_name, out_.rows_failed);
    MoveTo(options_.failed_folder);
    Report(static_cast<int>(IngestProgress::Phase::kDone), out_.bytes);
    st_->phase = State::Phase::kDone;
    return true;
  }
  // The report before the commit: a crash in between rewrites it on the next attempt, never loses it.
  Status s = report.Commit();
  if (!s.ok()) return FolderRetry("cannot write the errors report in " + options_.failed_folder, s);
  if (report.lines() > 0) out_.report_path = report.final_path();
  if (!st_->begun) {  // every row was committed by earlier slices: the file itself is still to be recorded
    s = sink_->BeginFile(FileInfo{out_.file_name, out_.sha256, out_.bytes, out_.record_type});
    if (!s.ok()) return RetryLater(s);
    st_->begun = true;
  }
  // Step 5: the durable point.
  s = sink_->CommitFile(FileTotals{out_.rows_ok, out_.rows_failed});
  st_->begun = false;
  if (!s.ok()) {
    sink_->AbortFile();
    return RetryLater(s);
  }
  out_.kind = FileOutcome::Kind::kQueued;
  if (options_.after_commit) options_.after_commit(path_);
  // Step 6.
  MoveTo(options_.processed_folder);
  Report(static_cast<int>(IngestProgress::Phase::kDone), out_.bytes);
  st_->phase = State::Phase::kDone;
  return true;
}

}  // namespace opescare::csv_folder
