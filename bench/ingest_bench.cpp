// CSV ingest benchmark: a generated patients file (~150 bytes a row) through (1) the parser and mapper
// alone, (2) the whole file pipeline into a null sink, (3) the whole pipeline into the SQLite outbox in the
// agent's slices (drop to committed: each slice committed with synchronous=FULL, as `run` does it), (4) the
// same in one transaction, and (5) the reference: the same records, parsed beforehand, through a bare
// prepared INSERT into the same schema in one transaction. Prints its figures and (3)/(5), (4)/(5); not a
// timed test.
//
// Usage: ingest_bench [--rows N] [--dir DIR] [--no-sqlite]   (defaults: 200,000 rows, $TMPDIR)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/file_io.h"
#include "agent/connectors/csv_folder/file_job.h"
#include "agent/connectors/csv_folder/file_processor.h"
#include "agent/connectors/csv_folder/outbox_sink.h"
#include "agent/connectors/csv_folder/record_stream.h"
#include "agent/outbox/outbox.h"
#include "agent/util/hash.h"
#include "bench/bench_data.h"
#include "bench/bench_timing.h"

namespace {

using namespace opescare;
using namespace opescare::csv_folder;
using Steady = std::chrono::steady_clock;

using bench::CpuSeconds;
using bench::MaxRssMiB;

double Seconds(Steady::time_point since) { return std::chrono::duration<double>(Steady::now() - since).count(); }

class NullSink final : public RecordSink {
 public:
  Result<bool> IsFull() override { return false; }
  Result<bool> HasFile(const std::string&) override { return false; }
  Status BeginFile(const FileInfo&) override { return Status::Ok(); }
  Status Add(const Record& r) override {
    bytes += r.data_json.size();
    ++records;
    return Status::Ok();
  }
  Status CommitFile(const FileTotals&) override { return Status::Ok(); }
  void AbortFile() override {}
  uint64_t records = 0, bytes = 0;
};

void Report(const char* what, int64_t rows, uint64_t bytes, double wall, double cpu) {
  std::printf("%-44s %9.0f rows/s  %7.1f MB/s  (%.2f s wall, %.2f s cpu)\n", what, static_cast<double>(rows) / wall,
              static_cast<double>(bytes) / wall / 1e6, wall, cpu);
}

// The stream's parameters for the file parsed on its own, without the pipeline's hashing.
StreamParams BenchParams(const ProcessorOptions& options) {
  StreamParams params;
  params.file_name = "patients_bench.csv";
  params.file_sha256 = Sha256Hex("bench");
  params.rule = *options.types.Match(params.file_name);
  params.encoding = Encoding::kUtf8;
  return params;
}

// (3), (4): drop to committed in a fresh SQLite outbox, FileJob stepped with the budget (the agent's
// SliceBudget{} or one transaction) as the ingest driver steps it. Returns the wall seconds.
Result<double> IntoOutbox(const std::string& root, const char* name, const ProcessorOptions& options,
                          const Clock* clock, const std::string& path, const SliceBudget& budget, int64_t rows) {
  outbox::OutboxOptions o;
  o.path = root + "/outbox-" + name + ".db";
  Result<std::unique_ptr<outbox::Outbox>> ob = outbox::OpenOutbox(o);
  if (!ob.ok()) return ob.status();
  OutboxRecordSink sink(ob->get(), 0);
  double cpu = CpuSeconds();
  auto start = Steady::now();
  int64_t steps = 1;
  double hashed_at = 0;  // the hashing pass (SHA-256 and the UTF-8 check) ends before the first row is parsed
  FileJob job(options, &sink, clock, path, [&](const IngestProgress& p) {
    if (p.phase == IngestProgress::Phase::kHashing) hashed_at = Seconds(start);
  });
  while (!job.Step(budget)) ++steps;
  double wall = Seconds(start);
  const FileOutcome& out = job.outcome();
  std::string what = std::string("file pipeline, SQLite outbox, ") +
                     (budget.max_rows == UINT64_MAX ? "one transaction" : "agent's slices");
  Report(what.c_str(), static_cast<int64_t>(out.rows_ok), out.bytes, wall, CpuSeconds() - cpu);
  std::printf("%44s %9lld steps; the hashing pass before the first row %.3f s (%.0f %% of the wall time)\n", "",
              static_cast<long long>(steps), hashed_at, 100.0 * hashed_at / wall);
  if (out.kind != FileOutcome::Kind::kQueued || out.rows_ok != static_cast<uint64_t>(rows))
    return Internal("unexpected: " + out.Summary());
  std::filesystem::rename(out.moved_to, path);  // back for the next run
  return wall;
}

// (5): the file's records, parsed beforehand (not timed), through bench::BareInsert in one transaction.
Result<double> BareReference(const std::string& root, const ProcessorOptions& options, const std::string& path,
                             uint64_t size, int64_t rows) {
  struct Row {
    std::string id, type, data_json;
    int64_t source_row = 0;
  };
  std::vector<Row> parsed;
  {
    Result<std::unique_ptr<InputFile>> file = InputFile::Open(path);
    if (!file.ok()) return file.status();
    InputFileSource source(file->get(), size);
    CsvRecordStream stream(&source, BenchParams(options));
    if (Result<std::vector<RowError>> h = stream.Open(); !h.ok()) return h.status();
    for (Result<CsvRecordStream::Item> item = stream.Next(); item.ok() && *item != CsvRecordStream::Item::kEnd;
         item = stream.Next()) {
      const Record& r = stream.record();
      if (*item == CsvRecordStream::Item::kRecord) parsed.push_back(Row{r.id, r.type, r.data_json, r.source_row});
    }
  }
  if (parsed.size() != static_cast<size_t>(rows)) return Internal("the reference parse lost rows");
  outbox::OutboxOptions o;
  o.path = root + "/outbox-bare.db";
  {
    Result<std::unique_ptr<outbox::Outbox>> ob = outbox::OpenOutbox(o);  // the schema, as the agent makes it
    if (!ob.ok()) return ob.status();
  }
  bench::Timing t = bench::BareInsert<Row>(o.path, rows, rows, [&](int64_t i, Row& r) {
    const Row& from = parsed[static_cast<size_t>(i)];
    r.id = from.id;
    r.type = from.type;
    r.data_json = from.data_json;
    r.source_row = from.source_row;
  });
  Report("reference: bare prepared INSERT, one txn", rows, size, t.wall, t.cpu);
  return t.wall;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 200000;
  std::string dir = std::filesystem::temp_directory_path().string();
  bool sqlite = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--rows") && i + 1 < argc)
      rows = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else if (!std::strcmp(argv[i], "--no-sqlite"))
      sqlite = false;
    else {
      std::fprintf(stderr, "usage: %s [--rows N] [--dir DIR] [--no-sqlite]\n", argv[0]);
      return 2;
    }
  }
  std::string root = dir + "/ingest_bench." + std::to_string(::getpid());
  std::filesystem::create_directories(root + "/incoming");
  std::string path = root + "/incoming/patients_bench.csv";
  uint64_t size = opescare::bench::WritePatientsExport(path, rows);
  std::printf("ingest_bench: %lld rows, %.1f MB (%.0f bytes/row)\n", static_cast<long long>(rows), size / 1e6,
              static_cast<double>(size) / static_cast<double>(rows));

