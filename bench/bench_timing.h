// The C++ benchmarks' clocks and their common reference, shared so that every benchmark measures the same
// way: wall and CPU time of this process, peak RSS, and the bare prepared INSERT that enqueue and ingest
// figures are compared with.
#pragma once

#include <sqlite3.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace opescare::bench {

// CPU seconds of this process (every thread): on a machine shared with other work, wall time says little
// on its own.
inline double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

inline long MaxRssMiB() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

struct Timing {
  double wall = 0;  // seconds
  double cpu = 0;   // seconds of CPU (user + system) of this process
};

class Stopwatch {
 public:
  Timing Elapsed() const {
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count(), CpuSeconds() - cpu_};
  }

 private:
  std::chrono::steady_clock::time_point wall_ = std::chrono::steady_clock::now();
  double cpu_ = CpuSeconds();
};

[[noreturn]] inline void BareDie(sqlite3* db, const char* what) {
  std::fprintf(stderr, "bare INSERT: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
  std::exit(1);
}

// The reference: rows into an outbox file whose schema the Outbox created (same schema, same pragmas) with
// one prepared INSERT, one transaction per file of rows_per_file rows, synchronous=FULL. make_row(i, r)
// fills row i (id, type, data_json, source_row) into r, reusing its buffers; the time it takes is counted,
// as a parser's would be, so make it cheap.
template <typename Row, typename MakeRow>
Timing BareInsert(const std::string& path, int64_t rows, int64_t rows_per_file, MakeRow make_row) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) BareDie(db, path.c_str());
  auto exec = [db](const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) BareDie(db, sql);
  };
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA cache_size=-16384");
  exec("PRAGMA temp_store=MEMORY");
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO records(id, type, data, file_id, source_row, created_at, size) "
                         "VALUES(?, ?, ?, ?, ?, ?, ?)",
                         -1, &insert, nullptr) != SQLITE_OK)
    BareDie(db, "prepare");
  Row r;
  Stopwatch watch;
  for (int64_t done = 0, file = 0; done < rows; ++file) {
    exec("BEGIN IMMEDIATE");
    int64_t n = rows_per_file < rows - done ? rows_per_file : rows - done;
    for (int64_t i = 0; i < n; ++i) {
      make_row(done + i, r);
      sqlite3_bind_text(insert, 1, r.id.data(), static_cast<int>(r.id.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert, 2, r.type.data(), static_cast<int>(r.type.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert, 3, r.data_json.data(), static_cast<int>(r.data_json.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert, 4, file + 1);  // the file's id (schema v3 stores each name once)
      sqlite3_bind_int64(insert, 5, r.source_row);
      sqlite3_bind_int64(insert, 6, 0);
      sqlite3_bind_int64(insert, 7, static_cast<int64_t>(r.data_json.size()));
      if (sqlite3_step(insert) != SQLITE_DONE) BareDie(db, "insert");
      sqlite3_reset(insert);
    }
    exec("COMMIT");
    done += n;
  }
  Timing t = watch.Elapsed();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return t;
}

}  // namespace opescare::bench
