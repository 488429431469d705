// ParseAhead gives exactly what CsvRecordStream gives, in order and with the same counts, whatever its
// chunk sizes; passes a read error on after the rows before it; stays within its bound; and stops at once.
#include "agent/connectors/csv_folder/parse_ahead.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "agent/util/hash.h"

namespace opescare::csv_folder {
namespace {

using Item = CsvRecordStream::Item;

StreamParams Params(const std::string& csv) {
  StreamParams params;
  params.file_name = "patients_1.csv";
  params.file_sha256 = Sha256Hex(csv);
  params.rule = TypeRule{"patients_", "patient", {"last_name"}};
  params.encoding = Encoding::kUtf8;
  return params;
}

// One line per item: what it was, the counts and bytes as of it, its record or its errors.
template <typename Stream>
std::vector<std::string> Trace(Stream& s) {
  std::vector<std::string> out;
  for (;;) {
    Result<Item> item = s.Next();
    if (!item.ok()) {
      out.push_back("error " + item.status().ToString());
      return out;
    }
    std::string line = std::to_string(s.rows_ok()) + "/" + std::to_string(s.rows_failed()) + " @" +
                       std::to_string(s.bytes_read()) + " ";
    if (*item == Item::kEnd) {
      out.push_back(line + "end");
      return out;
    }
    if (*item == Item::kRecord) {
      line += s.record().id + " " + s.record().type + " " + s.record().source_file + ":" +
              std::to_string(s.record().source_row) + " " + s.record().data_json;
    } else {
      for (const RowError& e : s.row_errors()) line += std::to_string(e.row) + "," + e.column + "," + e.reason + ";";
    }
    out.push_back(line);
  }
}

// Rows, some invalid (no last_name, bad UTF-8), some blank (skipped).
std::string MixedCsv(int rows) {
  std::string csv = "first_name,last_name\n";
  for (int i = 0; i < rows; ++i) {
    if (i % 7 == 3) csv += "Ann" + std::to_string(i) + ",\n";
    else if (i % 11 == 5) csv += "Bad\xC3,Doe\n";
    else if (i % 13 == 8) csv += ",\n";
    else csv += "Ann" + std::to_string(i) + ",Doe" + std::to_string(i) + "\n";
  }
  return csv;
}

std::vector<std::string> Direct(const std::string& csv) {
  StringByteSource source(csv, 97);
  CsvRecordStream stream(&source, Params(csv));
  Result<std::vector<RowError>> header = stream.Open();
  EXPECT_TRUE(header.ok() && header->empty());
  return Trace(stream);
}

std::vector<std::string> Ahead(const std::string& csv, ParseAheadLimits limits) {
  StringByteSource source(csv, 97);
  auto stream = std::make_unique<CsvRecordStream>(&source, Params(csv));
  Result<std::vector<RowError>> header = stream->Open();
  EXPECT_TRUE(header.ok() && header->empty());
  ParseAhead ahead(std::move(stream), limits);
  EXPECT_EQ(ahead.parsing_ahead(), limits.own_thread);
  std::vector<std::string> trace = Trace(ahead);
  // After the end every call repeats it.
  Result<Item> again = ahead.Next();
  EXPECT_TRUE(again.ok() && *again == Item::kEnd);
  return trace;
}

TEST(ParseAhead, GivesWhatTheStreamGivesWhateverTheChunks) {
  const std::string csv = MixedCsv(2000);
  std::vector<std::string> want = Direct(csv);
  ASSERT_GT(want.size(), 1500u);
  ASSERT_EQ(want.back().substr(want.back().size() - 3), "end");
  for (ParseAheadLimits limits : {ParseAheadLimits{1, 1}, ParseAheadLimits{3, 2}, ParseAheadLimits{}}) {
    EXPECT_EQ(Ahead(csv, limits), want) << limits.rows_per_chunk << " rows x " << limits.max_chunks;
  }
}

// Without a thread of its own (as when none can be started) it reads the stream in Next(): the same items.
TEST(ParseAhead, ParsedInlineGivesTheSameItems) {
  const std::string csv = MixedCsv(500);
  ParseAheadLimits no_thread;
  no_thread.own_thread = false;
  EXPECT_EQ(Ahead(csv, no_thread), Direct(csv));
}

TEST(ParseAhead, AnEmptyBodyEndsAtOnce) {
  const std::string csv = "first_name,last_name\n";
  EXPECT_EQ(Ahead(csv, {}), Direct(csv));
  EXPECT_EQ(Ahead(csv, {}), std::vector<std::string>{"0/0 @21 end"});
}

// Serves a CSV made on the fly, rows_total rows; fails with an I/O error after fail_after bytes when set.
class GeneratedSource final : public ByteSource {
 public:
  explicit GeneratedSource(int64_t rows_total, uint64_t fail_after = UINT64_MAX, size_t pad = 0)
      : rows_total_(rows_total), fail_after_(fail_after), pad_(pad, 'x') {
    pending_ = "first_name,last_name\n";
  }
  Result<size_t> Read(char* buf, size_t n) override {
    if (served_ >= fail_after_) return IoError("injected read failure at byte " + std::to_string(served_));
    while (pending_.size() < n && row_ < rows_total_) {
      pending_ += "Ann" + pad_ + std::to_string(row_) + ",Doe" + std::to_string(row_) + "\n";
      ++row_;
    }
    size_t take = std::min({n, pending_.size(), static_cast<size_t>(fail_after_ - served_)});
    pending_.copy(buf, take);
    pending_.erase(0, take);
    served_ += take;
    return take;
  }
  uint64_t served() const { return served_.load(); }

