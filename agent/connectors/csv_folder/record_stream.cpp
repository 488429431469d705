// Header checks and row validation/mapping for one CSV file.
#include "agent/connectors/csv_folder/record_stream.h"
#include "agent/util/json_text.h"

#include <cstring>
#include <map>

namespace opescare::csv_folder {

CsvRecordStream::CsvRecordStream(ByteSource* source, StreamParams params)
    : params_(std::move(params)),
      reader_(source, params_.reader),
      ids_(params_.file_sha256),
      encoding_(params_.encoding) {
  record_.type = params_.rule.type;
  record_.source_file = params_.file_name;
}

void CsvRecordStream::AddError(int64_t row, std::string column, std::string reason) {
  errors_.push_back(RowError{row, std::move(column), std::move(reason)});
}

std::optional<std::string_view> CsvRecordStream::Decode(std::string_view raw, bool may_need, DecodeError* error) {
  if (!may_need) return raw;
  if (encoding_ == Encoding::kAuto) {
    // No whole-file verdict: decide on the first cell that is not plain ASCII.
    bool ascii = true;
    for (char c : raw)
      if (static_cast<uint8_t>(c) >= 0x80) ascii = false;
    if (!ascii) encoding_ = FindInvalidUtf8(raw) == std::string_view::npos ? Encoding::kUtf8 : Encoding::kWindows1252;
  }
  if (encoding_ == Encoding::kUtf8 || encoding_ == Encoding::kAuto) {
    // Already UTF-8: check it in place, no copy.
    size_t bad = FindInvalidUtf8(raw);
    if (bad == std::string_view::npos) {
      const void* nul = std::memchr(raw.data(), 0, raw.size());
      if (nul == nullptr) return raw;
      bad = static_cast<size_t>(static_cast<const char*>(nul) - raw.data());
    }
    error->offset = bad;
    error->byte = static_cast<uint8_t>(raw[bad]);
    return std::nullopt;
  }
  scratch_.clear();
  if (!AppendAsUtf8(encoding_, raw, &scratch_, error)) return std::nullopt;
  return std::string_view(scratch_);
}

Result<std::vector<RowError>> CsvRecordStream::Open() {
  opened_ = true;
  errors_.clear();
  if (!ids_.status().ok()) return ids_.status();  // an error status: the file is retried, not rejected
  Result<bool> got = reader_.Next(&row_);
  if (!got.ok()) return got.status();
  if (reader_.utf16_bom()) {
    AddError(0, "", "the file is UTF-16 text, which is not supported: export it as CSV in UTF-8 or Windows-1252");
    return errors_;
  }
  if (!*got) {
    AddError(0, "", "empty file: there is no header row");
    return errors_;
  }
  const int64_t line = row_.line;
  if (row_.problem != CsvRowProblem::kNone) {
    AddError(line, "", "header: " + DescribeRowProblem(row_.problem, params_.reader.limits));
    return errors_;
  }
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < row_.size(); ++i) {
    DecodeError bad;
    std::optional<std::string_view> text = Decode(row_.field(i), row_.needs_decoding, &bad);
    std::string name;
    if (!text) {
      AddError(line, "column " + std::to_string(i + 1), "header: " + bad.Describe(encoding_));
    } else {
      name = NormalizeHeaderName(*text);
    }
    // An unnamed column (e.g. a trailing delimiter) keeps its cells under a generated name.
    if (name.empty()) name = "column_" + std::to_string(i + 1);
    auto [it, inserted] = seen.emplace(name, i);
    if (!inserted)
      AddError(line, name,
               "duplicate column (columns " + std::to_string(it->second + 1) + " and " + std::to_string(i + 1) + ")");
    names_.push_back(name);
  }
  for (const std::string& required : params_.rule.required)
    if (seen.count(required) == 0) AddError(line, required, "required column missing");
  if (!errors_.empty()) return errors_;

  for (const std::string& name : names_) {
    Column column;
    column.key.reserve(name.size() + 3);
    AppendJsonString(column.key, name);
    column.key.push_back(':');
    column.is_date = IsDateColumn(name);
    for (const std::string& required : params_.rule.required)
      if (required == name) column.required = true;
    columns_.push_back(std::move(column));
  }
  return errors_;
}

Result<CsvRecordStream::Item> CsvRecordStream::Next() {
  if (!opened_) return FailedPrecondition("CsvRecordStream::Next called before Open");
  for (;;) {
    errors_.clear();
    Result<bool> got = reader_.Next(&row_);
    if (!got.ok()) return got.status();
    if (!*got) return Item::kEnd;
    const int64_t line = row_.line;
    if (row_.problem != CsvRowProblem::kNone) {
      std::string column;
      if (row_.problem == CsvRowProblem::kFieldTooLong && row_.problem_column < names_.size())
        column = names_[row_.problem_column];
      AddError(line, std::move(column), DescribeRowProblem(row_.problem, params_.reader.limits));
      ++rows_failed_;
      return Item::kRowErrors;
    }
    bool blank = true;
    for (size_t i = 0; i < row_.size() && blank; ++i)
      if (!TrimValue(row_.field(i)).empty()) blank = false;
    if (blank) continue;  // e.g. ";;;;" lines Excel leaves below the data
    if (row_.size() != columns_.size()) {
      AddError(
          line, "",
          "row has " + std::to_string(row_.size()) + " fields but the header has " + std::to_string(columns_.size()));
      ++rows_failed_;
      return Item::kRowErrors;
    }

    // UTF-8 rows are checked whole, once: when the row is valid and no field starts inside a multi-byte
    // sequence, every field is valid and needs no check of its own.
    bool needs_decoding = row_.needs_decoding;
    if (needs_decoding && encoding_ == Encoding::kUtf8) {
      std::string_view all = row_.bytes();
      bool valid = FindInvalidUtf8(all) == std::string_view::npos && std::memchr(all.data(), 0, all.size()) == nullptr;
      for (size_t i = 1; i < row_.size() && valid; ++i) {
        std::string_view f = row_.field(i);
        if (!f.empty() && (static_cast<uint8_t>(f[0]) & 0xC0) == 0x80) valid = false;
      }
      needs_decoding = !valid;
    }

    std::string& data = record_.data_json;
    data.clear();
    data.push_back('{');
    bool first = true;
    for (size_t i = 0; i < columns_.size(); ++i) {
      const Column& column = columns_[i];
      std::string_view value = TrimValue(row_.field(i));
      if (value.empty()) {
        if (column.required) AddError(line, names_[i], "required value is empty");
        continue;
      }
      DecodeError bad;
      std::optional<std::string_view> text = Decode(value, needs_decoding, &bad);
      if (!text) {
        AddError(line, names_[i], bad.Describe(encoding_));
        continue;
      }
      value = *text;
      char iso[10];
      if (column.is_date) {
        DateCheck check = NormalizeDate(value, params_.date_format, iso);
        if (check == DateCheck::kWrongFormat) {
          AddError(line, names_[i], std::string("not a date in the format ") + DateFormatName(params_.date_format));
          continue;
        }
        if (check == DateCheck::kNotACalendarDate) {
          AddError(line, names_[i], "not a valid calendar date");
          continue;
        }
        value = std::string_view(iso, sizeof iso);
      }
      if (!first) data.push_back(',');
      first = false;
      data += column.key;
      AppendJsonString(data, value);
    }
    data.push_back('}');
    if (!errors_.empty()) {
      ++rows_failed_;
      return Item::kRowErrors;
    }
    ids_.Make(line, &record_.id);
    record_.source_row = line;
    ++rows_ok_;
    return Item::kRecord;
  }
}

}  // namespace opescare::csv_folder
