// gzip benchmark (issue 11 part 2): one realistic sync body -- a generated patients export of --rows rows
// through the real CSV pipeline (ids, mapping, data JSON) into the agent's SyncBodyWriter, as the agent
// builds a batch -- compressed by zlib (levels 6 and 1) and libdeflate (levels 1, 4, 6, 9), and by the
// agent's own GzipCompress at its default level. Prints MB/s of input, ms per body, the ratio
// (compressed / input) and the speed against zlib-6, all from one run. Every output is inflated again by
// zlib and compared with the input, so each figure is for ordinary RFC 1952 gzip. Not a timed test.
//
// Usage: gzip_bench [--rows N] [--rounds N] [--dir DIR]   (defaults: 1000 rows, 7 rounds, $TMPDIR)
#include <libdeflate.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "agent/bridge/sync_body.h"
#include "agent/config/config.h"
#include "agent/connectors/csv_folder/file_processor.h"
#include "agent/http/gzip.h"
#include "bench/bench_data.h"

namespace {

using namespace opescare;
using namespace opescare::csv_folder;
using Steady = std::chrono::steady_clock;


// Keeps every record the pipeline produces.
class KeepSink final : public RecordSink {
 public:
  Result<bool> IsFull() override { return false; }
  Result<bool> HasFile(const std::string&) override { return false; }
  Status BeginFile(const FileInfo&) override { return Status::Ok(); }
  Status Add(const Record& r) override {
    records.push_back(r);
    return Status::Ok();
  }
  Status CommitFile(const FileTotals&) override { return Status::Ok(); }
  void AbortFile() override {}
  std::vector<Record> records;
};

std::string BuildBody(const std::vector<Record>& records) {
  bridge::SyncEnvelope envelope{"agt_bench_0001", "5f0c2a9e-1b7d-4c3e-9a10-6d2f8e4b7c21",
                                "0193c7a2-6a1e-7cc4-9d1e-4f3b2a1c0d9e", std::chrono::system_clock::now()};
  bridge::SyncBodyWriter writer(envelope);
  for (const Record& r : records) (void)writer.Add({r.id, r.type, r.source_file, r.source_row, r.data_json});
  return std::move(writer).Finish();
}

std::string Zlib(const std::string& in, int level) {
  z_stream zs{};
  deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(rc == Z_STREAM_END ? zs.total_out : 0);
  deflateEnd(&zs);
  return out;
}

// A compressor allocated per call, as a caller without a cached one would (the agent's GzipCompress is
// measured separately below).
std::string Libdeflate(const std::string& in, int level) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(level);
  std::string out(libdeflate_gzip_compress_bound(c, in.size()), '\0');
  out.resize(libdeflate_gzip_compress(c, in.data(), in.size(), out.data(), out.size()));
  libdeflate_free_compressor(c);
  return out;
}

bool RoundTrips(const std::string& gz, const std::string& original) {
  z_stream zs{};
  inflateInit2(&zs, 15 + 16);
  std::string out(original.size() + 1, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return rc == Z_STREAM_END && out == original;
}

struct Figure {
  std::string name;
  double seconds = 0;  // median per body
  size_t out_bytes = 0;
  bool ok = false;
};

// Median time of `rounds` rounds, each compressing the body repeatedly for at least 0.2 s.
Figure Measure(const std::string& name, const std::string& body, int rounds,
               const std::function<std::string(const std::string&)>& fn) {
  Figure f{name};
  std::string out = fn(body);
  f.out_bytes = out.size();
  f.ok = RoundTrips(out, body);
  std::vector<double> per_body;
  for (int r = 0; r < rounds; ++r) {
    int n = 0;
    auto start = Steady::now();
    double elapsed = 0;
    do {
      out = fn(body);
      ++n;
      elapsed = std::chrono::duration<double>(Steady::now() - start).count();
    } while (elapsed < 0.2);
    per_body.push_back(elapsed / n);
  }
  std::sort(per_body.begin(), per_body.end());
  f.seconds = per_body[per_body.size() / 2];
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1000;
  int rounds = 7;
  std::string dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--rows") && i + 1 < argc)
      rows = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--rows N] [--rounds N] [--dir DIR]\n", argv[0]);
      return 2;
    }
  }
  std::string root = dir + "/gzip_bench." + std::to_string(::getpid());
  std::filesystem::create_directories(root + "/incoming");
  std::string path = root + "/incoming/patients_bench.csv";
  opescare::bench::WritePatientsExport(path, rows);

  ProcessorOptions options;
  options.processed_folder = root + "/processed";
  options.failed_folder = root + "/failed";
  options.types = RecordTypeTable(config::DefaultRecordTypes());
  SystemClock clock;
  KeepSink sink;
  FileProcessor processor(options, &sink, &clock);
  if (!processor.PrepareFolders().ok()) return 1;
  FileOutcome outcome = processor.Process(path);
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  if (outcome.kind != FileOutcome::Kind::kQueued || sink.records.size() != static_cast<size_t>(rows)) {
    std::fprintf(stderr, "the pipeline did not queue %lld rows: %s\n", static_cast<long long>(rows),
                 outcome.Summary().c_str());
    return 1;
  }
  const std::string body = BuildBody(sink.records);
  std::printf("gzip_bench: one sync body of %zu records, %zu bytes (%.0f bytes/record), median of %d rounds\n",
              sink.records.size(), body.size(), static_cast<double>(body.size()) / static_cast<double>(rows), rounds);

  std::vector<Figure> figures;
  for (int level : {6, 1}) {
    figures.push_back(Measure("zlib-" + std::to_string(level), body, rounds,
                              [level](const std::string& in) { return Zlib(in, level); }));
  }
  for (int level : {1, 4, 6, 9}) {
    figures.push_back(Measure("libdeflate-" + std::to_string(level), body, rounds,
                              [level](const std::string& in) { return Libdeflate(in, level); }));
  }
  figures.push_back(Measure("agent GzipCompress (default " + std::to_string(http::kDefaultGzipLevel) + ")", body,
                            rounds, [](const std::string& in) { return http::GzipCompress(in).value(); }));

  const double base = figures.front().seconds;
  std::printf("\n%-36s %9s %9s %10s %8s %9s %s\n", "compressor", "MB/s", "ms/body", "out bytes", "ratio", "vs zlib-6",
              "gunzip");
  int status = 0;
  for (const Figure& f : figures) {
    std::printf("%-36s %9.1f %9.3f %10zu %7.1f%% %8.2fx %s\n", f.name.c_str(),
                static_cast<double>(body.size()) / f.seconds / 1e6, f.seconds * 1e3, f.out_bytes,
                100.0 * static_cast<double>(f.out_bytes) / static_cast<double>(body.size()), base / f.seconds,
                f.ok ? "ok" : "MISMATCH");
    if (!f.ok) status = 1;
  }
  return status;
}
