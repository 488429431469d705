// Env::Default() against the real filesystem, on every platform (POSIX, and Windows under wine): the error
// kinds and messages env.h promises, and what files, folders and the watcher do. POSIX-only behaviour
// (symbolic links, modes, the inotify descriptor) is in env_posix_test.cpp.
#include "agent/env/env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace opescare::env {
namespace {

class PortableEnvTest : public ::testing::Test {
 protected:
  PortableEnvTest() {
    dir_ = (std::filesystem::temp_directory_path() /
            ("ob-env-portable-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~PortableEnvTest() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << bytes;
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

  Env& env_ = *Env::Default();
  std::string dir_;
};

TEST_F(PortableEnvTest, ErrorsHaveTheKindAndSayWhereAndWhat) {
  auto missing = env_.NewSequentialFile(dir_ + "/missing.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_TRUE(StartsWith(missing.status().message(), dir_ + "/missing.csv: cannot open: "))
      << missing.status().message();
  EXPECT_EQ(env_.NewSequentialFile(dir_ + "/no-folder/x.csv").status().code(), Code::kNotFound);

  Write("real.csv", "a\n");
  Status exists = env_.NewWritableFile(dir_ + "/real.csv", OpenMode::kExclusive).status();
  EXPECT_EQ(exists.code(), Code::kInvalidArgument);
  EXPECT_TRUE(StartsWith(exists.message(), dir_ + "/real.csv: cannot create: ")) << exists.message();

  Status gone = env_.RemoveFile(dir_ + "/missing.csv");
  EXPECT_EQ(gone.code(), Code::kNotFound);
  EXPECT_TRUE(StartsWith(gone.message(), dir_ + "/missing.csv: cannot remove: ")) << gone.message();
  EXPECT_EQ(env_.Stat(dir_ + "/missing.csv").status().code(), Code::kNotFound);
  Status not_folder = env_.CreateDirs(dir_ + "/real.csv");
  EXPECT_EQ(not_folder.code(), Code::kIoError);
  EXPECT_EQ(not_folder.message(), dir_ + "/real.csv: exists but is not a folder");
  Status moved = env_.RenameFile(dir_ + "/missing.csv", dir_ + "/b.csv");
  EXPECT_EQ(moved.code(), Code::kNotFound);
  EXPECT_TRUE(StartsWith(moved.message(), dir_ + "/missing.csv: cannot move to " + dir_ + "/b.csv: "))
      << moved.message();
}

TEST_F(PortableEnvTest, WritesTruncateAppendAndRenameReplaces) {
  {
    auto f = env_.NewWritableFile(dir_ + "/log.txt", OpenMode::kTruncate);
    ASSERT_TRUE(f.ok()) << f.status().message();
    ASSERT_TRUE((*f)->Append("one\n").ok());
    ASSERT_TRUE((*f)->Sync().ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  {
    auto f = env_.NewWritableFile(dir_ + "/log.txt", OpenMode::kAppend);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("two\n").ok());
  }
  EXPECT_EQ(Read("log.txt"), "one\ntwo\n");
  {
    auto f = env_.NewWritableFile(dir_ + "/log.txt", OpenMode::kTruncate);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("3").ok());
  }
  EXPECT_EQ(Read("log.txt"), "3");

  Write("new.txt", "fresh");
  ASSERT_TRUE(env_.RenameFile(dir_ + "/new.txt", dir_ + "/log.txt").ok());  // replaces
  EXPECT_EQ(Read("log.txt"), "fresh");
  EXPECT_EQ(env_.Stat(dir_ + "/new.txt").status().code(), Code::kNotFound);
  EXPECT_TRUE(env_.SyncDir(dir_).ok());
  ASSERT_TRUE(env_.RemoveFile(dir_ + "/log.txt").ok());
  EXPECT_EQ(env_.Stat(dir_ + "/log.txt").status().code(), Code::kNotFound);
}

TEST_F(PortableEnvTest, AllocateGrowsTheFileAndLeavesTheWritePosition) {
  auto f = env_.NewWritableFile(dir_ + "/reserve.bin", OpenMode::kTruncate);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Allocate(4096).ok());
  ASSERT_TRUE((*f)->Append("ab").ok());
  ASSERT_TRUE((*f)->Close().ok());
  std::string bytes = Read("reserve.bin");
  ASSERT_EQ(bytes.size(), 4096u);
  EXPECT_EQ(bytes.substr(0, 3), std::string("ab\0", 3));
  EXPECT_EQ(env_.Stat(dir_ + "/reserve.bin")->size, 4096u);
}

TEST_F(PortableEnvTest, ReadsSequentiallyAndRewinds) {
  Write("a.csv", "hello");
  auto f = env_.NewSequentialFile(dir_ + "/a.csv", /*follow_links=*/false);
  ASSERT_TRUE(f.ok()) << f.status().message();
  char buf[16];
  auto n = (*f)->Read(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "hello");
  EXPECT_EQ(*(*f)->Read(buf, sizeof buf), 0u);  // the end
  ASSERT_TRUE((*f)->Rewind().ok());
  EXPECT_EQ(*(*f)->Read(buf, 2), 2u);
}

TEST_F(PortableEnvTest, StatListAndFolders) {
  Write("a.csv", "12345");
  Write("b.csv", "1");
  ASSERT_TRUE(env_.CreateDirs(dir_ + "/sub/x/y").ok());
  auto a = env_.Stat(dir_ + "/a.csv");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->type, FileType::kRegular);
  EXPECT_EQ(a->size, 5u);
  EXPECT_EQ((a->mode & 0600u), 0600u);
  EXPECT_EQ(env_.Stat(dir_ + "/a.csv", /*follow_links=*/false)->file_id, a->file_id);
  EXPECT_NE(env_.Stat(dir_ + "/b.csv")->file_id, a->file_id);
  EXPECT_EQ(env_.Stat(dir_ + "/sub/x/y")->type, FileType::kDirectory);
  EXPECT_GT(a->modified.time_since_epoch().count(), 0);

  auto names = env_.ListDir(dir_);
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"a.csv", "b.csv", "sub"}));
  EXPECT_TRUE(env_.ListDir(dir_ + "/sub/x/y")->empty());
  EXPECT_EQ(env_.ListDir(dir_ + "/nope").status().code(), Code::kNotFound);

