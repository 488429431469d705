// The parser thread and its bounded queue (parse_ahead.h). Two lists of chunks under one mutex: parsed_
// (the parser's output, in order) and free_ (chunks the consumer gave back, reused with their capacity).
#include "agent/connectors/csv_folder/parse_ahead.h"

#include <system_error>

namespace opescare::csv_folder {

using Item = CsvRecordStream::Item;

ParseAhead::ParseAhead(std::unique_ptr<CsvRecordStream> stream, ParseAheadLimits limits)
    : stream_(std::move(stream)), limits_(limits), inline_(!limits.own_thread) {
  if (inline_) return;
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error&) {  // no thread to be had (a process limit): the same rows, parsed inline
    inline_ = true;
  }
}

ParseAhead::~ParseAhead() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  free_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<ParseAhead::Chunk> ParseAhead::TakeFreeChunk() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (stop_) return nullptr;
    if (bytes_ahead_ >= limits_.max_bytes_ahead) {  // parsed rows hold enough memory: wait for the consumer
      free_cv_.wait(lock);
      continue;
    }
    if (!free_.empty()) {
      std::unique_ptr<Chunk> chunk = std::move(free_.back());
      free_.pop_back();
      return chunk;
    }
    // Bound: max_chunks parsed ahead, plus the one the consumer reads.
    if (chunks_ < limits_.max_chunks + 1) {
      ++chunks_;
      lock.unlock();
      auto chunk = std::make_unique<Chunk>();
      chunk->entries.resize(limits_.rows_per_chunk > 0 ? limits_.rows_per_chunk : 1);
      return chunk;
    }
    free_cv_.wait(lock);
  }
}

namespace {

// Keeps a string's buffer for reuse unless a large row left it large: the queue's memory stays bounded.
void Keep(std::string& s) {
  constexpr size_t kKeepCapacity = 64 * 1024;
  if (s.capacity() > kKeepCapacity && s.size() <= kKeepCapacity) std::string(s).swap(s);
}

}  // namespace

bool ParseAhead::FillChunk(Chunk* chunk) {
  chunk->used = 0;
  chunk->bytes = 0;
  while (chunk->used < chunk->entries.size() && chunk->bytes < limits_.bytes_per_chunk) {
    Result<Item> item = stream_->Next();
    if (!item.ok() || *item == Item::kEnd) {
      chunk->last = true;
      chunk->error = item.ok() ? Status() : item.status();
      chunk->end_bytes = stream_->bytes_read();
      return false;
    }
    Entry& e = chunk->entries[chunk->used++];
    e.item = *item;
    if (*item == Item::kRecord) {
      e.record = stream_->record();  // copies into the entry's kept capacity
      Keep(e.record.data_json);
      chunk->bytes += e.record.data_json.size() + e.record.id.size();
    } else {
      e.errors = stream_->row_errors();
    }
    e.bytes_read = stream_->bytes_read();
  }
  return true;
}

void ParseAhead::Run() {
  for (;;) {
    std::unique_ptr<Chunk> chunk = TakeFreeChunk();
    if (!chunk) return;  // stopped
    bool more = FillChunk(chunk.get());
    {
      std::lock_guard<std::mutex> lock(mu_);
      bytes_ahead_ += chunk->bytes;
      parsed_.push_back(std::move(chunk));
    }
    parsed_cv_.notify_one();
    if (!more) return;
  }
}

Result<Item> ParseAhead::End() {
  if (!ended_) {
    ended_ = true;
    end_status_ = reading_->error;
    bytes_read_ = reading_->end_bytes;
    if (thread_.joinable()) thread_.join();  // it returned after handing over its last chunk
  }
  if (!end_status_.ok()) return end_status_;
  return Item::kEnd;
}

Result<Item> ParseAhead::Next() {
  if (inline_) {
    Result<Item> item = stream_->Next();
    if (item.ok() && *item != Item::kEnd) ++(*item == Item::kRecord ? rows_ok_ : rows_failed_);
    bytes_read_ = stream_->bytes_read();
    return item;
  }
  for (;;) {
    if (reading_ && pos_ < reading_->used) {
      const Entry& e = reading_->entries[pos_++];
      bytes_read_ = e.bytes_read;
      ++(e.item == Item::kRecord ? rows_ok_ : rows_failed_);
      return e.item;
    }
    if (reading_ && reading_->last) return End();
    std::unique_lock<std::mutex> lock(mu_);
    if (reading_) {
      free_.push_back(std::move(reading_));
      free_cv_.notify_one();
    }
    parsed_cv_.wait(lock, [this] { return !parsed_.empty(); });
    reading_ = std::move(parsed_.front());
    parsed_.pop_front();
    bytes_ahead_ -= reading_->bytes;
    free_cv_.notify_one();  // the parser may wait on the bytes ahead
    pos_ = 0;
  }
}

}  // namespace opescare::csv_folder
