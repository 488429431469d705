// CsvRecordStream: a CSV file's bytes in, its records and row errors out, one row at a time (CSV.md
// "Parsing"). Pure logic over a ByteSource: no files, no outbox; the file pipeline, the tests' corpus
// runner and the fuzzer all drive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/connectors/csv_folder/byte_source.h"
#include "agent/connectors/csv_folder/csv_reader.h"
#include "agent/connectors/csv_folder/field_rules.h"
#include "agent/connectors/csv_folder/record_id.h"
#include "agent/connectors/csv_folder/record_sink.h"
#include "agent/connectors/csv_folder/record_types.h"
#include "agent/connectors/csv_folder/text_encoding.h"

namespace opescare::csv_folder {

// A problem with one row (or, with row 0 or the header's row from Open(), with the whole file). Reasons
// never quote cell values: they may reach logs and the status page.
struct RowError {
  int64_t row = 0;     // csv_reader.h row number; 0 when not tied to a row
  std::string column;  // normalised column name, or "" for the row as a whole
  std::string reason;
};

struct StreamParams {
  std::string file_name;                // source.file of every record
  std::string file_sha256;              // hex; record ids derive from it
  TypeRule rule;                        // from RecordTypeTable::Match
  Encoding encoding = Encoding::kAuto;  // kAuto: decided on the first non-ASCII cell (the file pipeline
                                        // decides for the whole file first, see Utf8Scanner)
  DateFormat date_format = DateFormat::kIso;
  CsvReaderOptions reader;  // delimiter (0 = sniff), limits
};

// Not thread-safe. Borrows the source.
class CsvRecordStream {
 public:
  CsvRecordStream(ByteSource* source, StreamParams params);

  // Reads and checks the header: UTF-16 or undecodable text, duplicate names, missing required columns,
  // an empty file. Problems found reject the whole file and are returned (empty: go on with Next()).
  // An error status is an I/O error.
  Result<std::vector<RowError>> Open();

  enum class Item { kRecord, kRowErrors, kEnd };
  // The next data row: a record (record()), or a rejected row (row_errors(), one per problem found),
  // or the end. Rows whose cells are all empty are skipped. Call only after Open() found no problem.
  Result<Item> Next();

  const Record& record() const { return record_; }  // valid until the next call
  const std::vector<RowError>& row_errors() const { return errors_; }
  const std::vector<std::string>& columns() const { return names_; }
  Encoding encoding() const { return encoding_; }
  char delimiter() const { return reader_.delimiter(); }
  uint64_t bytes_read() const { return reader_.bytes_read(); }
  uint64_t rows_ok() const { return rows_ok_; }
  uint64_t rows_failed() const { return rows_failed_; }

 private:
  struct Column {
    std::string key;  // "\"name\":" ready to append
    bool is_date = false;
    bool required = false;
  };
  // Decodes a cell into scratch_ when needed; returns the UTF-8 view, or nullopt with *error set.
  std::optional<std::string_view> Decode(std::string_view raw, bool may_need, DecodeError* error);
  void AddError(int64_t row, std::string column, std::string reason);

  StreamParams params_;
  CsvReader reader_;
  RecordIdMaker ids_;
  Encoding encoding_;
  CsvRow row_;
  std::vector<std::string> names_;
  std::vector<Column> columns_;
  Record record_;
  std::vector<RowError> errors_;
  std::string scratch_;
  uint64_t rows_ok_ = 0, rows_failed_ = 0;
  bool opened_ = false;
};

}  // namespace opescare::csv_folder
