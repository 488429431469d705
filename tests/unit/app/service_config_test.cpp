// Tests for the configuration `service install` writes from config.example.yaml.
#include "agent/app/service_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "agent/config/config.h"

namespace opescare::app {
namespace {

service::ServicePaths WindowsPaths() {
  const std::string base = "C:\\ProgramData\\OpesCare\\Bridge";
  return {base, base + "\\config.yaml", base + "\\data\\outbox.db", base + "\\incoming", base + "\\logs"};
}

std::string ReadExample() {
  std::ifstream in(std::string(OB_TEST_DATA_DIR) + "/../../config.example.yaml");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ServiceConfigFromExampleTest, TheRealExampleLoadsWithTheServicePaths) {
  const std::string example = ReadExample();
  ASSERT_GT(example.size(), 1000u);
  auto text = ServiceConfigFromExample(example, WindowsPaths());
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  // The key comes from the environment, as the example says; the paths must arrive as written.
  std::map<std::string, std::string> env = {{"OPESCARE_AGENT_KEY", "a-test-key-value"}};
  config::LoadOptions options;
  options.env = &env;
  const config::LoadResult loaded = config::LoadConfigString(*text, "service config.yaml", options);
  std::string problems;
  for (const auto& p : loaded.problems) problems += p.ToString() + "\n";
  ASSERT_NE(loaded.config, std::nullopt) << problems;
  EXPECT_EQ(loaded.config->outbox.path, "C:\\ProgramData\\OpesCare\\Bridge\\data\\outbox.db");
  EXPECT_EQ(loaded.config->connector.watch_folder, "C:\\ProgramData\\OpesCare\\Bridge\\incoming");
  EXPECT_EQ(loaded.config->log.file, "C:\\ProgramData\\OpesCare\\Bridge\\logs\\opescare-bridge.log");
  // Everything else is the example's: the same number of lines, comments kept.
  EXPECT_EQ(std::count(text->begin(), text->end(), '\n'), std::count(example.begin(), example.end(), '\n'));
  EXPECT_NE(text->find("# ---- Outbox"), std::string::npos);
}

TEST(ServiceConfigFromExampleTest, OnlyTheKeyInItsOwnSectionIsReplaced) {
  const std::string example =
      "log:\n  file: \"\"\noutbox:\n  path: ./x.db\nstatus:\n  path: /status\nconnector:\n  watch_folder: ./in\n";
  auto text = ServiceConfigFromExample(example, WindowsPaths());
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_NE(text->find("  path: /status\n"), std::string::npos);
  EXPECT_NE(text->find("  path: 'C:\\ProgramData\\OpesCare\\Bridge\\data\\outbox.db'\n"), std::string::npos);
}

TEST(ServiceConfigFromExampleTest, AQuoteInAPathIsDoubled) {
  service::ServicePaths paths = WindowsPaths();
  paths.watch_folder = "C:\\O'Brien\\in";
  auto text = ServiceConfigFromExample("log:\n  file: x\noutbox:\n  path: y\nconnector:\n  watch_folder: z\n", paths);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("  watch_folder: 'C:\\O''Brien\\in'\n"), std::string::npos);
}

TEST(ServiceConfigFromExampleTest, AMissingLineIsNamed) {
  auto text = ServiceConfigFromExample("log:\n  file: x\noutbox:\n  max_size_mb: 5\nconnector:\n  watch_folder: z\n",
                                       WindowsPaths());
  EXPECT_EQ(text.status().code(), Code::kInvalidArgument);
  EXPECT_NE(text.status().message().find("outbox.path"), std::string::npos);
}

}  // namespace
}  // namespace opescare::app
