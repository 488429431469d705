// Outbox benchmark: enqueue rate through the Outbox API against a bare prepared-statement insert loop into the
// same schema, and drain rate (form + ack of 500-record batches). Prints its figures; not a timed test.
//
// Usage: outbox_bench [--rows N] [--file-rows N] [--drain N] [--dir DIR]
//   defaults: 1,000,000 rows as one file (one transaction), drain of 200,000, in $TMPDIR
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "agent/outbox/outbox.h"
#include "bench/bench_timing.h"

namespace {

using opescare::outbox::BatchLimits;
using opescare::outbox::FileInfo;
using opescare::outbox::OpenOutbox;
using opescare::outbox::Outbox;
using opescare::outbox::OutboxOptions;
using opescare::outbox::Record;
using opescare::bench::Stopwatch;
using opescare::bench::Timing;

uint64_t Mix(uint64_t x) {  // splitmix64: ids as scattered as the SHA-256-derived real ones
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Fills r with row i of a patients file: ~150 bytes of data, a 34-character id. Reuses r's buffers.
void MakeRow(int64_t i, const std::string& file, Record& r) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "r_%016llx%016llx", static_cast<unsigned long long>(Mix(static_cast<uint64_t>(i))),
                static_cast<unsigned long long>(Mix(static_cast<uint64_t>(i) ^ 0x5555)));
  r.id.assign(buf);
  r.type.assign("patient");
  int n = std::snprintf(buf, sizeof buf,
                        R"({"first_name":"Marie","last_name":"Fouda-%06lld","dob":"1990-07-22","sex":"female",)"
                        R"("phone":"+237600%06lld","city":"Douala","district":"Akwa"})",
                        static_cast<long long>(i % 1000000), static_cast<long long>(i % 1000000));
  r.data_json.assign(buf, static_cast<size_t>(n));
  r.source_file = file;
  r.source_row = i + 2;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "outbox_bench: %s\n", what.c_str());
  std::exit(1);
}

std::unique_ptr<Outbox> MustOpen(const std::string& path) {
  OutboxOptions o;
  o.path = path;
  auto ob = OpenOutbox(o);
  if (!ob.ok()) Die(ob.status().ToString());
  return std::move(*ob);
}

// Enqueues rows through the API in files of rows_per_file rows, each one streaming transaction.
Timing EnqueueViaApi(const std::string& path, int64_t rows, int64_t rows_per_file) {
  auto ob = MustOpen(path);
  Record r;
  Stopwatch watch;
  for (int64_t done = 0, file = 0; done < rows; ++file) {
    std::string name = "patients_" + std::to_string(file) + ".csv";
    auto txn = ob->BeginEnqueue();
    if (!txn.ok()) Die(txn.status().ToString());
    int64_t n = std::min<int64_t>(rows_per_file, rows - done);
    for (int64_t i = 0; i < n; ++i) {
      MakeRow(done + i, name, r);
      if (auto st = (*txn)->Add(r); !st.ok()) Die(st.ToString());
    }
    auto counts = (*txn)->Commit(FileInfo{"sha-" + name, name, n, 0});
    if (!counts.ok()) Die(counts.status().ToString());
    if (counts->inserted != n) Die("inserted " + std::to_string(counts->inserted) + " of " + std::to_string(n));
    done += n;
  }
  return watch.Elapsed();
}

// The reference: the same rows into the same schema and pragmas with one prepared INSERT, per file transaction.
Timing EnqueueBare(const std::string& path, int64_t rows, int64_t rows_per_file) {
  MustOpen(path).reset();  // creates the schema exactly as the outbox does
  const std::string name = "patients.csv";  // not stored by the bare loop (a file id is)
  return opescare::bench::BareInsert<Record>(path, rows, rows_per_file,
                                             [&](int64_t i, Record& r) { MakeRow(i, name, r); });
}

struct DrainFigures {
  Timing time;
  int64_t records = 0;
  int64_t batches = 0;
};

DrainFigures Drain(const std::string& path, int64_t rows) {
  EnqueueViaApi(path, rows, rows);
  auto ob = MustOpen(path);
  DrainFigures f;
  BatchLimits limits{500, 1 << 20};
  Stopwatch watch;
  for (;;) {
    auto next = ob->NextDueBatch(std::chrono::system_clock::now(), limits);
    if (!next.ok()) Die(next.status().ToString());
    if (!next->batch) break;
    auto acked = ob->AckAll(next->batch->batch_id);
    if (!acked.ok()) Die(acked.status().ToString());
    f.records += acked->accepted;
    ++f.batches;
  }
  f.time = watch.Elapsed();
  if (f.records != rows) Die("drained " + std::to_string(f.records) + " of " + std::to_string(rows));
  return f;
}

