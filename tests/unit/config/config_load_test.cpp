// Tests for the configuration loader: defaults, the Python agent's file, config.example.yaml, every
// validation rule and message class, ${VAR} expansion, precedence of environment and flags.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>

#include "agent/config/config.h"
#include "agent/config/config_internal.h"
#include "tests/unit/config/test_support.h"

namespace opescare::config {
namespace {

using testing::AllProblems;
using testing::kKey;
using testing::TempDir;

using Env = std::map<std::string, std::string>;

const char kMinimal[] = "server_url: https://api.opescare.test\nagent_id: a1\nfacility_id: f1\n";

LoadResult Load(const std::string& yaml, Env env = {{"OPESCARE_AGENT_KEY", kKey}}, LoadOptions options = {}) {
  options.env = &env;
  return LoadConfigString(yaml, "config.yaml", options);
}

LoadResult LoadStrict(const std::string& yaml) {
  LoadOptions options;
  options.strict = true;
  return Load(yaml, {{"OPESCARE_AGENT_KEY", kKey}}, options);
}

// "a.b" + "v" -> "a:\n  b: v\n"
std::string YamlFor(const std::string& dotted, const std::string& value) {
  size_t dot = dotted.find('.');
  if (dot == std::string::npos) return dotted + ": " + value + "\n";
  return dotted.substr(0, dot) + ":\n  " + dotted.substr(dot + 1) + ": " + value + "\n";
}

// The one error of a result (fails the test when there is not exactly one problem).
std::string OnlyProblem(const LoadResult& r) {
  EXPECT_EQ(r.problems.size(), 1u) << AllProblems(r);
  return r.problems.empty() ? "" : r.problems[0].ToString();
}

std::string Field(const Config& c, const char* key) { return internal::GetField(*internal::FindField(key), c); }

TEST(Load, MinimalFileGetsEveryDefault) {
  LoadResult r = Load(kMinimal);
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_TRUE(r.problems.empty()) << AllProblems(r);
  const Config& c = *r.config;
  Config defaults;
  for (const internal::FieldSpec* f : internal::Fields()) {
    std::string key(internal::FieldKey(*f));
    if (key == "server_url" || key == "agent_id" || key == "facility_id" || key == "agent_key") continue;
    EXPECT_EQ(internal::GetField(*f, c), internal::GetField(*f, defaults)) << key;
  }
  EXPECT_EQ(c.server_url, "https://api.opescare.test");
  EXPECT_EQ(c.agent_key, kKey);
  EXPECT_EQ(c.agent_key_source, "environment OPESCARE_AGENT_KEY");
  EXPECT_EQ(c.source_path, "config.yaml");
  EXPECT_EQ(c.heartbeat_interval_seconds, 60u);
  EXPECT_EQ(c.batch.max_bytes, 1024u * 1024u);
  EXPECT_EQ(c.status.listen, "127.0.0.1:9469");
  EXPECT_EQ(c.connector.record_types.size(), 6u);
}

TEST(Load, PythonAgentFileLoadsUnchanged) {
  LoadOptions options;
  Env env = {{"OPESCARE_AGENT_KEY", kKey}};
  options.env = &env;
  LoadResult r = LoadConfigFile(OB_TEST_DATA_DIR "/config/bridge_config.json", options);
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_TRUE(r.problems.empty()) << AllProblems(r);  // not even a warning
  const Config& c = *r.config;
  EXPECT_EQ(c.server_url, "https://api.opescare.com");
  EXPECT_EQ(c.agent_id, "YOUR_AGENT_ID_FROM_OPESCARE_ADMIN");
  EXPECT_EQ(c.facility_id, "YOUR_FACILITY_UUID");
  EXPECT_EQ(c.agent_key, kKey);  // the file's placeholder lost to the environment
  EXPECT_EQ(c.agent_key_source, "environment OPESCARE_AGENT_KEY");
  EXPECT_EQ(c.environment, "production");
  EXPECT_EQ(c.heartbeat_interval_seconds, 60u);
  EXPECT_EQ(c.sync_interval_seconds, 300u);
  EXPECT_EQ(c.log.level, "info");  // "INFO" in the file
  EXPECT_EQ(c.connector.type, "csv_folder");
  EXPECT_EQ(c.connector.watch_folder, "./data/incoming");
  EXPECT_EQ(c.connector.file_pattern, "*.csv");
}

TEST(Load, PythonAgentFileWithoutKeySaysSo) {
  LoadOptions options;
  Env env;  // OPESCARE_AGENT_KEY not set: the placeholder counts as unset
  options.env = &env;
  LoadResult r = LoadConfigFile(OB_TEST_DATA_DIR "/config/bridge_config.json", options);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(OnlyProblem(r), "agent key: not set (set OPESCARE_AGENT_KEY, agent_key_file, or agent_key)");
}

TEST(Load, ExampleFileIsValidAndDocumentsEveryKeyWithItsDefault) {
  const std::string path = OB_TEST_DATA_DIR "/../../config.example.yaml";
  LoadOptions options;
  Env env = {{"OPESCARE_AGENT_KEY", kKey}};
  options.env = &env;
  options.strict = true;
  LoadResult r = LoadConfigFile(path, options);
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_TRUE(r.problems.empty()) << AllProblems(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.outbox.path, "./opescare-bridge.db");
  EXPECT_EQ(c.connector.watch_folder, "./data/incoming");
  EXPECT_EQ(c.server_url, "https://api.opescare.com");  // ${OPESCARE_SERVER_URL:-...}
  Config defaults;
  YAML::Node root = YAML::LoadFile(path);
  for (const internal::FieldSpec* f : internal::Fields()) {
    std::string key(internal::FieldKey(*f));
    size_t dot = key.find('.');
    YAML::Node node = dot == std::string::npos ? root[key] : root[key.substr(0, dot)][key.substr(dot + 1)];
    EXPECT_TRUE(node.IsDefined()) << key << " is not documented in config.example.yaml";
    if (key == "server_url" || key == "agent_id" || key == "facility_id" || key == "agent_key") continue;
    EXPECT_EQ(internal::GetField(*f, c), internal::GetField(*f, defaults)) << key << " differs from its default";
  }
  EXPECT_TRUE(root["connector"]["record_types"].IsMap());
  EXPECT_EQ(c.connector.record_types.size(), DefaultRecordTypes().size());
  for (const auto& [fragment, rule] : DefaultRecordTypes()) {
    ASSERT_TRUE(c.connector.record_types.count(fragment)) << fragment;
    EXPECT_EQ(c.connector.record_types.at(fragment).type, rule.type);
    EXPECT_EQ(c.connector.record_types.at(fragment).required, rule.required);
  }
}

// ---- Message classes ---------------------------------------------------------------------------

TEST(Problems, NotANumberGivesPositionFoundAndAllowed) {
  LoadResult r = Load(std::string(kMinimal) + "heartbeat_interval_seconds: sixty\n");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(OnlyProblem(r),
            "config.yaml:4:29: heartbeat_interval_seconds: \"sixty\" is not a number (5..3600 seconds)");
}

TEST(Problems, NumbersOutOfRangeOrNotWhole) {
  struct Case {
    const char* key;
    const char* value;
    const char* message;
  } cases[] = {
      {"heartbeat_interval_seconds", "4", "4 is out of range (5..3600 seconds)"},
      {"heartbeat_interval_seconds", "3601", "3601 is out of range (5..3600 seconds)"},
      {"heartbeat_interval_seconds", "-60", "-60 is out of range (5..3600 seconds)"},
      {"heartbeat_interval_seconds", "60.5", "\"60.5\" is not a whole number (5..3600 seconds)"},
      {"sync_interval_seconds", "0", "0 is out of range (1..86400 seconds)"},
      {"batch.max_records", "0", "0 is out of range (1..10000 records)"},
      {"batch.max_records", "10001", "10001 is out of range (1..10000 records)"},
      {"batch.max_bytes", "1023", "1023 is out of range (1024..67108864 bytes, 1 KiB..64 MiB)"},
      {"batch.max_bytes", "67108865", "67108865 is out of range (1024..67108864 bytes, 1 KiB..64 MiB)"},
      {"retry.initial_backoff_seconds", "0", "0 is out of range (more than 0, at most 86400 seconds)"},
      {"retry.max_backoff_seconds", "-1", "-1 is out of range (more than 0, at most 86400 seconds)"},
      {"http.connect_timeout_seconds", "0", "0 is out of range (more than 0, at most 3600 seconds)"},
      {"http.request_timeout_seconds", "nan", "\"nan\" is not a number (more than 0, at most 3600 seconds)"},
      {"log.max_size_mb", "0", "0 is out of range (1..10240 MB)"},
      {"log.max_files", "0", "0 is out of range (1..1000 files)"},
      {"outbox.max_size_mb", "0", "0 is out of range (1..1048576 MB)"},
      {"connector.settle_seconds", "-1", "-1 is out of range (0..3600 seconds)"},
      {"http.max_response_bytes", "10", "10 is out of range (1024..1073741824 bytes, 1 KiB..1 GiB)"},
      {"http.compression_level", "0", "0 is out of range (1..12, 1 fastest, 12 smallest)"},
      {"http.compression_level", "13", "13 is out of range (1..12, 1 fastest, 12 smallest)"},
      {"http.compression_level", "4.5", "\"4.5\" is not a whole number (1..12, 1 fastest, 12 smallest)"},
  };
  for (const Case& c : cases) {
    LoadResult r = Load(std::string(kMinimal) + YamlFor(c.key, c.value));
    EXPECT_FALSE(r.ok()) << c.key << "=" << c.value;
    ASSERT_EQ(r.problems.size(), 1u) << AllProblems(r);
    EXPECT_EQ(r.problems[0].key, c.key);
    EXPECT_EQ(r.problems[0].message, c.message);
    EXPECT_EQ(r.problems[0].line, std::string(c.key).find('.') == std::string::npos ? 4 : 5);
  }
}

TEST(Problems, NumbersAtTheBoundsAndQuotedAreAccepted) {
  LoadResult r = Load(std::string(kMinimal) +
                      "heartbeat_interval_seconds: \"5\"\nsync_interval_seconds: 1\nbatch:\n  max_records: 10000\n"
                      "  max_bytes: 67108864\nretry:\n  initial_backoff_seconds: 0.25\n  max_backoff_seconds: 0.25\n"
                      "connector:\n  settle_seconds: 0\nhttp:\n  compression_level: 12\n");
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->heartbeat_interval_seconds, 5u);
  EXPECT_EQ(r.config->http.compression_level, 12u);
  EXPECT_EQ(r.config->batch.max_records, 10000u);
  EXPECT_EQ(r.config->batch.max_bytes, 64u * 1024 * 1024);
  EXPECT_DOUBLE_EQ(r.config->retry.initial_backoff_seconds, 0.25);
  EXPECT_DOUBLE_EQ(r.config->connector.settle_seconds, 0);
}

TEST(Problems, BackoffInitialAboveMax) {
  LoadResult r = Load(std::string(kMinimal) + "retry:\n  initial_backoff_seconds: 500\n  max_backoff_seconds: 300\n");
  EXPECT_EQ(OnlyProblem(r),
            "config.yaml:5:28: retry.initial_backoff_seconds: 500 is more than retry.max_backoff_seconds (300)");
}

TEST(Problems, ChoicesAndTheirSpellings) {
  struct Case {
    const char* key;
    const char* value;
    const char* message;
  } bad[] = {
      {"log.format", "xml", "\"xml\" is not allowed (text or json)"},
      {"log_level", "verbose",
       "\"verbose\" is not allowed (trace, debug, info, warn, error, critical or off, in any case)"},
      {"http.compression", "brotli", "\"brotli\" is not allowed (gzip, none or auto)"},
      {"environment", "staging", "\"staging\" is not allowed (production or sandbox)"},
      {"connector.type", "sftp", "\"sftp\" is not allowed (csv_folder, the only connector built in)"},
      {"connector.delimiter", "'||'", "\"||\" is not allowed (auto, tab, or exactly one character such as , or ;)"},
      {"connector.delimiter", "'\"'", "\"\\\"\" cannot be a delimiter (it is a quote or a line end)"},
      {"connector.encoding", "ascii", "\"ascii\" is not allowed (auto, utf-8, windows-1252 or latin-1)"},
      {"connector.date_format", "YYYY/MM/DD", "\"YYYY/MM/DD\" is not allowed (YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY)"},
      {"status.allow_remote", "maybe", "\"maybe\" is not true or false"},
      {"sync_path", "api/sync", "\"api/sync\" is not a URL path (it must start with /, e.g. /api/v1/bridge/sync)"},
      {"outbox.path", "''", "\"\" is empty (a value is required)"},
  };
  for (const Case& c : bad) {
    LoadResult r = Load(std::string(kMinimal) + YamlFor(c.key, c.value));
    ASSERT_EQ(r.problems.size(), 1u) << c.key << ": " << AllProblems(r);
    EXPECT_EQ(r.problems[0].key, c.key);
    EXPECT_EQ(r.problems[0].message, c.message);
  }
  struct Good {
    const char* key;
    const char* value;
    const char* stored;
  } good[] = {
      {"log_level", "INFO", "info"},
      {"log_level", "Warning", "warn"},
      {"log_level", "DEBUG", "debug"},
      {"log.format", "JSON", "json"},
      {"environment", "Sandbox", "sandbox"},
      {"connector.delimiter", "';'", ";"},
      {"connector.delimiter", "tab", "\t"},
      {"connector.delimiter", "AUTO", "auto"},
      {"connector.encoding", "UTF8", "utf-8"},
      {"connector.encoding", "cp1252", "windows-1252"},
      {"connector.encoding", "ISO-8859-1", "latin-1"},
      {"connector.date_format", "dd/mm/yyyy", "DD/MM/YYYY"},
      {"status.allow_remote", "yes", "true"},
      {"heartbeat.include_status", "False", "false"},
  };
  for (const Good& g : good) {
    LoadResult r = Load(std::string(kMinimal) + YamlFor(g.key, g.value));
    ASSERT_TRUE(r.ok()) << g.key << ": " << AllProblems(r);
    EXPECT_EQ(Field(*r.config, g.key), g.stored) << g.key;
  }
}

TEST(Problems, WrongShapes) {
  LoadResult r =
      Load(std::string(kMinimal) + "heartbeat_interval_seconds: [60]\nlog: debug\nconnector:\n  type: {a: 1}\n");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(AllProblems(r),
            "config.yaml:4:29: heartbeat_interval_seconds: is a list; expected a single value\n"
            "config.yaml:5:6: log: is a value; expected a section of keys (file, max_size_mb, max_files, format)\n"
            "config.yaml:7:9: connector.type: is a mapping; expected a single value\n");
}

TEST(Problems, EmptyValueKeepsTheDefault) {
  LoadResult r =
      Load(std::string(kMinimal) + "log:\n  file:\n  format: ~\nstatus:\nheartbeat_interval_seconds: null\n");
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->log.format, "text");
  EXPECT_EQ(r.config->heartbeat_interval_seconds, 60u);
}

