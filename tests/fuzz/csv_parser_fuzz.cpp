// libFuzzer target for the CSV parser, decoding and row mapping (CsvRecordStream). The first input bytes
// pick the options; the rest is the file. Checks, beyond "no crash, no sanitizer report":
//  - every record's data is a JSON object of strings, its id the stable id of its row, rows increasing;
//  - the output does not depend on how reads split the input (1..16-byte reads vs one big read);
//  - every row error has a reason.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/connectors/csv_folder/record_id.h"
#include "agent/connectors/csv_folder/record_stream.h"

using namespace opescare::csv_folder;

namespace {

struct Output {
  std::vector<std::string> lines;  // records and errors, in order, flattened for comparison
};

void Check(bool ok) {
  if (!ok) std::abort();
}

Output Run(std::string_view file, const StreamParams& base, size_t max_read, size_t chunk) {
  StringByteSource source(file, max_read);
  StreamParams params = base;
  params.reader.chunk_bytes = chunk;
  CsvRecordStream stream(&source, params);
  Output out;
  opescare::Result<std::vector<RowError>> header = stream.Open();
  Check(header.ok());
  for (const RowError& e : *header) {
    Check(!e.reason.empty());
    out.lines.push_back("F" + std::to_string(e.row) + "|" + e.column + "|" + e.reason);
  }
  if (!header->empty()) return out;
  int64_t last_row = 0;
  for (int guard = 0; guard < 1000000; ++guard) {
    opescare::Result<CsvRecordStream::Item> item = stream.Next();
    Check(item.ok());
    if (*item == CsvRecordStream::Item::kEnd) break;
    if (*item == CsvRecordStream::Item::kRecord) {
      const Record& r = stream.record();
      Check(r.source_row > last_row);
      last_row = r.source_row;
      Check(r.id == RecordId(params.file_sha256, r.source_row));
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(r.data_json, ec);
      Check(!ec && v.is_object());
      for (const auto& kv : v.as_object()) Check(kv.value().is_string() && !kv.value().as_string().empty());
      out.lines.push_back("R" + std::to_string(r.source_row) + "|" + r.data_json);
    } else {
      Check(!stream.row_errors().empty());
      for (const RowError& e : stream.row_errors()) {
        Check(!e.reason.empty() && e.row > last_row - 1);
        out.lines.push_back("E" + std::to_string(e.row) + "|" + e.column + "|" + e.reason);
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint8_t a = data[0], b = data[1];
  std::string_view file(reinterpret_cast<const char*>(data) + 2, size - 2);

  StreamParams params;
  params.file_name = "patients_fuzz.csv";
  params.file_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  static const Encoding kEncodings[] = {Encoding::kAuto, Encoding::kUtf8, Encoding::kWindows1252, Encoding::kLatin1};
  static const char kDelimiters[] = {0, ',', ';', '\t'};
  static const DateFormat kDates[] = {DateFormat::kIso, DateFormat::kDayMonthYear, DateFormat::kMonthDayYear,
                                      DateFormat::kIso};
  params.encoding = kEncodings[a & 3];
  params.reader.delimiter = kDelimiters[(a >> 2) & 3];
  params.date_format = kDates[(a >> 4) & 3];
  if (a & 0x40) params.rule = TypeRule{"patients_", "patient", {"first_name", "dob"}};
  if (a & 0x80) {  // small limits, so the fuzzer reaches them
    params.reader.limits.max_field_bytes = 16;
    params.reader.limits.max_row_bytes = 64;
    params.reader.limits.max_columns = 8;
  }
  // kAuto decides on the first non-ASCII cell, which depends on nothing but the bytes: still deterministic.
  Output whole = Run(file, params, SIZE_MAX, 64 * 1024);
  Output pieces = Run(file, params, 1 + (b & 15), 16 + (b >> 4));
  Check(whole.lines == pieces.lines);
  return 0;
}
