// The agent's logger: a redacting sink that formats each line itself (text or JSON), hides every secret
// in the finished line, then hands it to stderr or a rotating file, falling back to stderr if the file fails.
#include "agent/config/logging.h"
#include "agent/util/redact.h"

#include <spdlog/details/os.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <cstdio>
#include <mutex>

#include "agent/config/config_internal.h"

namespace opescare::logging {
namespace {

constexpr size_t kBytesPerMb = 1024 * 1024;

// Appends text as the inside of a JSON string: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD so every line stays valid JSON.
void AppendJsonEscaped(std::string_view text, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // Length and minimum code point of a UTF-8 sequence by its lead byte.
    size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    bool valid = len != 0 && i + len <= text.size();
    uint32_t cp = len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; valid && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(text[i + k]);
      valid = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (valid) {
      static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      valid = cp >= kMin[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    }
    if (valid) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
}

// One JSON object per line: {"ts":"2026-01-02T03:04:05.678Z","level":"info","logger":"...","msg":"..."}.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto since_epoch = msg.time.time_since_epoch();
    std::time_t secs = duration_cast<seconds>(since_epoch).count();
    auto millis = duration_cast<milliseconds>(since_epoch).count() % 1000;
    if (millis < 0) millis += 1000;
    std::tm tm = spdlog::details::os::gmtime(secs);
    char ts[80];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
    std::string line = "{\"ts\":\"";
    line += ts;
    line += "\",\"level\":\"";
    spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += "\",\"logger\":\"";
    AppendJsonEscaped(std::string_view(msg.logger_name.data(), msg.logger_name.size()), line);
    line += "\",\"msg\":\"";
    AppendJsonEscaped(std::string_view(msg.payload.data(), msg.payload.size()), line);
    line += "\"}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

std::unique_ptr<spdlog::formatter> MakeFormatter(const std::string& format) {
  if (format == "json") return std::make_unique<JsonFormatter>();
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l %n: %v", spdlog::pattern_time_type::utc);
}

// The target sinks get lines already formatted and redacted: their formatter passes them through.
void MakePassThrough(spdlog::sinks::sink& target) {
  target.set_formatter(std::make_unique<spdlog::pattern_formatter>("%v", spdlog::pattern_time_type::utc, ""));
}

std::shared_ptr<spdlog::sinks::sink> MakeStderrSink() {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  MakePassThrough(*sink);
  return sink;
}

// Formats, redacts (the message before formatting, so escaping cannot disguise a secret, and the whole
// line after, so nothing around the message can carry one), then writes to the target.
// Thread-safe: base_sink serialises sink_it_.
class RedactingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RedactingSink(std::shared_ptr<spdlog::sinks::sink> target, std::vector<std::string> secrets, std::string target_name)
      : target_(std::move(target)), secrets_(std::move(secrets)), target_name_(std::move(target_name)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string payload = Redact(std::string(msg.payload.data(), msg.payload.size()), secrets_);
    spdlog::details::log_msg clean = msg;
    clean.payload = payload;
    spdlog::memory_buf_t formatted;
    formatter_->format(clean, formatted);
    std::string line = Redact(std::string(formatted.data(), formatted.size()), secrets_);
    Write(msg, line);
  }

  void flush_() override {
    try {
      target_->flush();
    } catch (const std::exception& e) {
      if (on_stderr_) return;  // stderr cannot be replaced by anything better
      // The last line may have been lost in the file's buffer (e.g. disk full): repeat it on stderr.
      spdlog::details::log_msg last(last_time_, {}, logger_name_, last_level_, "");
      FallBack(last, e.what());
      last.payload = last_line_;
      WriteToStderr(last);
    }
  }

 private:
  void Write(const spdlog::details::log_msg& original, const std::string& line) {
    spdlog::details::log_msg out = original;
    out.payload = line;
    last_line_ = line;
    last_time_ = original.time;
    last_level_ = original.level;
    logger_name_.assign(original.logger_name.data(), original.logger_name.size());
    try {
      target_->log(out);
    } catch (const std::exception& e) {  // a full disk or a vanished file: the caller must not see it
      FallBack(original, e.what());
      WriteToStderr(out);
    }
  }

  // Switches to stderr once, saying why.
  void FallBack(const spdlog::details::log_msg& original, const std::string& reason) {
    if (on_stderr_) return;
    on_stderr_ = true;
    target_ = MakeStderrSink();
    spdlog::details::log_msg warning(original.time, {}, original.logger_name, spdlog::level::warn, "");
    std::string text = "writing to " + target_name_ + " failed (" + reason + "); logging to stderr from now on";
    std::string payload = Redact(text, secrets_);
    warning.payload = payload;
    spdlog::memory_buf_t formatted;
    formatter_->format(warning, formatted);
    std::string line = Redact(std::string(formatted.data(), formatted.size()), secrets_);
    spdlog::details::log_msg out = warning;
    out.payload = line;
    WriteToStderr(out);
  }

  void WriteToStderr(const spdlog::details::log_msg& msg) {
    try {
      target_->log(msg);
    } catch (const std::exception&) {
      // stderr itself failed: there is nowhere left to report to, and logging must never throw.
    }
  }

  std::shared_ptr<spdlog::sinks::sink> target_;
  std::vector<std::string> secrets_;
  std::string target_name_;
  bool on_stderr_ = false;
  std::string last_line_;  // the last line written, formatted and redacted
  spdlog::log_clock::time_point last_time_;
  spdlog::level::level_enum last_level_ = spdlog::level::info;
  std::string logger_name_;
};

}  // namespace

std::string Redact(std::string text, const std::vector<std::string>& secrets) {
  return RedactSecrets(std::move(text), secrets);
}

bool ParseLevel(const std::string& name, spdlog::level::level_enum* out) {
  static const std::pair<const char*, spdlog::level::level_enum> kNames[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},       {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"warning", spdlog::level::warn},      {"error", spdlog::level::err},
      {"err", spdlog::level::err},     {"critical", spdlog::level::critical}, {"off", spdlog::level::off},
  };
  std::string lower = config::internal::AsciiLower(name);
  for (const auto& [n, level] : kNames) {
    if (lower == n) {
      *out = level;
      return true;
    }
  }
  return false;
}