TEST(Problems, RequiredKeys) {
  LoadResult r = Load("environment: production\n");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(AllProblems(r),
            "config.yaml: server_url: not set (required: the https:// address of the OpesCare API)\n"
            "config.yaml: agent_id: not set (required; or set OPESCARE_AGENT_ID)\n"
            "config.yaml: facility_id: not set (required; or set OPESCARE_FACILITY_ID)\n");
}

TEST(Problems, SandboxDefaultsServerUrl) {
  LoadResult r = Load("environment: sandbox\nagent_id: a\nfacility_id: f\n");
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->server_url, "https://opescare.test");
  EXPECT_EQ(r.config->environment, "sandbox");
}

TEST(Problems, ServerUrlForms) {
  auto with_url = [](const std::string& url, const std::string& extra = "") {
    return Load("server_url: " + url + "\nagent_id: a\nfacility_id: f\n" + extra);
  };
  EXPECT_EQ(OnlyProblem(with_url("api.opescare.com")),
            "config.yaml:1:13: server_url: \"api.opescare.com\" is not an http(s) URL (expected "
            "https://host[:port][/base])");
  EXPECT_EQ(OnlyProblem(with_url("ftp://x")),
            "config.yaml:1:13: server_url: \"ftp://x\" is not an http(s) URL (expected https://host[:port][/base])");
  EXPECT_EQ(OnlyProblem(with_url("http://api.opescare.com")),
            "config.yaml:1:13: server_url: \"http://api.opescare.com\" sends the key unencrypted to a host that is "
            "not loopback; use https://, or set allow_insecure_http: true to accept the risk");
  for (const char* ok : {"http://127.0.0.1:8080", "http://localhost:8080/base", "http://[::1]:8080"}) {
    LoadResult r = with_url(ok);
    EXPECT_TRUE(r.ok()) << ok << ": " << AllProblems(r);
  }
  LoadResult insecure = with_url("http://test.example:8080", "allow_insecure_http: true\n");
  EXPECT_TRUE(insecure.ok()) << AllProblems(insecure);
  LoadResult slash = with_url("https://api.opescare.com/base/");
  ASSERT_TRUE(slash.ok());
  EXPECT_EQ(slash.config->server_url, "https://api.opescare.com/base");
}

