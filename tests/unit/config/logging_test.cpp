// Tests for the logger: level names, text and JSON lines, and the redaction layer — a trace-level logger
// writing to a real file must never let the key through, whatever way it is logged.
#include "agent/config/logging.h"

#include <gtest/gtest.h>

#include <boost/json/src.hpp>  // header-only here: the config library itself needs no JSON
#include <fstream>
#include <regex>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include "tests/unit/config/test_support.h"

namespace opescare::logging {
namespace {

using config::testing::kKey;
using config::testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

config::LogConfig FileLog(const std::string& file, const std::string& format) {
  config::LogConfig log;
  log.level = "trace";
  log.file = file;
  log.format = format;
  return log;
}

// Logs the key every way a careless caller might, at every level.
void LogTheKeyEverywhere(spdlog::logger& logger, const std::string& key) {
  logger.trace("trace with the key {} in an argument", key);
  logger.debug("debug with the key in the text: " + key);
  logger.info("info: Authorization: Bearer {}", key);
  logger.warn("warn: key={} again={}", key, key);
  logger.error(key);
  logger.critical("critical {:>40}", key);
  logger.info("quoted \"{}\" and escaped\n{}", key, key);
  logger.log(spdlog::level::info, "prefix{}suffix", key);
}

TEST(ParseLevel, NamesInAnyCase) {
  spdlog::level::level_enum level;
  struct Case {
    const char* name;
    spdlog::level::level_enum level;
  } cases[] = {{"trace", spdlog::level::trace},       {"DEBUG", spdlog::level::debug},  {"Info", spdlog::level::info},
               {"warn", spdlog::level::warn},         {"WARNING", spdlog::level::warn}, {"error", spdlog::level::err},
               {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
  for (const Case& c : cases) {
    ASSERT_TRUE(ParseLevel(c.name, &level)) << c.name;
    EXPECT_EQ(level, c.level) << c.name;
  }
  EXPECT_FALSE(ParseLevel("verbose", &level));
  EXPECT_FALSE(ParseLevel("", &level));
}

TEST(Redact, EverySecretEveryTime) {
  EXPECT_EQ(Redact("a KEY b KEY", {"KEY"}), "a *** b ***");
  EXPECT_EQ(Redact("nothing here", {"KEY", ""}), "nothing here");
  EXPECT_EQ(Redact("pw=ab", {"ab"}), "pw=***");  // short secrets too
}

TEST(Logger, TextFileAtTraceNeverContainsTheKey) {
  TempDir dir;
  std::string path = dir.path() + "/agent.log";
  auto logger = MakeLogger(FileLog(path, "text"), {kKey});
  LogTheKeyEverywhere(*logger, kKey);
  logger->flush();
  std::string text = ReadAll(path);
  EXPECT_EQ(text.find(kKey), std::string::npos) << text;
  EXPECT_EQ(text.find("S3cret"), std::string::npos) << text;
  std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 9u) << text;  // the embedded newline splits one message
  EXPECT_NE(text.find("trace with the key *** in an argument"), std::string::npos) << text;
  EXPECT_NE(text.find("warn: key=*** again=***"), std::string::npos) << text;
  EXPECT_NE(text.find("prefix***suffix"), std::string::npos) << text;
  std::regex form(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trace|debug|info|warning|error|critical) opescare-bridge: .*)");
  EXPECT_TRUE(std::regex_match(lines[0], form)) << lines[0];
}

TEST(Logger, JsonFileAtTraceNeverContainsTheKeyAndEveryLineIsJson) {
  TempDir dir;
  std::string path = dir.path() + "/agent.json.log";
  // A key with characters JSON escapes: escaping must not disguise it from the redaction.
  const std::string key = "k\"ey\\with/json\tchars-123";
  auto logger = MakeLogger(FileLog(path, "json"), {key}, "bridge-test");
  LogTheKeyEverywhere(*logger, key);
  logger->info("control \x01 byte, invalid utf-8 \xff\xfe, accents é and emoji \xF0\x9F\x98\x80");
  logger->flush();
  std::string text = ReadAll(path);
  EXPECT_EQ(text.find(key), std::string::npos) << text;
  EXPECT_EQ(text.find("k\\\"ey\\\\with"), std::string::npos) << text;  // nor its escaped form
  std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 9u) << text;  // one object per message: the newline is escaped
  std::regex ts(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)");
  for (const std::string& line : lines) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    const boost::json::object& o = v.as_object();
    EXPECT_EQ(o.size(), 4u) << line;
    EXPECT_TRUE(std::regex_match(std::string(o.at("ts").as_string().c_str()), ts)) << line;
    EXPECT_EQ(o.at("logger").as_string(), "bridge-test");
    EXPECT_TRUE(o.at("msg").is_string());
  }
  boost::json::object first = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(first.at("level").as_string(), "trace");
  EXPECT_EQ(first.at("msg").as_string(), "trace with the key *** in an argument");
  boost::json::object quoted = boost::json::parse(lines[6]).as_object();
  EXPECT_EQ(quoted.at("msg").as_string(), "quoted \"***\" and escaped\n***");
  boost::json::object odd = boost::json::parse(lines[8]).as_object();
  EXPECT_EQ(odd.at("msg").as_string(),
            "control \x01 byte, invalid utf-8 \xEF\xBF\xBD\xEF\xBF\xBD, accents é and emoji \xF0\x9F\x98\x80");
}

