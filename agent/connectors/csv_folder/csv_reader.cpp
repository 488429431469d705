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
    case CsvRowProblem::kNone: return "";
    case CsvRowProblem::kFieldTooLong: return "field longer than the limit of " + Size(limits.max_field_bytes);
    case CsvRowProblem::kRowTooLong: return "row longer than the limit of " + Size(limits.max_row_bytes);
    case CsvRowProblem::kTooManyColumns:
      return "row has more columns than the limit of " + std::to_string(limits.max_columns);
    case CsvRowProblem::kUnterminatedQuote: return "quoted field not closed before the end of the file";
  }
  return "";
}

char SniffDelimiter(std::string_view first_line) {
  size_t comma = 0, semicolon = 0, tab = 0;
  bool quoted = false;
  for (char c : first_line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted) {
      if (c == '\r' || c == '\n') break;
      if (c == ',') ++comma;
      if (c == ';') ++semicolon;
      if (c == '\t') ++tab;
    }
  }
  if (semicolon > comma && semicolon >= tab) return ';';
  if (tab > comma && tab > semicolon) return '\t';
  return ',';
}

CsvReader::CsvReader(ByteSource* source, CsvReaderOptions options)
    : source_(source), options_(options), buf_(new char[options.chunk_bytes < 16 ? 16 : options.chunk_bytes]) {
  if (options_.chunk_bytes < 16) options_.chunk_bytes = 16;
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
  while (!eof_ && end_ < options_.chunk_bytes) {
    if (end_ >= 3 && std::memchr(buf_.get(), '\n', end_) != nullptr) break;
    if (end_ >= 3 && std::memchr(buf_.get(), '\r', end_) != nullptr) break;
    Result<size_t> n = source_->Read(buf_.get() + end_, options_.chunk_bytes - end_);
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
  delimiter_ = options_.delimiter != 0 ? options_.delimiter
                                       : SniffDelimiter(std::string_view(buf_.get() + pos_, end_ - pos_));
  BuildTable();
  return Status::Ok();
}

void CsvReader::BuildTable() {
  std::memset(special_, 0, sizeof special_);
  special_[static_cast<uint8_t>(delimiter_)] = 1;
  special_['\r'] = special_['\n'] = special_[0] = 1;
  // Inside quotes the delimiter is ordinary and the quote is special.
  std::memset(quoted_special_, 0, sizeof quoted_special_);
  quoted_special_['"'] = quoted_special_['\r'] = quoted_special_['\n'] = quoted_special_[0] = 1;
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
      bytes.append(p, n);
      if (bytes.size() - field_start > limits.max_field_bytes) {
        fail(CsvRowProblem::kFieldTooLong);
      } else if (bytes.size() > limits.max_row_bytes) {
        fail(CsvRowProblem::kRowTooLong);
      }
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
