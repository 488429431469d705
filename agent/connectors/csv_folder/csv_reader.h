// CsvReader: a streaming RFC 4180 tokenizer with the real-world extensions of CSV.md (sniffed delimiter,
// CRLF/LF/lone-CR line ends, UTF-8 BOM, blank lines) and limits that turn an oversized row into a row
// problem instead of unbounded memory. Works on bytes: every supported encoding is ASCII-compatible, so
// decoding happens per field afterwards (see text_encoding.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/connectors/csv_folder/byte_source.h"
#include "agent/util/status.h"

namespace opescare::csv_folder {

struct CsvLimits {
  size_t max_field_bytes = 1 << 20;  // a longer field makes its row an error
  size_t max_row_bytes = 4 << 20;    // a longer row is an error
  size_t max_columns = 1000;         // a row with more fields is an error
};

struct CsvReaderOptions {
  char delimiter = 0;  // 0: sniff ',' ';' or '\t' from the first line
  CsvLimits limits;
  size_t chunk_bytes = 256 * 1024;  // read size; memory use is about this plus max_row_bytes
};

enum class CsvRowProblem {
  kNone,
  kFieldTooLong,  // problem_column says which field
  kRowTooLong,
  kTooManyColumns,
  kUnterminatedQuote,  // a quoted field ran to the end of the file
};

// "field longer than the limit of 1 MiB"... (the limits in force are quoted).
std::string DescribeRowProblem(CsvRowProblem problem, const CsvLimits& limits);

// One row's fields. The reader reuses one CsvRow (no per-row allocation once warmed up).
struct CsvRow {
  // Row number = the physical line on which the row starts, 1-based, counting every line break (CRLF, LF
  // or a lone CR, including those inside quoted fields and blank lines). The header is row 1 unless blank
  // lines precede it. A text editor's line number finds the row.
  int64_t line = 0;
  CsvRowProblem problem = CsvRowProblem::kNone;
  size_t problem_column = 0;    // 0-based field index for kFieldTooLong
  bool needs_decoding = false;  // some byte is >= 0x80 or NUL: fields must go through text_encoding
  size_t column_count = 0;      // fields seen, even when the row is a problem and the fields were dropped

  size_t size() const { return ends_.size(); }  // fields kept (0 for problem rows)
  // All fields' bytes back to back (field(i) are slices of it).
  std::string_view bytes() const { return bytes_; }
  std::string_view field(size_t i) const {
    size_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(bytes_).substr(begin, ends_[i] - begin);
  }

 private:
  friend class CsvReader;
  std::string bytes_;           // all fields' unescaped bytes, back to back
  std::vector<uint32_t> ends_;  // end offset of each field in bytes_
};

// Not thread-safe. Borrows the source, which must outlive the reader.
class CsvReader {
 public:
  CsvReader(ByteSource* source, CsvReaderOptions options);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the next row, skipping blank lines (the first row is the header). Returns false at the end of
  // the input. Errors are the source's I/O errors only; malformed rows come back with row->problem set.
  Result<bool> Next(CsvRow* row);

  // The delimiter in use (known after the first Next()).
  char delimiter() const { return delimiter_; }
  // True when the input began with a UTF-8 byte-order mark (skipped).
  bool had_bom() const { return had_bom_; }
  // True when the input began with a UTF-16 byte-order mark (the caller should refuse the file).
  bool utf16_bom() const { return utf16_bom_; }
  // Bytes taken from the source so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  Result<bool> Fill();  // reads more into buf_; false at end of input
  Status Start();       // BOM and delimiter sniffing on the first chunk
  void BuildTable();

  ByteSource* source_;
  CsvReaderOptions options_;
  std::unique_ptr<char[]> buf_;
  size_t buffer_bytes_ = 0;  // chunk_bytes, but at least the delimiter sniffing window
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  bool started_ = false;
  bool skip_lf_ = false;  // the previous row ended on CR: a following LF belongs to it
  bool had_bom_ = false, utf16_bom_ = false;
  char delimiter_ = ',';
  int64_t line_ = 1;
  uint64_t bytes_read_ = 0;
  uint8_t special_[256] = {};         // bytes that end an unquoted run
  uint8_t quoted_special_[256] = {};  // bytes that end a run inside quotes
};

// Picks ',' ';' or '\t' from the header line (up to the first line break): the most frequent outside
// quotes, ',' on a tie or when none.
char SniffDelimiter(std::string_view first_line);

}  // namespace opescare::csv_folder