TEST(Logger, LevelFiltersAndSecretsThatLookLikeLogText) {
  TempDir dir;
  std::string path = dir.path() + "/agent.log";
  config::LogConfig log = FileLog(path, "text");
  log.level = "WARNING";
  // A (silly) key that also occurs in the line's own decoration is still never printed.
  auto logger = MakeLogger(log, {"opescare-bridge"});
  logger->info("not shown");
  logger->warn("shown");
  logger->flush();
  std::string text = ReadAll(path);
  EXPECT_EQ(text.find("not shown"), std::string::npos) << text;
  EXPECT_NE(text.find("shown"), std::string::npos) << text;
  EXPECT_EQ(text.find("opescare-bridge"), std::string::npos) << text;
}

TEST(Logger, AnAddedSinkGetsWarningsAndUpRedacted) {
  // As the Windows Event Log sink is added for `run`: the same redaction, its own level.
  TempDir dir;
  auto logger = MakeLogger(FileLog(dir.path() + "/agent.log", "text"), {kKey});
  std::ostringstream events;
  auto target = std::make_shared<spdlog::sinks::ostream_sink_mt>(events);
  target->set_pattern("%v");
  AddRedactedSink(*logger, target, {kKey}, spdlog::level::warn, "test sink");
  LogTheKeyEverywhere(*logger, kKey);
  logger->info("an info line");
  logger->flush();
  const std::vector<std::string> lines = Lines(events.str());
  ASSERT_EQ(lines.size(), 3u) << events.str();  // warn, error, critical
  EXPECT_EQ(lines[0], "warning opescare-bridge: warn: key=*** again=***");
  EXPECT_EQ(events.str().find(kKey), std::string::npos) << events.str();
  EXPECT_NE(ReadAll(dir.path() + "/agent.log").find("an info line"), std::string::npos);  // the file still has all
  AddRedactedSink(*logger, nullptr, {kKey}, spdlog::level::warn, "none");
  EXPECT_EQ(logger->sinks().size(), 2u);
}

TEST(Logger, UnopenableFileFallsBackToStderrWithoutThrowing) {
  TempDir dir;
  std::string blocker = dir.Write("not-a-dir", "x");
  ::testing::internal::CaptureStderr();
  std::shared_ptr<spdlog::logger> logger;
  EXPECT_NO_THROW(logger = MakeLogger(FileLog(blocker + "/agent.log", "text"), {kKey}));
  logger->info("after fallback, key {}", kKey);
  logger->flush();
  std::fflush(stderr);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("cannot open log file " + blocker + "/agent.log"), std::string::npos) << err;
  EXPECT_NE(err.find("logging to stderr"), std::string::npos) << err;
  EXPECT_NE(err.find("after fallback, key ***"), std::string::npos) << err;
  EXPECT_EQ(err.find(kKey), std::string::npos) << err;
}

TEST(Logger, FileThatFailsWhileWritingFallsBackToStderr) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  ::testing::internal::CaptureStderr();
  auto logger = MakeLogger(FileLog("/dev/full", "json"), {kKey});
  EXPECT_NO_THROW(logger->info("first line, key {}", kKey));
  EXPECT_NO_THROW(logger->info("second line"));
  std::fflush(stderr);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("writing to log file /dev/full failed"), std::string::npos) << err;
  EXPECT_NE(err.find("first line, key ***"), std::string::npos) << err;  // the lost line is repeated
  EXPECT_NE(err.find("second line"), std::string::npos) << err;
  EXPECT_EQ(err.find(kKey), std::string::npos) << err;
}

TEST(Logger, DefaultsToStderrAtInfo) {
  ::testing::internal::CaptureStderr();
  auto logger = MakeLogger(config::LogConfig{}, {kKey});
  EXPECT_EQ(logger->level(), spdlog::level::info);
  logger->debug("hidden debug");
  logger->info("visible {}", kKey);
  std::fflush(stderr);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.find("hidden debug"), std::string::npos) << err;
  EXPECT_NE(err.find("visible ***"), std::string::npos) << err;
}

}  // namespace
}  // namespace opescare::logging
