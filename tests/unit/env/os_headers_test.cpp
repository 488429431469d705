// The rule of ARCHITECTURE.md "Components": no file of agent/ outside agent/env includes an OS header. The
// test reads every source of agent/ and names each file and line that breaks it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

// True when line includes a header of the operating system (POSIX, Linux or Windows) rather than of C++.
bool IncludesOsHeader(const std::string& line) {
  static const std::regex kOsInclude(
      R"(^\s*#\s*include\s*<(unistd\.h|fcntl\.h|sys/|dirent\.h|poll\.h|signal\.h|pwd\.h|grp\.h|netdb\.h|arpa/|)"
      R"(netinet/|termios\.h|windows\.h|winsock2?\.h|ws2tcpip\.h|aclapi\.h|shlobj\.h|io\.h|direct\.h)[^>]*>)",
      std::regex::icase);
  return std::regex_search(line, kOsInclude);
}

TEST(OsHeaders, TheRuleRecognisesOsHeadersAndOnlyThem) {
  EXPECT_TRUE(IncludesOsHeader("#include <unistd.h>"));
  EXPECT_TRUE(IncludesOsHeader("  #  include <sys/inotify.h>"));
  EXPECT_TRUE(IncludesOsHeader("#include <Windows.h>"));
  EXPECT_TRUE(IncludesOsHeader("#include <netinet/in.h>"));
  EXPECT_FALSE(IncludesOsHeader("#include <csignal>"));
  EXPECT_FALSE(IncludesOsHeader("#include <filesystem>"));
  EXPECT_FALSE(IncludesOsHeader("#include \"agent/env/env.h\""));
  EXPECT_FALSE(IncludesOsHeader("// #include <unistd.h> is only in agent/env"));
}

TEST(OsHeaders, NoFileOfAgentOutsideEnvIncludesOne) {
  const std::filesystem::path agent = std::filesystem::path(OB_TEST_DATA_DIR) / ".." / ".." / "agent";
  ASSERT_TRUE(std::filesystem::is_directory(agent / "env")) << agent;
  std::vector<std::string> offenders;
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(agent)) {
    const std::filesystem::path& p = entry.path();
    if (!entry.is_regular_file() || (p.extension() != ".h" && p.extension() != ".cpp")) continue;
    const std::string rel = std::filesystem::relative(p, agent).generic_string();
    if (rel.rfind("env/", 0) == 0) continue;
    ++files;
    std::ifstream in(p);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
      if (IncludesOsHeader(line)) offenders.push_back("agent/" + rel + ":" + std::to_string(n) + ": " + line);
  }
  EXPECT_GT(files, 50u);  // the walk found the sources
  std::string report;
  for (const std::string& o : offenders) report += "\n  " + o;
  EXPECT_TRUE(offenders.empty()) << "OS headers outside agent/env (move the OS calls behind agent/env/env.h):"
                                 << report;
}

}  // namespace
