// CSV ingest benchmark: a generated patients file (~150 bytes a row) through (1) the parser and mapper
// alone, (2) the whole file pipeline into a null sink, and (3) the whole pipeline into the SQLite outbox
// (drop to committed, synchronous=FULL). Prints its figures; not a timed test. Compare (3) with the bare
// prepared-statement insert figure printed by outbox_bench.
//
// Usage: ingest_bench [--rows N] [--dir DIR] [--no-sqlite]   (defaults: 1,000,000 rows, $TMPDIR)
#include <sys/resource.h>
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
#include "agent/connectors/csv_folder/file_processor.h"
#include "agent/connectors/csv_folder/outbox_sink.h"
#include "agent/connectors/csv_folder/record_stream.h"
#include "agent/outbox/outbox.h"
#include "agent/util/hash.h"
#include "bench/bench_data.h"

namespace {

using namespace opescare;
using namespace opescare::csv_folder;
using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point since) { return std::chrono::duration<double>(Steady::now() - since).count(); }

double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

long MaxRssMiB() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}


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

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1000000;
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
    StreamParams params;
    params.file_name = "patients_bench.csv";
    params.file_sha256 = Sha256Hex("bench");
    params.rule = *options.types.Match(params.file_name);
    params.encoding = Encoding::kUtf8;
    CsvRecordStream stream(&source, params);
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

  if (sqlite) {  // (3) drop to committed in the SQLite outbox.
    outbox::OutboxOptions o;
    o.path = root + "/outbox.db";
    Result<std::unique_ptr<outbox::Outbox>> ob = outbox::OpenOutbox(o);
    if (!ob.ok()) return std::fprintf(stderr, "%s\n", ob.status().ToString().c_str()), 1;
    OutboxRecordSink sink(ob->get(), 0);
    FileProcessor processor(options, &sink, &clock);
    double cpu = CpuSeconds();
    auto start = Steady::now();
    FileOutcome out = processor.Process(path);
    Report("file pipeline, SQLite outbox (end to end)", static_cast<int64_t>(out.rows_ok), size, Seconds(start),
           CpuSeconds() - cpu);
    if (out.kind != FileOutcome::Kind::kQueued || out.rows_ok != static_cast<uint64_t>(rows)) {
      std::fprintf(stderr, "unexpected: %s\n", out.Summary().c_str());
      status = 1;
    }
  }
  std::printf("max RSS %ld MiB\n", MaxRssMiB());
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return status;
}
