// Tests for the agent key's sources and their order: environment, agent_key_file (with the permission
// check, on real files), the systemd credential, the inline value, and the placeholder.
#include <gtest/gtest.h>

#include "agent/config/config.h"
#include "agent/config/config_internal.h"
#include "tests/unit/config/test_support.h"

namespace opescare::config {
namespace {

using testing::AllProblems;
using testing::kKey;
using testing::TempDir;

using Env = std::map<std::string, std::string>;

const char kBase[] = "server_url: https://api.opescare.test\nagent_id: a1\nfacility_id: f1\n";

LoadResult Load(const std::string& extra, Env env) {
  LoadOptions options;
  options.env = &env;
  return LoadConfigString(std::string(kBase) + extra, "config.yaml", options);
}

TEST(KeySources, EnvironmentWinsOverFileAndInline) {
  TempDir dir;
  std::string file = dir.Write("key", "file-key-value\n", 0600);
  LoadResult r = Load("agent_key_file: " + file + "\nagent_key: inline-key-value\n", {{"OPESCARE_AGENT_KEY", kKey}});
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->agent_key, kKey);
  EXPECT_EQ(r.config->agent_key_source, "environment OPESCARE_AGENT_KEY");
}

TEST(KeySources, KeyFileStripsTrailingNewlines) {
  TempDir dir;
  for (const char* content : {"file-key-value\n", "file-key-value\r\n", "file-key-value", "file-key-value\n\n"}) {
    std::string file = dir.Write("key", content, 0600);
    LoadResult r = Load("agent_key_file: " + file + "\nagent_key: inline-key-value\n", {});
    ASSERT_TRUE(r.ok()) << AllProblems(r);
    EXPECT_EQ(r.config->agent_key, "file-key-value");
    EXPECT_EQ(r.config->agent_key_source, "file " + file);
    EXPECT_EQ(r.config->agent_key_file, file);
  }
}

TEST(KeySources, PlaceholderInEnvironmentCountsAsUnset) {
  TempDir dir;
  std::string file = dir.Write("key", "file-key-value\n", 0400);
  LoadResult r = Load("agent_key_file: " + file + "\n", {{"OPESCARE_AGENT_KEY", "SET_VIA_OPESCARE_AGENT_KEY_ENV_VAR"}});
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->agent_key, "file-key-value");
}

TEST(KeySources, KeyFileReadableByOthersIsRefusedWithTheChmod) {
  TempDir dir;
  for (unsigned mode : {0644u, 0640u, 0604u, 0660u, 0606u}) {
    std::string file = dir.Write("key", "file-key-value\n", mode);
    LoadResult r = Load("agent_key_file: " + file + "\n", {});
    EXPECT_FALSE(r.ok());
    ASSERT_EQ(r.problems.size(), 1u) << AllProblems(r);
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    EXPECT_EQ(r.problems[0].ToString(), "config.yaml:4:17: agent_key_file: \"" + file + "\" has mode " + octal +
                                            ", so other users can read the key; make it private: chmod 600 " + file);
    EXPECT_EQ(AllProblems(r).find("file-key-value"), std::string::npos);
  }
}

TEST(KeySources, ChmodCommandQuotesOddPaths) {
  TempDir dir;
  std::string file = dir.Write("my key's file", "file-key-value\n", 0644);
  LoadResult r = Load("agent_key_file: \"" + file + "\"\n", {});
  ASSERT_EQ(r.problems.size(), 1u) << AllProblems(r);
  std::string quoted = "'" + dir.path() + "/my key'\\''s file'";
  EXPECT_NE(r.problems[0].message.find("chmod 600 " + quoted), std::string::npos) << r.problems[0].message;
}

TEST(KeySources, KeyFileProblems) {
  TempDir dir;
  EXPECT_EQ(AllProblems(Load("agent_key_file: " + dir.path() + "/absent\n", {})),
            "config.yaml:4:17: agent_key_file: \"" + dir.path() + "/absent\" does not exist\n");
  std::string empty = dir.Write("empty", "\n", 0600);
  EXPECT_EQ(AllProblems(Load("agent_key_file: " + empty + "\n", {})),
            "config.yaml:4:17: agent_key_file: \"" + empty + "\" is empty (it must hold the agent key)\n");
  EXPECT_EQ(AllProblems(Load("agent_key_file: " + dir.path() + "\n", {})),
            "config.yaml:4:17: agent_key_file: \"" + dir.path() + "\" is a directory, not a file\n");
  // A key file given but broken is an error even though an inline key exists: the operator meant the file.
  EXPECT_FALSE(Load("agent_key_file: " + dir.path() + "/absent\nagent_key: inline-key-value\n", {}).ok());
}