void AddRedactedSink(spdlog::logger& logger, std::shared_ptr<spdlog::sinks::sink> target,
                     std::vector<std::string> secrets, spdlog::level::level_enum level, const std::string& target_name) {
  if (!target) return;
  auto sink = std::make_shared<RedactingSink>(std::move(target), std::move(secrets), target_name);
  sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%l %n: %v", spdlog::pattern_time_type::utc, ""));
  sink->set_level(level);
  logger.sinks().push_back(std::move(sink));
}

std::shared_ptr<spdlog::logger> MakeLogger(const config::LogConfig& log, std::vector<std::string> secrets,
                                           const std::string& name) {
  std::shared_ptr<spdlog::sinks::sink> target;
  std::string open_error;
  if (!log.file.empty()) {
    try {
      size_t max_size = std::max<size_t>(1, log.max_size_mb) * kBytesPerMb;
      target = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(log.file, max_size, log.max_files);
      MakePassThrough(*target);
    } catch (const spdlog::spdlog_ex& e) {
      open_error = e.what();
    }
  }
  bool to_file = target != nullptr;
  if (!target) target = MakeStderrSink();

  auto sink = std::make_shared<RedactingSink>(target, secrets, to_file ? "log file " + log.file : "stderr");
  sink->set_formatter(MakeFormatter(log.format));
  auto logger = std::make_shared<spdlog::logger>(name, std::move(sink));
  spdlog::level::level_enum level = spdlog::level::info;
  if (!ParseLevel(log.level, &level)) level = spdlog::level::info;
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);  // every line reaches the file at once: a crash loses nothing
  // spdlog reports its own failures (e.g. a bad format string) through this handler: redact those too.
  logger->set_error_handler([secrets](const std::string& message) {
    std::string text = Redact("[logging error] " + message + "\n", secrets);
    std::fputs(text.c_str(), stderr);
  });
  if (!open_error.empty()) {
    logger->warn("cannot open log file {} ({}); logging to stderr", log.file, open_error);
  }
  return logger;
}

}  // namespace opescare::logging