  auto free_here = env_.FreeSpace(dir_ + "/not-yet.db");  // measured on its folder
  ASSERT_TRUE(free_here.ok()) << free_here.status().message();
  EXPECT_GT(*free_here, 0u);
  EXPECT_TRUE(*env_.CanWriteDir(dir_));
  EXPECT_EQ(*names, (std::vector<std::string>{"a.csv", "b.csv", "sub"}));  // the write test left nothing
  EXPECT_EQ(env_.ListDir(dir_)->size(), 3u);
}

TEST_F(PortableEnvTest, TheWatcherWakesOnAFileAndOnRequest) {
  EXPECT_EQ(env_.NewFolderWatcher(dir_ + "/missing")->Start().code(), Code::kUnavailable);
  auto w = env_.NewFolderWatcher(dir_);
  ASSERT_TRUE(w->Start().ok());
  Write("lab_001.csv", "x\n");
  auto events = w->Wait(std::chrono::milliseconds(10000));
  ASSERT_TRUE(events.ok()) << events.status().message();
  const bool named =
      std::find(events->names.begin(), events->names.end(), "lab_001.csv") != events->names.end();
  EXPECT_TRUE(named || events->rescan);  // inotify names it; ReadDirectoryChangesW says "look"
  (void)w->Drain();                      // what else the write caused
  w->Wake();
  auto woken = w->Wait(std::chrono::milliseconds(10000));  // returns at once, no events
  ASSERT_TRUE(woken.ok());
  EXPECT_TRUE(woken->names.empty());
  w->Stop();
}

TEST_F(PortableEnvTest, TheProcessAndTheMachineAreKnown) {
  auto host = env_.HostName();
  ASSERT_TRUE(host.ok()) << host.status().message();
  EXPECT_FALSE(host->empty());
  auto exe = env_.ExecutablePath();
  ASSERT_TRUE(exe.ok()) << exe.status().message();
  EXPECT_NE(exe->find("unit_env"), std::string::npos) << *exe;
  EXPECT_GT(env_.ProcessId(), 0);
  Status unknown = env_.ProbeTcpConnect("no-such-host.invalid", 443, std::chrono::milliseconds(2000));
  EXPECT_EQ(unknown.code(), Code::kNotFound) << unknown.message();
  EXPECT_FALSE(unknown.message().empty());
}

}  // namespace
}  // namespace opescare::env