  ProcessorOptions options;
  options.processed_folder = root + "/processed";
  options.failed_folder = root + "/failed";
  options.types = RecordTypeTable(config::DefaultRecordTypes());
  SystemClock clock;
  int status = 0;

  {  // (1) parser + mapper + record ids, from the file, no hashing, no sink.
    Result<std::unique_ptr<InputFile>> file = InputFile::Open(path);
    if (!file.ok()) return std::fprintf(stderr, "%s\n", file.status().ToString().c_str()), 1;
    InputFileSource source(file->get(), size);
    CsvRecordStream stream(&source, BenchParams(options));
    double cpu = CpuSeconds();
    auto start = Steady::now();
    if (!stream.Open().ok()) return 1;
    uint64_t json_bytes = 0;  // consumed below, so the mapping cannot be optimised away
    for (;;) {
      Result<CsvRecordStream::Item> item = stream.Next();
      if (!item.ok() || *item == CsvRecordStream::Item::kEnd) break;
      if (*item == CsvRecordStream::Item::kRecord) json_bytes += stream.record().data_json.size();
    }
    if (json_bytes == 0) status = 1;
    Report("parse + map (CsvRecordStream)", static_cast<int64_t>(stream.rows_ok()), size, Seconds(start),
           CpuSeconds() - cpu);
    if (stream.rows_ok() != static_cast<uint64_t>(rows)) status = 1;
  }

  {  // (2) the whole pipeline (hash, parse, map, report, move) into a null sink.
    NullSink sink;
    FileProcessor processor(options, &sink, &clock);
    if (!processor.PrepareFolders().ok()) return 1;
    double cpu = CpuSeconds();
    auto start = Steady::now();
    FileOutcome out = processor.Process(path);
    Report("file pipeline, null sink", static_cast<int64_t>(out.rows_ok), size, Seconds(start), CpuSeconds() - cpu);
    if (out.kind != FileOutcome::Kind::kQueued || out.rows_ok != static_cast<uint64_t>(rows)) {
      std::fprintf(stderr, "unexpected: %s\n", out.Summary().c_str());
      status = 1;
    }
    std::filesystem::rename(out.moved_to, path);  // back for the next run
  }

  if (sqlite) {
    Result<double> sliced = IntoOutbox(root, "sliced", options, &clock, path, SliceBudget{}, rows);
    Result<double> whole = IntoOutbox(root, "whole", options, &clock, path, SliceBudget::Unlimited(), rows);
    Result<double> bare = BareReference(root, options, path, size, rows);
    if (!sliced.ok() || !whole.ok() || !bare.ok()) {
      for (const Status& s : {sliced.status(), whole.status(), bare.status()})
        if (!s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
      status = 1;
    } else {
      std::printf("agent's slices / bare INSERT %13.0f %%\n", 100.0 * *bare / *sliced);
      std::printf("one transaction / bare INSERT %12.0f %%\n", 100.0 * *bare / *whole);
    }
  }
  std::printf("max RSS %ld MiB\n", MaxRssMiB());
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return status;
}
