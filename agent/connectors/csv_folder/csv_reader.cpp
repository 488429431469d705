// Streaming CSV tokenizer: a small state machine over a fixed-size buffer, copying runs of ordinary bytes
// in bulk (the hot loop looks each byte up in a table and does nothing else).
#include "agent/connectors/csv_folder/csv_reader.h"

#include <cstring>

namespace opescare::csv_folder {

namespace {

std::string Size(size_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

std::string DescribeRowProblem(CsvRowProblem problem, const CsvLimits& limits) {
  switch (problem) {
    case CsvRowProblem::kNone:
      return "";
    case CsvRowProblem::kFieldTooLong:
      return "field longer than the limit of " + Size(limits.max_field_bytes);
    case CsvRowProblem::kRowTooLong:
      return "row longer than the limit of " + Size(limits.max_row_bytes);
    case CsvRowProblem::kTooManyColumns:
      return "row has more columns than the limit of " + std::to_string(limits.max_columns);
    case CsvRowProblem::kUnterminatedQuote:
      return "quoted field not closed before the end of the file";
  }
  return "";
}

char SniffDelimiter(std::string_view first_line) {
  size_t comma = 0, semicolon = 0, tab = 0;
  // Quotes as the reader sees them: they open a quoted name only at the start of a field.
  bool quoted = false, field_start = true;
  for (size_t i = 0; i < first_line.size(); ++i) {
    char c = first_line[i];
    if (c == '\r' || c == '\n') break;  // even inside quotes: a header name never spans lines
    if (quoted) {
      if (c == '"') {
        if (i + 1 < first_line.size() && first_line[i + 1] == '"') {
          ++i;
        } else {
          quoted = false;
        }
      }
      continue;
    }
    if (c == '"' && field_start) {
      quoted = true;
      field_start = false;
      continue;
    }
    field_start = c == ',' || c == ';' || c == '\t';
    if (c == ',') ++comma;
    if (c == ';') ++semicolon;
    if (c == '\t') ++tab;
  }
  if (semicolon > comma && semicolon >= tab) return ';';
  if (tab > comma && tab > semicolon) return '\t';
  return ',';
}

namespace {
// The delimiter is sniffed from at most this much of the first line, whatever the read size, so that the
// result depends on the file alone.
constexpr size_t kSniffBytes = 64 * 1024;
}  // namespace

CsvReader::CsvReader(ByteSource* source, CsvReaderOptions options) : source_(source), options_(options) {
  if (options_.chunk_bytes < 16) options_.chunk_bytes = 16;
  buffer_bytes_ = options_.chunk_bytes < kSniffBytes ? kSniffBytes : options_.chunk_bytes;
  buf_.reset(new char[buffer_bytes_]);
}

CsvReader::~CsvReader() = default;

Result<bool> CsvReader::Fill() {
  pos_ = end_ = 0;
  if (eof_) return false;
  Result<size_t> n = source_->Read(buf_.get(), options_.chunk_bytes);
  if (!n.ok()) return n.status();
  if (*n == 0) {
    eof_ = true;
    return false;
  }
  end_ = *n;
  bytes_read_ += *n;
  return true;
}

Status CsvReader::Start() {
  started_ = true;
  // Gather the first line (or a full buffer) so the BOM and the delimiter can be seen.
  while (!eof_ && end_ < kSniffBytes) {
    if (end_ >= 3 && std::memchr(buf_.get(), '\n', end_) != nullptr) break;
    if (end_ >= 3 && std::memchr(buf_.get(), '\r', end_) != nullptr) break;
    Result<size_t> n = source_->Read(buf_.get() + end_, buffer_bytes_ - end_);
    if (!n.ok()) return n.status();
    if (*n == 0) eof_ = true;
    end_ += *n;
    bytes_read_ += *n;
  }
  const auto* b = reinterpret_cast<const uint8_t*>(buf_.get());
  if (end_ >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
    had_bom_ = true;
    pos_ = 3;
  } else if (end_ >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF))) {
    utf16_bom_ = true;
  }
  size_t sniff_end = end_ < kSniffBytes ? end_ : kSniffBytes;
  delimiter_ = options_.delimiter != 0 ? options_.delimiter
                                       : SniffDelimiter(std::string_view(buf_.get() + pos_, sniff_end - pos_));
  BuildTable();
  return Status::Ok();
}

void CsvReader::BuildTable() {
  std::memset(special_, 0, sizeof special_);
  special_[static_cast<uint8_t>(delimiter_)] = 1;
  for (uint8_t c : {uint8_t{'\r'}, uint8_t{'\n'}, uint8_t{0}}) special_[c] = 1;
  // Inside quotes the delimiter is ordinary and the quote is special.
  std::memset(quoted_special_, 0, sizeof quoted_special_);
  for (uint8_t c : {uint8_t{'"'}, uint8_t{'\r'}, uint8_t{'\n'}, uint8_t{0}}) quoted_special_[c] = 1;
}

Result<bool> CsvReader::Next(CsvRow* row) {
  if (!started_) {
    Status s = Start();
    if (!s.ok()) return s;
  }
  const uint8_t* quoted_special = quoted_special_;
  const char delim = delimiter_;
  const CsvLimits& limits = options_.limits;

  for (;;) {
    row->bytes_.clear();
    row->ends_.clear();
    row->problem = CsvRowProblem::kNone;
    row->problem_column = 0;
    row->needs_decoding = false;
    row->column_count = 0;

    if (pos_ == end_) {
      Result<bool> more = Fill();
      if (!more.ok()) return more.status();
      if (!*more) return false;
    }
    if (skip_lf_) {
      skip_lf_ = false;
      if (buf_[pos_] == '\n') {
        ++pos_;
        continue;  // the LF of a CRLF: re-check for the end of input
      }
    }
    row->line = line_;

    enum State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted } state = kFieldStart;
    bool discard = false, any_quoted = false, cr_in_quote = false;
    uint8_t high = 0;
    size_t field_start = 0;
    std::string& bytes = row->bytes_;

    auto fail = [&](CsvRowProblem p) {
      if (row->problem == CsvRowProblem::kNone) {
        row->problem = p;
        row->problem_column = row->column_count;
      }
      discard = true;
      bytes.clear();
      row->ends_.clear();
    };
    auto append = [&](const char* p, size_t n) {
      if (discard || n == 0) return;
      // Which limit the run crosses first, byte by byte, so that the verdict does not depend on how the
      // input was split into reads.
      size_t field_len = bytes.size() - field_start;
      size_t field_room = limits.max_field_bytes > field_len ? limits.max_field_bytes - field_len : 0;
      size_t row_room = limits.max_row_bytes > bytes.size() ? limits.max_row_bytes - bytes.size() : 0;
      if (n > field_room && field_room <= row_room) return fail(CsvRowProblem::kFieldTooLong);
      if (n > row_room) return fail(CsvRowProblem::kRowTooLong);
      bytes.append(p, n);
    };
    auto end_field = [&]() {
      ++row->column_count;
      if (discard) return;
      if (row->column_count > limits.max_columns) {
        fail(CsvRowProblem::kTooManyColumns);
        return;
      }
      row->ends_.push_back(static_cast<uint32_t>(bytes.size()));
      field_start = bytes.size();
    };

    bool at_eof = false;
    for (;;) {
      if (pos_ == end_) {
        Result<bool> more = Fill();
        if (!more.ok()) return more.status();
        if (!*more) {
          at_eof = true;
          break;
        }
      }
      const char* buf = buf_.get();
      switch (state) {
        case kFieldStart:
          if (buf[pos_] == '"') {
            any_quoted = true;
            state = kQuoted;
            ++pos_;
            continue;
          }
          state = kUnquoted;
          [[fallthrough]];
        case kUnquoted: {
          size_t start = pos_, end = end_;
          while (pos_ < end && !special_[static_cast<uint8_t>(buf[pos_])]) high |= static_cast<uint8_t>(buf[pos_++]);
          append(buf + start, pos_ - start);
          if (pos_ == end) continue;
          char c = buf[pos_++];
          if (c == delim) {
            end_field();
            state = kFieldStart;
            continue;
          }
          if (c == 0) {
            high |= 0x80;
            append(&c, 1);
            continue;
          }
          ++line_;
          skip_lf_ = c == '\r';
          break;  // end of row
        }
        case kQuoted: {
          size_t start = pos_, end = end_;
          while (pos_ < end && !quoted_special[static_cast<uint8_t>(buf[pos_])])
            high |= static_cast<uint8_t>(buf[pos_++]);
          if (pos_ != start) {
            cr_in_quote = false;
            append(buf + start, pos_ - start);
          }
          if (pos_ == end) continue;
          char c = buf[pos_++];
          if (c == '"') {
            state = kQuoteInQuoted;
            cr_in_quote = false;
          } else if (c == '\n') {
            if (!cr_in_quote) ++line_;
            cr_in_quote = false;
            append(&c, 1);
          } else if (c == '\r') {
            ++line_;
            cr_in_quote = true;
            append(&c, 1);
          } else {  // NUL
            high |= 0x80;
            cr_in_quote = false;
            append(&c, 1);
          }
          continue;
        }
        case kQuoteInQuoted: {
          char c = buf[pos_];
          if (c == '"') {  // a doubled quote stands for one
            append(&c, 1);
            state = kQuoted;
            ++pos_;
            continue;
          }
          if (c == delim) {
            ++pos_;
            end_field();
            state = kFieldStart;
            continue;
          }
          if (c == '\r' || c == '\n') {
            ++pos_;
            ++line_;
            skip_lf_ = c == '\r';
            break;  // end of row
          }
          state = kUnquoted;  // lenient, like Python's csv: text after the closing quote is kept
          continue;
        }
      }
      break;
    }

    if (at_eof && state == kQuoted) fail(CsvRowProblem::kUnterminatedQuote);
    end_field();
    if (row->problem == CsvRowProblem::kNone && row->column_count == 1 && bytes.empty() && !any_quoted) {
      if (at_eof) return false;
      continue;  // a blank line
    }
    row->needs_decoding = (high & 0x80) != 0;
    return true;
  }
}

}  // namespace opescare::csv_folder
