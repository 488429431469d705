// Tests for the loader's pure helpers: ${VAR} expansion, suggestions, quoting, redaction, problem
// formatting, loopback detection and URL / host:port parsing.
#include <gtest/gtest.h>

#include "agent/config/config.h"
#include "agent/util/redact.h"
#include "agent/config/config_internal.h"

namespace opescare::config {
namespace {

using internal::ClosestName;
using internal::EditDistance;
using internal::ExpandEnv;

internal::EnvLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ExpandEnv, ReplacesSetVariables) {
  auto env = EnvOf({{"HOST", "api.example"}, {"PORT", "8443"}});
  EXPECT_EQ(ExpandEnv("https://${HOST}:${PORT}/x", env).value(), "https://api.example:8443/x");
  EXPECT_EQ(ExpandEnv("no references", env).value(), "no references");
}

TEST(ExpandEnv, DefaultAppliesWhenUnsetOrEmpty) {
  auto env = EnvOf({{"EMPTY", ""}, {"SET", "v"}});
  EXPECT_EQ(ExpandEnv("${MISSING:-fallback}", env).value(), "fallback");
  EXPECT_EQ(ExpandEnv("${EMPTY:-fallback}", env).value(), "fallback");
  EXPECT_EQ(ExpandEnv("${SET:-fallback}", env).value(), "v");
  EXPECT_EQ(ExpandEnv("${MISSING:-}", env).value(), "");
  EXPECT_EQ(ExpandEnv("${EMPTY}", env).value(), "");  // set but empty, no default: empty
}

TEST(ExpandEnv, UnsetWithoutDefaultIsAnErrorNamingTheVariable) {
  Result<std::string> r = ExpandEnv("a${NOT_THERE}b", EnvOf({}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("NOT_THERE is not set"), std::string::npos) << r.status().message();
}

TEST(ExpandEnv, EscapesAndMalformedReferences) {
  auto env = EnvOf({{"X", "1"}});
  EXPECT_EQ(ExpandEnv("$${X} costs $5 $X", env).value(), "${X} costs $5 $X");
  EXPECT_FALSE(ExpandEnv("${X", env).ok());
  EXPECT_FALSE(ExpandEnv("${}", env).ok());
  EXPECT_FALSE(ExpandEnv("${1X}", env).ok());
  EXPECT_FALSE(ExpandEnv("${A B}", env).ok());
}

TEST(Suggestions, EditDistanceAndClosestName) {
  EXPECT_EQ(EditDistance("typ", "type"), 1u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  std::vector<std::string> keys = {"type", "watch_folder", "file_pattern", "settle_seconds"};
  EXPECT_EQ(ClosestName("typ", keys), "type");
  EXPECT_EQ(ClosestName("watchfolder", keys), "watch_folder");
  EXPECT_EQ(ClosestName("File_Patern", keys), "file_pattern");
  EXPECT_EQ(ClosestName("settle", keys), "settle_seconds");  // a truncated name
  EXPECT_EQ(ClosestName("completely_different", keys), "");
}

TEST(QuoteValue, EscapesAndCuts) {
  EXPECT_EQ(internal::QuoteValue("sixty"), "\"sixty\"");
  EXPECT_EQ(internal::QuoteValue("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\x01\"");
  EXPECT_EQ(internal::QuoteValue(std::string(100, 'x')), "\"" + std::string(60, 'x') + "...\"");
}

TEST(RedactSecrets, ReplacesEveryOccurrenceLongestFirst) {
  EXPECT_EQ(RedactSecrets("k=abc; again abc", {"abc"}), "k=***; again ***");
  EXPECT_EQ(RedactSecrets("abcdef", {"abc", "abcdef"}), "***");
  EXPECT_EQ(RedactSecrets("short x key", {"x", ""}), "short *** key");
}

TEST(Problem, ToStringShapes) {
  Problem p;
  p.file = "config.yaml";
  p.line = 7;
  p.column = 28;
  p.key = "heartbeat_interval_seconds";
  p.message = "\"sixty\" is not a number (5..3600 seconds)";
  EXPECT_EQ(p.ToString(), "config.yaml:7:28: heartbeat_interval_seconds: \"sixty\" is not a number (5..3600 seconds)");
  p.line = 0;
  EXPECT_EQ(p.ToString(), "config.yaml: heartbeat_interval_seconds: \"sixty\" is not a number (5..3600 seconds)");
  Problem key;
  key.key = "agent key";
  key.message = "not set (set OPESCARE_AGENT_KEY, agent_key_file, or agent_key)";
  EXPECT_EQ(key.ToString(), "agent key: not set (set OPESCARE_AGENT_KEY, agent_key_file, or agent_key)");
  Problem yaml;
  yaml.file = "c.yaml";
  yaml.line = 3;
  yaml.column = 1;
  yaml.message = "invalid YAML: x";
  EXPECT_EQ(yaml.ToString(), "c.yaml:3:1: invalid YAML: x");
}

TEST(IsLoopbackHost, NamesAndAddresses) {
  for (const char* host : {"localhost", "LOCALHOST", "127.0.0.1", "127.255.3.4", "::1", "[::1]", "::ffff:127.0.0.1"})
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  for (const char* host : {"", "example.com", "128.0.0.1", "127.0.0", "127.0.0.1.5", "1270.0.0.1", "0.0.0.0",
                           "::", "[::2]", "localhost.example.com", "10.0.0.1"})
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
}

TEST(ParseHttpUrl, AcceptsBaseUrls) {
  std::optional<HttpUrl> u = ParseHttpUrl("https://api.opescare.com");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "api.opescare.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "");
  u = ParseHttpUrl("HTTP://127.0.0.1:8080/base/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/base");
  u = ParseHttpUrl("https://[::1]:9443");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9443);
  u = ParseHttpUrl("http://user:p%40ss@proxy.local:3128");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->userinfo, "user:p%40ss");
  EXPECT_EQ(u->host, "proxy.local");
}

TEST(ParseHttpUrl, RejectsOthers) {
  for (const char* url :
       {"", "api.opescare.com", "ftp://x", "https://", "https://host:0", "https://host:65536", "https://host:abc",
        "https://ho st", "https://host/?q=1", "https://host/#f", "https://[::1", "https://::1:80"})
    EXPECT_FALSE(ParseHttpUrl(url)) << url;
}

TEST(ParseHostPort, Forms) {
  std::optional<HostPort> hp = ParseHostPort("127.0.0.1:9469");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 9469);
  hp = ParseHostPort("[::1]:0");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 0);
  for (const char* text : {"9469", ":9469", "host:", "host:99999", "::1:9469", "a b:1"})
    EXPECT_FALSE(ParseHostPort(text)) << text;
}

TEST(DefaultRecordTypes, MatchesCsvSpec) {
  auto types = DefaultRecordTypes();
  ASSERT_EQ(types.size(), 6u);
  EXPECT_EQ(types.at("patients_").type, "patient");
  EXPECT_EQ(types.at("patients_").required, (std::vector<std::string>{"first_name", "last_name", "dob", "sex"}));
  EXPECT_EQ(types.at("lab_results_").required, (std::vector<std::string>{"health_id", "test", "result", "date"}));
  EXPECT_EQ(types.at("pharmacy_stock_").type, "pharmacy_stock");
  // A default-constructed Config carries the table too.
  EXPECT_EQ(Config{}.connector.record_types.size(), 6u);
}

TEST(Config, FolderDefaultsFollowWatchFolder) {
  Config c;
  c.connector.watch_folder = "/data/in";
  EXPECT_EQ(c.ProcessedFolder(), "/data/in/processed");
  EXPECT_EQ(c.FailedFolder(), "/data/in/failed");
  c.connector.failed_folder = "/elsewhere";
  EXPECT_EQ(c.FailedFolder(), "/elsewhere");
}

}  // namespace
}  // namespace opescare::config