TEST(Problems, StatusListen) {
  EXPECT_EQ(OnlyProblem(Load(std::string(kMinimal) + "status:\n  listen: 0.0.0.0:9469\n")),
            "config.yaml:5:11: status.listen: \"0.0.0.0:9469\" is not a loopback address; set status.allow_remote: "
            "true to serve the status page to the network");
  EXPECT_TRUE(Load(std::string(kMinimal) + "status:\n  listen: 0.0.0.0:9469\n  allow_remote: true\n").ok());
  EXPECT_TRUE(Load(std::string(kMinimal) + "status:\n  listen: \"\"\n").ok());
  EXPECT_TRUE(Load(std::string(kMinimal) + "status:\n  listen: \"[::1]:0\"\n").ok());
  EXPECT_EQ(OnlyProblem(Load(std::string(kMinimal) + "status:\n  listen: 9469\n")),
            "config.yaml:5:11: status.listen: \"9469\" is not host:port (e.g. 127.0.0.1:9469, [::1]:9469, or \"\" for "
            "off)");
}

TEST(Problems, MutualTlsFiles) {
  TempDir dir;
  std::string cert = dir.Write("client.pem", "pem");
  LoadResult r =
      Load(std::string(kMinimal) + "http:\n  client_cert: " + cert + "\n  ca_file: " + dir.path() + "/missing.pem\n");
  EXPECT_EQ(AllProblems(r),
            "config.yaml:5:16: http.client_cert: is set but http.client_key is not (mutual TLS needs "
            "both)\nconfig.yaml:6:12: http.ca_file: \"" +
                dir.path() + "/missing.pem\" does not exist\n");
  LoadResult dir_as_ca = Load(std::string(kMinimal) + "http:\n  ca_file: " + dir.path() + "\n");
  EXPECT_EQ(OnlyProblem(dir_as_ca),
            "config.yaml:5:12: http.ca_file: \"" + dir.path() + "\" is a directory; expected a PEM file");
}

