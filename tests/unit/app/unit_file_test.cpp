// The unit reader behind doctor's service checks (agent/app/unit_file.h).
#include "agent/app/unit_checks.h"
#include "agent/app/unit_file.h"

#include <gtest/gtest.h>

namespace opescare::app {
namespace {

const char* kUnit = R"([Unit]
Description=x
ReadWritePaths=/not/service/section
[Service]
# LoadCredential=agent_key:/commented/out
LoadCredential=agent_key:/etc/opescare-bridge/agent.key
StateDirectory=opescare-bridge
LogsDirectory=opescare-bridge
ConfigurationDirectory=opescare-bridge
ReadWritePaths=-/var/spool/opescare-bridge
ProtectSystem=strict
)";

TEST(UnitFile, ReadsCredentialSourceAndWritablePaths) {
  UnitView u = ParseUnit({kUnit});
  EXPECT_EQ(CredentialSource(u, "agent_key"), "/etc/opescare-bridge/agent.key");
  EXPECT_EQ(CredentialSource(u, "other"), std::nullopt);
  EXPECT_TRUE(u.protect_system_strict);
  EXPECT_TRUE(WritableInUnit(u, "/var/spool/opescare-bridge"));
  EXPECT_TRUE(WritableInUnit(u, "/var/spool/opescare-bridge/processed/"));
  EXPECT_TRUE(WritableInUnit(u, "/var/lib/opescare-bridge"));
  EXPECT_TRUE(WritableInUnit(u, "/var/log/opescare-bridge"));
  // ConfigurationDirectory= is not writable under ProtectSystem=strict, nor a sibling sharing a prefix.
  EXPECT_FALSE(WritableInUnit(u, "/etc/opescare-bridge"));
  EXPECT_FALSE(WritableInUnit(u, "/var/spool/opescare-bridge-old"));
  EXPECT_FALSE(WritableInUnit(u, "/srv/exports"));
  EXPECT_FALSE(WritableInUnit(u, "/not/service/section"));
  EXPECT_FALSE(WritableInUnit(u, "/var/spool/opescare-bridge/../../../srv"));
}

TEST(UnitFile, DropInsAddToListsAndEmptyAssignmentClears) {
  UnitView added = ParseUnit({kUnit, "[Service]\nReadWritePaths=/srv/exports \"/srv/lab\"\n"});
  EXPECT_TRUE(WritableInUnit(added, "/srv/exports"));
  EXPECT_TRUE(WritableInUnit(added, "/srv/lab/in"));
  EXPECT_TRUE(WritableInUnit(added, "/var/spool/opescare-bridge"));

  UnitView cleared = ParseUnit({kUnit, "[Service]\nReadWritePaths=\nReadWritePaths=/srv/exports\n"});
  EXPECT_TRUE(WritableInUnit(cleared, "/srv/exports"));
  EXPECT_FALSE(WritableInUnit(cleared, "/var/spool/opescare-bridge"));
  EXPECT_TRUE(WritableInUnit(cleared, "/var/lib/opescare-bridge"));  // StateDirectory= untouched

  UnitView moved = ParseUnit({kUnit, "[Service]\nLoadCredential=agent_key:/root/key\n"});
  EXPECT_EQ(CredentialSource(moved, "agent_key"), "/root/key");
  UnitView none = ParseUnit({kUnit, "[Service]\nLoadCredential=\n"});
  EXPECT_EQ(CredentialSource(none, "agent_key"), std::nullopt);
}

TEST(UnitFile, ContinuationLinesAndNonStrictProtection) {
  UnitView u = ParseUnit({"[Service]\nProtectSystem=strict\nReadWritePaths=/a \\\n  /b\n"});
  EXPECT_TRUE(WritableInUnit(u, "/a"));
  EXPECT_TRUE(WritableInUnit(u, "/b/c"));
  EXPECT_FALSE(WritableInUnit(u, "/c"));
  UnitView relaxed = ParseUnit({kUnit, "[Service]\nProtectSystem=full\n"});
  EXPECT_TRUE(WritableInUnit(relaxed, "/srv/exports"));
}

TEST(UnitFile, FixNamesTheDropIn) {
  std::string fix = ReadWritePathsFix("/srv/exports");
  EXPECT_NE(fix.find("systemctl edit opescare-bridge"), std::string::npos);
  EXPECT_NE(fix.find("ReadWritePaths=/srv/exports"), std::string::npos);
}

}  // namespace
}  // namespace opescare::app

namespace opescare::app {
namespace {

TEST(UnitChecks, EachFolderPassesOrNamesItsDropIn) {
  UnitView u = ParseUnit({"[Service]\nProtectSystem=strict\nStateDirectory=opescare-bridge\n"
                          "ReadWritePaths=-/var/spool/opescare-bridge\n"});
  auto checks = WritablePathChecks(u, {{"outbox.path", "/var/lib/opescare-bridge"},
                                       {"connector.watch_folder", "/srv/exports"}});
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_TRUE(checks[0].pass);
  EXPECT_FALSE(checks[1].pass);
  EXPECT_NE(checks[1].detail.find("/srv/exports"), std::string::npos);
  EXPECT_NE(checks[1].fix.find("ReadWritePaths=/srv/exports"), std::string::npos);
}

}  // namespace
}  // namespace opescare::app
