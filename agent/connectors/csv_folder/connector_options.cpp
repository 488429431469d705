// ConnectorOptions from the configuration's connector.* keys. Kept apart so that code using the connector
// without a Config (tests, the fuzzer, the benchmark) does not need the config library.
#include <cmath>

#include "agent/connectors/csv_folder/csv_folder_connector.h"
#include "agent/connectors/csv_folder/file_io.h"

namespace opescare::csv_folder {
namespace {

Result<std::chrono::milliseconds> Seconds(double seconds, const char* key) {
  if (!(seconds >= 0) || seconds > 86400 * 365)
    return InvalidArgument(std::string(key) + ": must be a number of seconds from 0 up to a year");
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
}

}  // namespace

Result<ConnectorOptions> ConnectorOptionsFromConfig(const config::ConnectorConfig& config) {
  ConnectorOptions options;
  if (config.type != "csv_folder")
    return InvalidArgument("connector.type: \"" + config.type + "\" is not a known connector (csv_folder)");
  options.watch_folder = config.watch_folder;
  options.file_pattern = config.file_pattern.empty() ? "*.csv" : config.file_pattern;
  Result<std::chrono::milliseconds> settle = Seconds(config.settle_seconds, "connector.settle_seconds");
  if (!settle.ok()) return settle.status();
  options.settle = *settle;
  Result<std::chrono::milliseconds> scan = Seconds(config.scan_interval_seconds, "connector.scan_interval_seconds");
  if (!scan.ok()) return scan.status();
  options.scan_interval = std::max(*scan, std::chrono::milliseconds(1000));
  options.keep_processed = std::chrono::hours(24) * config.keep_processed_days;

  ProcessorOptions& p = options.processing;
  p.processed_folder =
      config.processed_folder.empty() ? JoinPath(config.watch_folder, "processed") : config.processed_folder;
  p.failed_folder = config.failed_folder.empty() ? JoinPath(config.watch_folder, "failed") : config.failed_folder;
  p.types = RecordTypeTable(config.record_types.empty() ? config::DefaultRecordTypes() : config.record_types);

  Result<Encoding> encoding = ParseEncoding(config.encoding);
  if (!encoding.ok()) return InvalidArgument("connector.encoding: " + encoding.status().message());
  p.encoding = *encoding;
  Result<DateFormat> dates = ParseDateFormat(config.date_format);
  if (!dates.ok()) return InvalidArgument("connector.date_format: " + dates.status().message());
  p.date_format = *dates;

  const std::string& d = config.delimiter;
  if (d.empty() || d == "auto") {
    p.delimiter = 0;
  } else if (d == "tab" || d == "\\t" || d == "\t") {
    p.delimiter = '\t';
  } else if (d.size() == 1 && d[0] != '"' && d[0] != '\r' && d[0] != '\n' && static_cast<unsigned char>(d[0]) < 0x80) {
    p.delimiter = d[0];
  } else {
    return InvalidArgument("connector.delimiter: \"" + d + "\" is not auto or one ASCII character (not a quote)");
  }
  p.after_commit = PauseHookFromEnv();
  return options;
}

}  // namespace opescare::csv_folder