 private:
  int64_t rows_total_;
  uint64_t fail_after_;
  std::string pad_;
  std::string pending_;
  int64_t row_ = 0;
  std::atomic<uint64_t> served_{0};
};

std::unique_ptr<CsvRecordStream> OpenedStream(ByteSource* source) {
  StreamParams params = Params("generated");
  params.reader.chunk_bytes = 4096;
  auto stream = std::make_unique<CsvRecordStream>(source, params);
  Result<std::vector<RowError>> header = stream->Open();
  EXPECT_TRUE(header.ok() && header->empty());
  return stream;
}

TEST(ParseAhead, AReadErrorComesAfterTheRowsBeforeItAndStays) {
  GeneratedSource source(100000, 50000);
  ParseAhead ahead(OpenedStream(&source), {16, 4});
  uint64_t records = 0;
  Result<Item> item = ahead.Next();
  for (; item.ok() && *item == Item::kRecord; item = ahead.Next()) ++records;
  ASSERT_FALSE(item.ok());
  EXPECT_EQ(item.status().code(), Code::kIoError);
  EXPECT_NE(item.status().message().find("injected read failure at byte 50000"), std::string::npos);
  EXPECT_GT(records, 1000u);  // the rows in the 50,000 bytes before the failure came first
  EXPECT_EQ(ahead.rows_ok(), records);
  Result<Item> again = ahead.Next();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kIoError);
}

// With nothing consumed, the parser stops once its chunks are full: it has read what Open's sniff read and
// max_chunks + 1 chunks of rows, never the whole file. (Waits until the reads stop: a parser that is
// not bounded reads all 500,000 rows, about 9 MB, and fails the check.)
TEST(ParseAhead, ReadsNoFurtherThanItsBoundAheadOfTheConsumer) {
  GeneratedSource source(500000);
  {
    ParseAhead ahead(OpenedStream(&source), {8, 2});
    uint64_t last = UINT64_MAX;
    for (int i = 0, still = 0; i < 400 && still < 4; ++i) {
      still = source.served() == last ? still + 1 : 0;
      last = source.served();
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    EXPECT_LT(source.served(), 128u * 1024u);  // Open's 64 KB sniff, then at most one 4 KB read more
    Result<Item> item = ahead.Next();  // and it goes on as the consumer takes rows
    ASSERT_TRUE(item.ok());
    EXPECT_EQ(*item, Item::kRecord);
    EXPECT_EQ(ahead.record().source_row, 2);
  }  // destroyed with its parser blocked on a full queue: joins at once
  EXPECT_LT(source.served(), 9000000u);
}

// Large rows: the bound in bytes holds where the bound in rows would let 2,000 rows of 100 KB (200 MB) pile
// up. The parser stops at max_bytes_ahead (1 MiB) plus a chunk and the rows being read.
TEST(ParseAhead, LargeRowsAreBoundedInBytesNotOnlyInRows) {
  GeneratedSource source(2000, UINT64_MAX, 100 * 1000);
  ParseAheadLimits limits;  // 16 chunks of 256 rows: by rows alone, every row of the file
  limits.bytes_per_chunk = 256 * 1024;
  limits.max_bytes_ahead = 1 << 20;
  ParseAhead ahead(OpenedStream(&source), limits);
  uint64_t last = UINT64_MAX;
  for (int i = 0, still = 0; i < 400 && still < 4; ++i) {
    still = source.served() == last ? still + 1 : 0;
    last = source.served();
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_LT(source.served(), 3u << 20);
  uint64_t records = 0;
  for (Result<Item> item = ahead.Next(); item.ok() && *item == Item::kRecord; item = ahead.Next()) ++records;
  EXPECT_EQ(records, 2000u);  // and every row still comes, in order, as the consumer takes them
}

}  // namespace
}  // namespace opescare::csv_folder