TEST(Problems, InvalidYamlGivesItsPosition) {
  LoadResult r = Load("server_url: https://x\nconnector: {type: csv_folder\nagent_id: a\n");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.problems.size(), 1u) << AllProblems(r);
  EXPECT_EQ(r.problems[0].file, "config.yaml");
  EXPECT_GT(r.problems[0].line, 1);
  EXPECT_GT(r.problems[0].column, 0);
  EXPECT_EQ(r.problems[0].message.rfind("invalid YAML: ", 0), 0u) << r.problems[0].message;
  EXPECT_EQ(OnlyProblem(Load("a: b: c\n")), "config.yaml:1:5: invalid YAML: illegal map value");
}

TEST(Problems, DocumentShape) {
  EXPECT_EQ(OnlyProblem(Load("- a\n- b\n")),
            "config.yaml:1:1: the file is a list; expected a mapping of keys (key: value lines, or a JSON object)");
  LoadResult two = Load(std::string(kMinimal) + "---\nagent_id: b\n");
  EXPECT_EQ(OnlyProblem(two), "config.yaml:5:1: a second YAML document (after ---); the file must hold only one");
  LoadResult empty = Load("");
  EXPECT_FALSE(empty.ok());
  EXPECT_EQ(empty.problems.size(), 3u) << AllProblems(empty);  // the three required keys
}