TEST(KeySources, UnreadableKeyFile) {
  TempDir dir;
  std::string file = dir.Write("key", "file-key-value\n", 0600);  // owned by us: unreadable for nobody
  if (::geteuid() != 0) ::chmod(file.c_str(), 0000);
  std::string out = testing::RunUnprivileged([&] { return AllProblems(Load("agent_key_file: " + file + "\n", {})); });
  EXPECT_EQ(out, "config.yaml:4:17: agent_key_file: \"" + file + "\" cannot be read: Permission denied\n");
}

TEST(KeySources, SystemdCredential) {
  TempDir dir;
  dir.Write("agent_key", "cred-key-value\n", 0644);  // systemd keeps it private itself: no mode check
  LoadResult r = Load("agent_key: inline-key-value\n", {{"CREDENTIALS_DIRECTORY", dir.path()}});
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->agent_key, "cred-key-value");
  EXPECT_EQ(r.config->agent_key_source, "systemd credential " + dir.path() + "/agent_key");
}

TEST(KeySources, CredentialsDirectoryWithoutOurCredentialFallsThrough) {
  TempDir dir;
  dir.Write("other_credential", "x", 0600);
  LoadResult r = Load("agent_key: inline-key-value\n", {{"CREDENTIALS_DIRECTORY", dir.path()}});
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->agent_key, "inline-key-value");
  EXPECT_EQ(r.config->agent_key_source, "config file");
}

TEST(KeySources, KeyFileComesBeforeTheCredential) {
  TempDir dir;
  dir.Write("agent_key", "cred-key-value\n", 0600);
  std::string file = dir.Write("key", "file-key-value\n", 0600);
  LoadResult r = Load("agent_key_file: " + file + "\n", {{"CREDENTIALS_DIRECTORY", dir.path()}});
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->agent_key, "file-key-value");
}

TEST(KeySources, InlineKeyAndPlaceholder) {
  LoadResult r = Load("agent_key: inline-key-value\n", {});
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->agent_key, "inline-key-value");
  EXPECT_EQ(r.config->agent_key_source, "config file");

  for (const char* value : {"SET_VIA_OPESCARE_AGENT_KEY_ENV_VAR", "\"\""}) {
    LoadResult unset = Load(std::string("agent_key: ") + value + "\n", {{"OPESCARE_AGENT_KEY", ""}});
    EXPECT_FALSE(unset.ok());
    EXPECT_EQ(AllProblems(unset), "agent key: not set (set OPESCARE_AGENT_KEY, agent_key_file, or agent_key)\n");
  }
}

TEST(KeySources, InlineKeyFromAnEnvironmentReference) {
  LoadResult r = Load("agent_key: ${MY_SECRET}\n", {{"MY_SECRET", "expanded-key-value"}});
  ASSERT_TRUE(r.ok()) << AllProblems(r);
  EXPECT_EQ(r.config->agent_key, "expanded-key-value");
}

TEST(KeyFileModeProblem, WindowsNamesTheFileAndTheIcaclsFix) {
  // A key file whose access list lets Users read it reads as 0644 (agent/env/acl_mode.h).
  const std::string file = "C:\\ProgramData\\OpesCare\\Bridge\\agent.key";
  EXPECT_EQ(internal::KeyFileModeProblem(file, 0644, true),
            "\"" + file + "\" can be read by other users (its access list grants more than SYSTEM, Administrators "
            "and the owner); make it private: icacls \"" + file + "\" /inheritance:r /grant:r SYSTEM:F Administrators:F");
  EXPECT_EQ(internal::KeyFileModeProblem(file, 0600, true), "");
  EXPECT_EQ(internal::KeyFileModeProblem("/etc/k", 0640, false),
            "\"/etc/k\" has mode 0640, so other users can read the key; make it private: chmod 600 /etc/k");
}

}  // namespace
}  // namespace opescare::config
