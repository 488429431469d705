// The POSIX Env against the real filesystem: the error kinds env.h promises, and the inotify watcher.
#include "agent/env/env.h"

#include <gtest/gtest.h>
#include <unistd.h>  // close() of the watcher's descriptor (tests may include OS headers)

#include <filesystem>
#include <fstream>

#include "agent/env/fault_env.h"

namespace opescare::env {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  EnvTest() {
    dir_ = (std::filesystem::temp_directory_path() /
            ("ob-env-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~EnvTest() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& bytes) { std::ofstream(dir_ + "/" + name) << bytes; }

  Env& env_ = *Env::Default();
  std::string dir_;
};

TEST_F(EnvTest, ErrorsSayWhatToDoNext) {
  auto missing = env_.NewSequentialFile(dir_ + "/missing.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message().rfind(dir_ + "/missing.csv: cannot open: ", 0), 0u)
      << missing.status().message();

  Write("real.csv", "a\n");
  std::filesystem::create_symlink(dir_ + "/real.csv", dir_ + "/link.csv");
  EXPECT_EQ(env_.NewSequentialFile(dir_ + "/link.csv", /*follow_links=*/false).status().code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(env_.NewSequentialFile(dir_ + "/link.csv").ok());
  EXPECT_EQ(env_.NewWritableFile(dir_ + "/link.csv", OpenMode::kTruncate).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(env_.NewWritableFile(dir_ + "/real.csv", OpenMode::kExclusive).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(env_.RemoveFile(dir_ + "/missing.csv").code(), Code::kNotFound);
  EXPECT_EQ(env_.CreateDirs(dir_ + "/real.csv").code(), Code::kIoError);  // a file where a folder should be
}

TEST_F(EnvTest, StatTellsTypesAndListDirNamesEverything) {
  Write("a.csv", "12345");
  std::filesystem::create_directories(dir_ + "/sub");
  std::filesystem::create_symlink(dir_ + "/a.csv", dir_ + "/l.csv");
  auto a = env_.Stat(dir_ + "/a.csv");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->type, FileType::kRegular);
  EXPECT_EQ(a->size, 5u);
  EXPECT_EQ(env_.Stat(dir_ + "/sub")->type, FileType::kDirectory);
  EXPECT_EQ(env_.Stat(dir_ + "/l.csv", /*follow_links=*/false)->type, FileType::kSymlink);
  EXPECT_EQ(env_.Stat(dir_ + "/l.csv")->file_id, a->file_id);
  auto names = env_.ListDir(dir_);
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"a.csv", "l.csv", "sub"}));
  EXPECT_EQ(env_.ListDir(dir_ + "/nope").status().code(), Code::kNotFound);
  ASSERT_TRUE(env_.FreeSpace(dir_ + "/not-yet.db").ok());  // measured on its folder
  EXPECT_TRUE(*env_.CanWriteDir(dir_));
}

TEST_F(EnvTest, WritesAppendsAndCreatesFoldersWithParents) {
  {
    auto f = env_.NewWritableFile(dir_ + "/log.txt", OpenMode::kAppend, 0600);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("one\n").ok());
    ASSERT_TRUE((*f)->Sync().ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  auto again = env_.NewWritableFile(dir_ + "/log.txt", OpenMode::kAppend, 0600);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Append("two\n").ok());
  again->reset();
  EXPECT_EQ(env_.Stat(dir_ + "/log.txt")->size, 8u);
  EXPECT_EQ(env_.Stat(dir_ + "/log.txt")->mode, 0600u);
  ASSERT_TRUE(env_.CreateDirs(dir_ + "/x/y/z").ok());
  EXPECT_EQ(env_.Stat(dir_ + "/x/y/z")->type, FileType::kDirectory);
  EXPECT_TRUE(env_.SyncDir(dir_ + "/x/y").ok());
  EXPECT_EQ(ParentDir("/a"), "/");
  EXPECT_EQ(ParentDir("a"), ".");
  EXPECT_EQ(ParentDir("a/b/c.csv"), "a/b");
}

TEST_F(EnvTest, FaultEnvWritesWhatFitsThenSaysTheDiskIsFull) {
  FaultEnv fault;
  fault.FillDisk("full.bin", 3);
  auto f = fault.NewWritableFile(dir_ + "/full.bin", OpenMode::kTruncate, 0600);
  ASSERT_TRUE(f.ok());
  Status s = (*f)->Append("abcdef");
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  f->reset();
  EXPECT_EQ(env_.Stat(dir_ + "/full.bin")->size, 3u);  // a short write, as a real full disk gives
  EXPECT_EQ(fault.faults_injected(), 1u);
}

TEST_F(EnvTest, TheProcessAndTheMachineAreKnown) {
  EXPECT_FALSE(env_.HostName()->empty());
  auto exe = env_.ExecutablePath();
  ASSERT_TRUE(exe.ok());
  EXPECT_NE(exe->find("unit_env"), std::string::npos) << *exe;
  EXPECT_GT(env_.ProcessId(), 0);
  EXPECT_EQ(env_.ProbeTcpConnect("no-such-host.invalid", 443, std::chrono::milliseconds(2000)).code(),
            Code::kNotFound);
}

#if defined(__linux__)
TEST_F(EnvTest, TheWatcherNamesFilesWrittenAndWakesOnRequest) {
  auto w = env_.NewFolderWatcher(dir_);
  ASSERT_TRUE(w->Start().ok());
  int fd = w->NewWaitFd();
  EXPECT_GE(fd, 0);
  Write("lab_001.csv", "x\n");
  auto events = w->Wait(std::chrono::milliseconds(5000));
  ASSERT_TRUE(events.ok());
  EXPECT_NE(std::find(events->names.begin(), events->names.end(), "lab_001.csv"), events->names.end());
  w->Wake();
  auto woken = w->Wait(std::chrono::milliseconds(10000));  // returns at once, no events
  ASSERT_TRUE(woken.ok());
  EXPECT_TRUE(woken->names.empty());
  w->Stop();
  EXPECT_EQ(env_.NewFolderWatcher(dir_ + "/missing")->Start().code(), Code::kUnavailable);
  std::filesystem::remove(dir_ + "/lab_001.csv");
  if (fd >= 0) ::close(fd);
}
#endif

}  // namespace
}  // namespace opescare::env