TEST(Problems, DuplicateKeys) {
  EXPECT_EQ(OnlyProblem(Load(std::string(kMinimal) + "agent_id: other\n")),
            "config.yaml:4:1: agent_id: appears twice (first on line 2); keep one");
}

TEST(Problems, EveryProblemAtOnceInFileOrder) {
  const std::string yaml =
      "server_url: http://api.opescare.com\n"  // 1: plain http to a remote host
      "agent_id: a\n"
      "heartbeat_interval_seconds: sixty\n"  // 3: not a number
      "log_level: loud\n"                    // 4: not a level
      "connector:\n"
      "  typ: csv_folder\n"  // 6: unknown (warning)
      "  delimiter: ';;'\n"  // 7: not one character
      "batch:\n"
      "  max_records: 0\n";  // 9: out of range
  LoadResult r = Load(yaml, {});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(
      AllProblems(r),
      "config.yaml:1:13: server_url: \"http://api.opescare.com\" sends the key unencrypted to a host that is not "
      "loopback; use https://, or set allow_insecure_http: true to accept the risk\n"
      "config.yaml:3:29: heartbeat_interval_seconds: \"sixty\" is not a number (5..3600 seconds)\n"
      "config.yaml:4:12: log_level: \"loud\" is not allowed (trace, debug, info, warn, error, critical or off, in "
      "any case)\n"
      "config.yaml:6:3: connector.typ: unknown key (did you mean \"type\"?)\n"
      "config.yaml:7:14: connector.delimiter: \";;\" is not allowed (auto, tab, or exactly one character such as , "
      "or ;)\n"
      "config.yaml:9:16: batch.max_records: 0 is out of range (1..10000 records)\n"
      "config.yaml: facility_id: not set (required; or set OPESCARE_FACILITY_ID)\n"
      "agent key: not set (set OPESCARE_AGENT_KEY, agent_key_file, or agent_key)\n");
  EXPECT_EQ(r.problems[3].severity, Problem::Severity::kWarning);
  EXPECT_EQ(r.problems[0].severity, Problem::Severity::kError);
}

// ---- Unknown keys ------------------------------------------------------------------------------

TEST(UnknownKeys, WarnByDefaultWithSuggestion) {
  LoadResult r = Load(std::string(kMinimal) + "connector:\n  typ: csv_folder\n");
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].severity, Problem::Severity::kWarning);
  EXPECT_EQ(r.problems[0].ToString(), "config.yaml:5:3: connector.typ: unknown key (did you mean \"type\"?)");
}

TEST(UnknownKeys, ErrorsWhenStrict) {
  LoadResult r = LoadStrict(std::string(kMinimal) + "heartbeat_intervall_seconds: 60\n");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].severity, Problem::Severity::kError);
  EXPECT_EQ(r.problems[0].ToString(),
            "config.yaml:4:1: heartbeat_intervall_seconds: unknown key (did you mean \"heartbeat_interval_seconds\"?)");
}

