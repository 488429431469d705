// The installer's settings written into the packaged template: what the loader reads back is exactly what
// was given (quotes, backslashes of Windows paths, a literal "${"), every comment survives, and a template
// or value that cannot be used is refused naming the setting.
#include "agent/app/install_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "agent/config/config.h"

namespace opescare::app {
namespace {

namespace fs = std::filesystem;

std::string ExampleConfig() {
  std::ifstream in(fs::path(OB_TEST_DATA_DIR) / ".." / ".." / "config.example.yaml", std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t CountComments(const std::string& text) {
  size_t n = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) n += line.find('#') != std::string::npos;
  return n;
}

config::LoadResult Load(const std::string& text) {
  std::map<std::string, std::string> env = {{"OPESCARE_AGENT_KEY", "k3y-S3cret-value-0123456789"}};
  config::LoadOptions options;
  options.env = &env;
  return config::LoadConfigString(text, "config.yaml", options);
}

std::string Problems(const config::LoadResult& r) {
  std::string all;
  for (const auto& p : r.problems) all += p.ToString() + "\n";
  return all;
}

TEST(InstallConfig, TheLoaderReadsBackEverySettingGiven) {
  std::string tmpl = ExampleConfig();
  ASSERT_FALSE(tmpl.empty()) << "config.example.yaml not found";
  // A key file name with the characters that need quoting: a quote, backslashes and a literal "${".
  fs::path dir = fs::temp_directory_path() / "ob-install-config";
  fs::create_directories(dir);
#ifdef _WIN32
  fs::path key = dir / "agent key ${NOT_A_VAR}.txt";  // no '"' in Windows names; the folders' '\\' are tested
#else
  fs::path key = dir / "agent \"key\" \\ ${NOT_A_VAR}.txt";
#endif
  std::ofstream(key, std::ios::binary) << "k3y-S3cret-value-0123456789\n";
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);

  InstallSettings s{"https://clinic-gw.opescare.test:8443", "lab-agent-7", "6f0c1e0e-2b53-4c36-9e7a-1f1d2a3b4c5d",
                    key.string()};
  Result<std::string> text = RenderInstallConfig(tmpl, s);
  ASSERT_TRUE(text.ok()) << text.status().message();
  config::LoadResult r = Load(*text);
  ASSERT_TRUE(r.ok()) << Problems(r);
  EXPECT_EQ(r.config->server_url, s.server_url);
  EXPECT_EQ(r.config->agent_id, s.agent_id);
  EXPECT_EQ(r.config->facility_id, s.facility_id);
  EXPECT_EQ(r.config->agent_key_file, s.agent_key_file);
  EXPECT_EQ(CountComments(*text), CountComments(tmpl));
  fs::remove_all(dir);
}

TEST(InstallConfig, WindowsPathsKeepTheirBackslashes) {
  EXPECT_EQ(QuoteConfigValue("C:\\ProgramData\\OpesCare\\Bridge\\agent.key"),
            "\"C:\\\\ProgramData\\\\OpesCare\\\\Bridge\\\\agent.key\"");
  EXPECT_EQ(QuoteConfigValue("a${B}c"), "\"a$${B}c\"");
  EXPECT_EQ(QuoteConfigValue("$5 ${"), "\"$5 $${\"");
}

TEST(InstallConfig, NoSettingsLeavesTheTemplateAsItIs) {
  std::string tmpl = ExampleConfig();
  Result<std::string> text = RenderInstallConfig(tmpl, InstallSettings{});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, tmpl);
  InstallSettings only_id;
  only_id.agent_id = "lab-agent-7";
  text = RenderInstallConfig(tmpl, only_id);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("\nagent_id: \"lab-agent-7\"\n"), std::string::npos);
  EXPECT_NE(text->find("\nserver_url: \"${OPESCARE_SERVER_URL:-https://api.opescare.com}\"\n"), std::string::npos);
}

TEST(InstallConfig, OnlyTopLevelKeysAreReplaced) {
  std::string tmpl = "# agent_id: in a comment\nproxy:\n  agent_id: nested\nagent_id: old\nagent_idx: other\n";
  InstallSettings s;
  s.agent_id = "new";
  Result<std::string> text = RenderInstallConfig(tmpl, s);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "# agent_id: in a comment\nproxy:\n  agent_id: nested\nagent_id: \"new\"\nagent_idx: other\n");
}

TEST(InstallConfig, ATemplateWithoutTheKeyIsRefusedNamingIt) {
  InstallSettings s;
  s.facility_id = "f1";
  Result<std::string> text = RenderInstallConfig("server_url: x\nagent_id: y\n", s);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), Code::kInvalidArgument);
  EXPECT_NE(text.status().message().find("'facility_id:'"), std::string::npos) << text.status().message();
}

TEST(InstallConfig, AValueWithALineBreakIsRefusedNamingTheSetting) {
  InstallSettings s;
  s.server_url = "https://a.test\nagent_key: stolen";
  Result<std::string> text = RenderInstallConfig(ExampleConfig(), s);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(text.status().message().rfind("server_url: ", 0), 0u) << text.status().message();
}

TEST(CheckedInstallConfig, AKeyFileThatComesLaterIsNoErrorButABadSettingIs) {
  InstallSettings s{"https://gw.opescare.test", "lab-agent-7", "6f0c1e0e-2b53-4c36-9e7a-1f1d2a3b4c5d",
                    (fs::temp_directory_path() / "ob-no-such-dir" / "agent.key").string()};
  Result<std::string> text = CheckedInstallConfig(ExampleConfig(), s, "config.yaml");
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_NE(text->find("\nagent_id: \"lab-agent-7\"\n"), std::string::npos);

  s.server_url = "ftp://gw.opescare.test";
  text = CheckedInstallConfig(ExampleConfig(), s, "config.yaml");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), Code::kInvalidArgument);
  EXPECT_NE(text.status().message().find("config.yaml:"), std::string::npos) << text.status().message();
  EXPECT_NE(text.status().message().find("server_url"), std::string::npos) << text.status().message();
}

TEST(WriteConfigOnce, WritesOnceAndNeverOverAnExistingConfig) {
  fs::path dir = fs::temp_directory_path() / "ob-write-config-once";
  fs::remove_all(dir);
  std::string config = (dir / "Bridge" / "config.yaml").string();
  Result<bool> wrote = WriteConfigOnce(config, "agent_id: first\n");
  ASSERT_TRUE(wrote.ok()) << wrote.status().message();
  EXPECT_TRUE(*wrote);
  wrote = WriteConfigOnce(config, "agent_id: second\n");
  ASSERT_TRUE(wrote.ok()) << wrote.status().message();
  EXPECT_FALSE(*wrote);
  {
    std::ifstream in(config, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), "agent_id: first\n");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace opescare::app