// The pipelined drain's call: each batch acknowledged in the transaction that forms the next.
DrainFigures DrainCombined(const std::string& path, int64_t rows) {
  EnqueueViaApi(path, rows, rows);
  auto ob = MustOpen(path);
  DrainFigures f;
  BatchLimits limits{500, 1 << 20};
  Stopwatch watch;
  auto next = ob->NextDueBatch(std::chrono::system_clock::now(), limits);
  if (!next.ok()) Die(next.status().ToString());
  std::optional<opescare::outbox::Batch> batch = std::move(next->batch);
  while (batch) {
    opescare::outbox::BatchAck ack;
    ack.batch_id = batch->batch_id;
    auto out = ob->AckAndNextDueBatch(ack, std::chrono::system_clock::now(), limits);
    if (!out.ok()) Die(out.status().ToString());
    f.records += out->counts.accepted;
    ++f.batches;
    batch = std::move(out->next.batch);
  }
  f.time = watch.Elapsed();
  if (f.records != rows) Die("drained " + std::to_string(f.records) + " of " + std::to_string(rows));
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1'000'000, drain_rows = 200'000, rows_per_file = 0;
  std::string dir = std::filesystem::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rows"))
      rows = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--file-rows"))
      rows_per_file = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--drain"))
      drain_rows = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
    else
      Die(std::string("unknown option ") + argv[i]);
  }
  if (rows_per_file <= 0) rows_per_file = rows;
  std::string work = dir + "/outbox_bench." + std::to_string(::getpid());
  std::filesystem::create_directories(work);

  Record sample;
  MakeRow(0, "patients_0.csv", sample);
  std::printf(
      "outbox_bench: %lld rows of %zu bytes of data, files of %lld rows (one transaction each), "
      "SQLite %s, in %s\n",
      static_cast<long long>(rows), sample.data_json.size(), static_cast<long long>(rows_per_file),
      sqlite3_libversion(), work.c_str());

  Timing bare = EnqueueBare(work + "/bare.db", rows, rows_per_file);
  Timing api = EnqueueViaApi(work + "/api.db", rows, rows_per_file);
  auto rate = [](double n, double s) { return s > 0 ? n / s : 0.0; };
  std::printf("enqueue  bare prepared INSERT loop : %9.0f rows/s  (%.2f s; %.0f rows per CPU-second)\n",
              rate(rows, bare.wall), bare.wall, rate(rows, bare.cpu));
  std::printf("enqueue  Outbox API (streaming)    : %9.0f rows/s  (%.2f s; %.0f rows per CPU-second)\n",
              rate(rows, api.wall), api.wall, rate(rows, api.cpu));
  std::printf("         API / bare                : %9.0f %% by wall time, %.0f %% by CPU time\n",
              100.0 * bare.wall / api.wall, 100.0 * bare.cpu / api.cpu);

  DrainFigures d = Drain(work + "/drain.db", drain_rows);
  std::printf(
      "drain    NextDueBatch+AckAll x500  : %9.0f records/s  (%lld batches in %.2f s, %.2f ms/batch; "
      "%.0f records per CPU-second)\n",
      rate(d.records, d.time.wall), static_cast<long long>(d.batches), d.time.wall,
      1000.0 * d.time.wall / static_cast<double>(d.batches), rate(d.records, d.time.cpu));

  {
    DrainFigures c = DrainCombined(work + "/drain2.db", drain_rows);
    std::printf(
        "drain    AckAndNextDueBatch x500   : %9.0f records/s  (%lld batches in %.2f s, %.2f ms/batch; "
        "%.0f records per CPU-second)\n",
        rate(c.records, c.time.wall), static_cast<long long>(c.batches), c.time.wall,
        1000.0 * c.time.wall / static_cast<double>(c.batches), rate(c.records, c.time.cpu));
    std::printf("         combined / separate calls : %9.0f %% by wall time\n", 100.0 * d.time.wall / c.time.wall);
  }

  std::filesystem::remove_all(work);
  return 0;
}
