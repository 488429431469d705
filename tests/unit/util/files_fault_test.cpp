// util/files' durable writes against injected disk faults (FaultEnv): each failure must leave the old file
// intact, no temporary behind, and a Status whose kind says what to do next.
#include "agent/util/files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/env/fault_env.h"

namespace opescare {
namespace {

using env::FaultEnv;

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class FilesFaultTest : public ::testing::Test {
 protected:
  FilesFaultTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("ob-files-fault-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "state.json").string();
    EXPECT_TRUE(WriteFileAtomic(path_, "old contents\n").ok());
  }
  ~FilesFaultTest() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string path_;
  FaultEnv fault_;
};

TEST_F(FilesFaultTest, AFailingSyncKeepsTheOldFileAndRemovesTheTemporary) {
  fault_.FailSync("state.json.tmp");
  Status s = WriteFileAtomic(path_, "new contents\n", 0600, fault_);
  EXPECT_EQ(s.code(), Code::kIoError) << s.ToString();
  EXPECT_NE(s.message().find("fsync failed"), std::string::npos) << s.message();
  EXPECT_EQ(fault_.faults_injected(), 1u);
  EXPECT_EQ(Slurp(path_), "old contents\n");  // never renamed over the good file
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(FilesFaultTest, AFullDiskIsResourceExhaustedAndKeepsTheOldFile) {
  fault_.FillDisk("state.json.tmp", 4);  // 4 bytes fit, then ENOSPC: a short write first
  Status s = WriteFileAtomic(path_, "new contents\n", 0600, fault_);
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  EXPECT_EQ(Slurp(path_), "old contents\n");
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
  fault_.Heal();
  EXPECT_TRUE(WriteFileAtomic(path_, "new contents\n", 0600, fault_).ok());
  EXPECT_EQ(Slurp(path_), "new contents\n");
}

TEST_F(FilesFaultTest, ARenameThatFailsHalfWayIsReportedNotSwallowed) {
  fault_.FailRename("state.json.tmp", FaultEnv::RenameFault::kAfter);
  Status s = WriteFileAtomic(path_, "new contents\n", 0600, fault_);
  EXPECT_EQ(s.code(), Code::kIoError) << s.ToString();
  // The rename did happen: the new file is whole (never a mix), and nothing is left behind.
  EXPECT_EQ(Slurp(path_), "new contents\n");
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(FilesFaultTest, RenameDurableReportsAFolderSyncThatFails) {
  std::filesystem::create_directories(dir_ / "to");
  std::ofstream(dir_ / "a.csv") << "x";
  fault_.FailSync((dir_ / "to").string());
  Status s = RenameDurable((dir_ / "a.csv").string(), (dir_ / "to" / "a.csv").string(), fault_);
  EXPECT_EQ(s.code(), Code::kIoError) << s.ToString();
  EXPECT_TRUE(std::filesystem::exists(dir_ / "to" / "a.csv"));  // moved, but not known to be durable
}

TEST_F(FilesFaultTest, APreallocationOnAFullDiskIsResourceExhaustedAndRemovesThePartialFile) {
  const std::string reserve = (dir_ / "outbox.db-reserve").string();
  fault_.FillDisk("-reserve");
  Status s = PreallocateFile(reserve, 1 << 20, fault_);
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(reserve));
  fault_.Heal();
  ASSERT_TRUE(PreallocateFile(reserve, 1 << 20, fault_).ok());
  EXPECT_GE(std::filesystem::file_size(reserve), 1u << 20);
}

}  // namespace
}  // namespace opescare