TEST(UnknownKeys, SuggestionsAcrossSectionsAndLevels) {
  LoadResult r = Load(std::string(kMinimal) +
                      "watch_folder: /in\n"       // belongs in connector
                      "log:\n  level: debug\n"    // is log_level
                      "totally_new_feature: 1\n"  // no suggestion
                      "connector:\n  record_types:\n    invoices_: {type: invoice, requried: [a]}\n");
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(AllProblems(r),
            "config.yaml:4:1: watch_folder: unknown key (did you mean \"connector.watch_folder\"?)\n"
            "config.yaml:6:3: log.level: unknown key (did you mean \"log_level\"?)\n"
            "config.yaml:7:1: totally_new_feature: unknown key\n"
            "config.yaml:10:32: connector.record_types.invoices_.requried: unknown key (did you mean \"required\"?)\n");
}

// ---- Environment and precedence ----------------------------------------------------------------

TEST(Precedence, ExpansionInStringValues) {
  Env env = {{"OPESCARE_AGENT_KEY", kKey}, {"API_HOST", "api.example"}, {"IN", "/srv/in"}};
  LoadResult r = Load(
      "server_url: https://${API_HOST}:8443\nagent_id: ${AGENT:-agent-7}\nfacility_id: f\n"
      "heartbeat_interval_seconds: ${HB:-30}\nconnector:\n  watch_folder: ${IN}\n",
      env);
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->server_url, "https://api.example:8443");
  EXPECT_EQ(r.config->agent_id, "agent-7");
  EXPECT_EQ(r.config->heartbeat_interval_seconds, 30u);
  EXPECT_EQ(r.config->connector.watch_folder, "/srv/in");
}

TEST(Precedence, UnsetVariableIsAnErrorNamingIt) {
  LoadResult r = Load(std::string(kMinimal) + "connector:\n  watch_folder: /data/${SITE}/in\n");
  EXPECT_EQ(OnlyProblem(r),
            "config.yaml:5:17: connector.watch_folder: environment variable SITE is not set (set it, or write "
            "${SITE:-default})");
}

TEST(Precedence, EnvironmentOverridesFileAndFlagsOverrideBoth) {
  Env env = {{"OPESCARE_AGENT_KEY", kKey}, {"OPESCARE_AGENT_ID", "from-env"}, {"OPESCARE_FACILITY_ID", "fac-env"}};
  LoadResult r = Load(kMinimal, env);
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->agent_id, "from-env");
  EXPECT_EQ(r.config->facility_id, "fac-env");

  LoadOptions options;
  options.overrides = {{"agent_id", "from-flag"}, {"log_level", "DEBUG"}, {"connector.watch_folder", "/flag/in"}};
  r = Load(kMinimal, env, options);
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->agent_id, "from-flag");
  EXPECT_EQ(r.config->facility_id, "fac-env");
  EXPECT_EQ(r.config->log.level, "debug");
  EXPECT_EQ(r.config->connector.watch_folder, "/flag/in");
}

TEST(Precedence, EmptyEnvironmentVariableDoesNotOverride) {
  LoadResult r = Load(kMinimal, {{"OPESCARE_AGENT_KEY", kKey}, {"OPESCARE_AGENT_ID", ""}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->agent_id, "a1");
}

TEST(Precedence, EnvironmentAndFlagProblemsNameTheirSource) {
  LoadOptions options;
  options.overrides = {{"heartbeat_interval_seconds", "1"}, {"conector.type", "csv_folder"}};
  LoadResult r = Load("server_url: https://x.example\nagent_id: a\n",
                      {{"OPESCARE_AGENT_KEY", kKey}, {"OPESCARE_FACILITY_ID", ""}}, options);
  EXPECT_EQ(AllProblems(r),
            "conector.type: unknown key (did you mean \"connector.type\"?) (from command line)\n"
            "heartbeat_interval_seconds: 1 is out of range (5..3600 seconds) (from command line)\n"
            "config.yaml: facility_id: not set (required; or set OPESCARE_FACILITY_ID)\n");
  Env env = {{"OPESCARE_AGENT_KEY", kKey}, {"HTTPS_PROXY", "socks5://p:1080"}};
  EXPECT_EQ(OnlyProblem(Load(kMinimal, env)),
            "http.proxy: \"socks5://p:1080\" is not a proxy address (expected http://[user:pass@]host:port) (from "
            "environment HTTPS_PROXY)");
}

TEST(Precedence, KeyOnTheCommandLineIsRefusedWithoutEchoingIt) {
  LoadOptions options;
  options.overrides = {{"agent_key", "flag-secret-value"}};
  LoadResult r = Load(kMinimal, {{"OPESCARE_AGENT_KEY", kKey}}, options);
  EXPECT_FALSE(r.ok());
  std::string all = AllProblems(r);
  EXPECT_NE(all.find("agent_key: cannot be given on the command line"), std::string::npos) << all;
  EXPECT_EQ(all.find("flag-secret-value"), std::string::npos) << all;
}

TEST(Precedence, ProxyFromEnvironmentUnlessTheFileSetsOne) {
  Env env = {{"OPESCARE_AGENT_KEY", kKey}, {"https_proxy", "http://lower:3128"}, {"no_proxy", "localhost"}};
  LoadResult r = Load(kMinimal, env);
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->http.proxy, "http://lower:3128");
  EXPECT_EQ(r.config->http.no_proxy, "localhost");

  env["HTTPS_PROXY"] = "upper:8080";  // no scheme, as curl accepts
  env["NO_PROXY"] = ".internal";
  r = Load(kMinimal, env);
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->http.proxy, "http://upper:8080");
  EXPECT_EQ(r.config->http.no_proxy, ".internal");

  r = Load(std::string(kMinimal) + "http:\n  proxy: http://file-proxy:3128\n  no_proxy: a.b\n", env);
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->http.proxy, "http://file-proxy:3128");
  EXPECT_EQ(r.config->http.no_proxy, "a.b");
}

