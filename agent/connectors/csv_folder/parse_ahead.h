// ParseAhead: a CsvRecordStream run on a thread of its own, a bounded queue of parsed rows ahead of the
// disk thread that queues them (issue 11 part 4). Reading, decoding, mapping and record ids overlap the
// outbox's inserts and commits. The thread lives only while one file is parsed: it starts with the file's
// first slice and ends at the file's end, at an error, or when the job is destroyed (ARCHITECTURE.md
// "Threads": no thread that has nothing to do).
//
// The consumer sees exactly what CsvRecordStream::Next would give it, in the same order, with the counts
// as of the row it was given: slices, resume points and progress are decided on the consumer's side,
// never by how far the parser got.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/connectors/csv_folder/record_stream.h"

namespace opescare::csv_folder {

struct ParseAheadLimits {
  size_t rows_per_chunk = 256;  // rows handed over at once (one lock per chunk, not per row)
  size_t max_chunks = 16;       // chunks parsed but not yet consumed: the queue's bound in rows
  // The bound in bytes, for rows of up to CsvLimits::max_row_bytes (4 MiB): a chunk ends once it holds
  // bytes_per_chunk of record data, and the parser waits while parsed chunks hold max_bytes_ahead.
  size_t bytes_per_chunk = 256 * 1024;
  size_t max_bytes_ahead = 4 << 20;
  bool own_thread = true;       // false: parse on the caller's thread, in Next() (also when no thread can be had)
};

// Created, read and destroyed on one thread (the connector's disk worker). Takes an opened stream (Open()
// found no problem); the stream's ByteSource must outlive this object and is read only by its thread.
class ParseAhead {
 public:
  explicit ParseAhead(std::unique_ptr<CsvRecordStream> stream, ParseAheadLimits limits = {});
  ~ParseAhead();  // stops the parser at its next row and joins it; unconsumed rows are dropped
  ParseAhead(const ParseAhead&) = delete;
  ParseAhead& operator=(const ParseAhead&) = delete;

  // As CsvRecordStream::Next. After kEnd or an error, the thread has ended and every later call repeats it.
  Result<CsvRecordStream::Item> Next();
  const Record& record() const { return inline_ ? stream_->record() : current().record; }  // until the next call
  const std::vector<RowError>& row_errors() const { return inline_ ? stream_->row_errors() : current().errors; }
  // False when the rows are parsed on the caller's thread (own_thread false, or the thread could not start).
  bool parsing_ahead() const { return !inline_; }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t rows_ok() const { return rows_ok_; }
  uint64_t rows_failed() const { return rows_failed_; }

 private:
  struct Entry {
    CsvRecordStream::Item item = CsvRecordStream::Item::kEnd;
    Record record;                 // kRecord
    std::vector<RowError> errors;  // kRowErrors
    uint64_t bytes_read = 0;       // the stream's bytes_read() after this row
  };
  struct Chunk {
    std::vector<Entry> entries;  // capacity kept when recycled: no allocation per row once warmed up
    size_t used = 0;
    size_t bytes = 0;        // record data held by the used entries
    bool last = false;       // the stream ended (or failed) after these entries
    Status error;            // on the last chunk: why the stream failed (OK: it ended)
    uint64_t end_bytes = 0;  // on the last chunk: the stream's bytes_read() at its end
  };

  void Run();                              // the parser thread
  bool FillChunk(Chunk* chunk);            // parser thread; false when the stream ended or failed
  std::unique_ptr<Chunk> TakeFreeChunk();  // parser thread; null when stopped
  const Entry& current() const { return reading_->entries[pos_ - 1]; }
  Result<CsvRecordStream::Item> End();     // consumer: the last chunk is consumed

  std::unique_ptr<CsvRecordStream> stream_;  // the parser thread's alone once it has started
  const ParseAheadLimits limits_;
  bool inline_ = false;  // no parser thread: Next() reads the stream itself

  std::mutex mu_;
  std::condition_variable parsed_cv_;  // a chunk was parsed (or the parser ended)
  std::condition_variable free_cv_;    // a chunk was given back (or stop was asked)
  std::deque<std::unique_ptr<Chunk>> parsed_;
  std::vector<std::unique_ptr<Chunk>> free_;
  size_t chunks_ = 0;  // chunks in existence (parsed + free + the two in use), at most max_chunks + 1
  size_t bytes_ahead_ = 0;  // bytes of the chunks in parsed_
  bool stop_ = false;

  // The consumer's side.
  std::unique_ptr<Chunk> reading_;
  size_t pos_ = 0;
  bool ended_ = false;
  Status end_status_;
  uint64_t bytes_read_ = 0, rows_ok_ = 0, rows_failed_ = 0;

  std::thread thread_;  // last: started once everything above exists
};

}  // namespace opescare::csv_folder