TEST(Precedence, ProxyPasswordIsASecret) {
  LoadResult r = Load(std::string(kMinimal) + "http:\n  proxy: https://user:hunter2@proxy:3128\n");
  std::string all = AllProblems(r);
  EXPECT_EQ(all,
            "config.yaml:5:10: http.proxy: \"https://***@proxy:3128\" is not a proxy address (expected "
            "http://[user:pass@]host:port)\n");
  r = Load(std::string(kMinimal) + "http:\n  proxy: http://user:hunter2@proxy:3128\n");
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(Secrets(*r.config), (std::vector<std::string>{kKey, "hunter2"}));
  std::string dump = DumpRedacted(*r.config);
  EXPECT_EQ(dump.find("hunter2"), std::string::npos) << dump;
  EXPECT_NE(dump.find("http://user:***@proxy:3128"), std::string::npos) << dump;
}

TEST(Precedence, RealEnvironmentIsUsedWithoutAnEnvMap) {
  ::setenv("OPESCARE_AGENT_KEY", "real-env-key-123456", 1);
  ::setenv("OB_CONFIG_TEST_FOLDER", "/real/env", 1);
  LoadResult r =
      LoadConfigString(std::string(kMinimal) + "connector:\n  watch_folder: ${OB_CONFIG_TEST_FOLDER}\n", "config.yaml");
  ::unsetenv("OPESCARE_AGENT_KEY");
  ::unsetenv("OB_CONFIG_TEST_FOLDER");
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->agent_key, "real-env-key-123456");
  EXPECT_EQ(r.config->connector.watch_folder, "/real/env");
}

// ---- Record types ------------------------------------------------------------------------------

TEST(RecordTypes, EntriesExtendAndReplaceDefaults) {
  LoadResult r = Load(std::string(kMinimal) +
                      "connector:\n  record_types:\n"
                      "    Invoices_: {type: Invoice, required: [Invoice No, total-amount]}\n"
                      "    patients_: {type: patient, required: [health_id]}\n"
                      "    vitals_: vital_sign\n");
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  const auto& types = r.config->connector.record_types;
  EXPECT_EQ(types.size(), 8u);
  EXPECT_EQ(types.at("invoices_").type, "invoice");
  EXPECT_EQ(types.at("invoices_").required, (std::vector<std::string>{"invoice_no", "total_amount"}));
  EXPECT_EQ(types.at("patients_").required, (std::vector<std::string>{"health_id"}));
  EXPECT_EQ(types.at("vitals_").type, "vital_sign");
  EXPECT_TRUE(types.at("vitals_").required.empty());
  EXPECT_EQ(types.at("encounters_").type, "encounter");
}

TEST(RecordTypes, ReplaceDefaults) {
  LoadResult r =
      Load(std::string(kMinimal) +
           "connector:\n  replace_default_record_types: true\n  record_types:\n    stock_: pharmacy_stock\n");
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  ASSERT_EQ(r.config->connector.record_types.size(), 1u);
  EXPECT_EQ(r.config->connector.record_types.at("stock_").type, "pharmacy_stock");
  EXPECT_EQ(OnlyProblem(Load(std::string(kMinimal) + "connector:\n  replace_default_record_types: true\n")),
            "config.yaml: connector.record_types: no record types left (replace_default_record_types is true but no "
            "entries are given)");
}

TEST(RecordTypes, BadEntries) {
  LoadResult r = Load(std::string(kMinimal) +
                      "connector:\n  record_types:\n"
                      "    a_: {required: [x]}\n"         // 6: no type
                      "    b_: {type: \"two words\"}\n"   // 7: bad type name
                      "    c_: {type: x, required: y}\n"  // 8: required not a list
                      "    d_: [x]\n"                     // 9: a list
                      "    A_: x\n");                     // 10: duplicate of a_ without case
  EXPECT_EQ(AllProblems(r),
            "config.yaml:6:9: connector.record_types.a_: has no type (write {type: ..., required: [...]})\n"
            "config.yaml:7:16: connector.record_types.b_.type: \"two words\" is not a record type name (lower-case "
            "letters, digits and _, e.g. lab_result)\n"
            "config.yaml:8:29: connector.record_types.c_.required: is a value; expected a list of column names, e.g. "
            "[health_id, date]\n"
            "config.yaml:9:9: connector.record_types.d_: is a list; expected {type: ..., required: [...]} or a type "
            "name\n"
            "config.yaml:10:5: connector.record_types.A_: appears twice (fragments are compared without case); keep "
            "one\n");
  EXPECT_EQ(OnlyProblem(Load(std::string(kMinimal) + "connector:\n  record_types: [a]\n")),
            "config.yaml:5:17: connector.record_types: is a list; expected a mapping of filename fragment to {type: "
            "..., required: [...]}");
}

// ---- Files -------------------------------------------------------------------------------------

TEST(Files, MissingDirectoryTooLarge) {
  TempDir dir;
  LoadResult missing = LoadConfigFile(dir.path() + "/nope.yaml");
  EXPECT_EQ(OnlyProblem(missing), dir.path() + "/nope.yaml: does not exist");
  EXPECT_EQ(OnlyProblem(LoadConfigFile(dir.path())), dir.path() + ": is a directory, not a file");
  std::string big = dir.Write("big.yaml", "# " + std::string(2 * 1024 * 1024, 'x') + "\n");
  EXPECT_EQ(OnlyProblem(LoadConfigFile(big)), big + ": is larger than 1048576 bytes");
}

TEST(Files, UnreadableFile) {
  TempDir dir;
  std::string path = dir.Write("secret.yaml", kMinimal, 0000);
  std::string out = testing::RunUnprivileged([&] { return AllProblems(LoadConfigFile(path)); });
  EXPECT_EQ(out, path + ": cannot be read: Permission denied (the agent's user needs read access)\n");
}

TEST(Files, GoodFileRecordsItsPath) {
  TempDir dir;
  std::string path = dir.Write("config.yaml", kMinimal);
  LoadOptions options;
  Env env = {{"OPESCARE_AGENT_KEY", kKey}};
  options.env = &env;
  LoadResult r = LoadConfigFile(path, options);
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->source_path, path);
}

// ---- The key never shows -----------------------------------------------------------------------

TEST(Secrecy, KeyNeverAppearsInMessages) {
  // The key pasted into the wrong places: every complaint must hide it.
  std::string key = kKey;
  LoadResult r = Load("server_url: " + key + "\nagent_id: a\nfacility_id: f\nheartbeat_interval_seconds: " + key +
                          "\nlog:\n  format: " + key + "\nagent_key: " + key + "\nstatus:\n  listen: " + key + "\n",
                      {});
  EXPECT_FALSE(r.ok());
  EXPECT_GE(r.problems.size(), 4u);
  std::string all = AllProblems(r);
  EXPECT_EQ(all.find(key), std::string::npos) << all;
  EXPECT_NE(all.find("\"***\""), std::string::npos) << all;
}

TEST(Secrecy, DumpShowsStarsAndLoadsBackToTheSameConfig) {
  LoadResult r =
      Load(std::string(kMinimal) +
           "log_level: DEBUG\nconnector:\n  delimiter: tab\n  watch_folder: /in put/$${literal}\n  record_types:\n"
           "    vitals_: {type: vital, required: [a, b]}\n");
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  std::string dump = DumpRedacted(*r.config);
  EXPECT_EQ(dump.find(kKey), std::string::npos) << dump;
  EXPECT_NE(dump.find("agent_key: \"***\"  # from environment OPESCARE_AGENT_KEY"), std::string::npos) << dump;

  LoadResult again = Load(dump, {{"OPESCARE_AGENT_KEY", kKey}});
  ASSERT_TRUE(again.ok()) << AllProblems(again) << dump;
  EXPECT_TRUE(again.problems.empty()) << AllProblems(again);
  for (const internal::FieldSpec* f : internal::Fields()) {
    std::string key(internal::FieldKey(*f));
    if (key == "agent_key") continue;
    if (key == "connector.processed_folder" || key == "connector.failed_folder") continue;  // printed resolved
    EXPECT_EQ(internal::GetField(*f, *again.config), internal::GetField(*f, *r.config)) << key;
  }
  EXPECT_EQ(again.config->ProcessedFolder(), r.config->ProcessedFolder());
  EXPECT_EQ(again.config->connector.watch_folder, "/in put/${literal}");
  EXPECT_EQ(again.config->connector.record_types.size(), r.config->connector.record_types.size());
  EXPECT_EQ(again.config->connector.record_types.at("vitals_").required, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace opescare::config
