// Tests for the Notifier: the sd_notify messages, the watchdog environment, and real datagrams
// received on filesystem and abstract AF_UNIX sockets.
#include "agent/service/notifier.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace opescare::service {
namespace {

using std::chrono::microseconds;

// A datagram socket standing in for systemd's notify socket.
class Listener {
 public:
  // path: "/..." binds a file, "@..." an abstract name.
  explicit Listener(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@') addr.sun_path[0] = '\0';
    const socklen_t len =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1));
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
    timeval tv{5, 0};  // a broken sender fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~Listener() {
    ::close(fd_);
    if (path_[0] == '/') ::unlink(path_.c_str());
  }
  bool bound() const { return bound_; }
  std::string Receive() {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n < 0 ? "<nothing>" : std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

std::string TempSocketPath(const char* name) {
  // Short: sun_path holds 108 bytes.
  return "/tmp/ob-notify-" + std::to_string(::getpid()) + "-" + name;
}

TEST(ParseWatchdogTimeoutTest, ReadsMicrosecondsForThisProcess) {
  EXPECT_EQ(ParseWatchdogTimeout("30000000", nullptr, 42), microseconds(30000000));
  EXPECT_EQ(ParseWatchdogTimeout("30000000", "42", 42), microseconds(30000000));
}

TEST(ParseWatchdogTimeoutTest, OffWhenMeantForAnotherProcessOrMalformed) {
  EXPECT_EQ(ParseWatchdogTimeout("30000000", "41", 42), std::nullopt);
  EXPECT_EQ(ParseWatchdogTimeout("30000000", "x", 42), std::nullopt);
  EXPECT_EQ(ParseWatchdogTimeout(nullptr, nullptr, 42), std::nullopt);
  EXPECT_EQ(ParseWatchdogTimeout("", nullptr, 42), std::nullopt);
  EXPECT_EQ(ParseWatchdogTimeout("0", nullptr, 42), std::nullopt);
  EXPECT_EQ(ParseWatchdogTimeout("30s", nullptr, 42), std::nullopt);
  EXPECT_EQ(ParseWatchdogTimeout("-5", nullptr, 42), std::nullopt);
  EXPECT_EQ(ParseWatchdogTimeout("99999999999999999999999", nullptr, 42), std::nullopt);
}

TEST(StatusMessageTest, OneLineAndBounded) {
  EXPECT_EQ(StatusMessage("connected, 3 queued"), "STATUS=connected, 3 queued");
  // A newline would let the text smuggle in another assignment such as READY=1.
  EXPECT_EQ(StatusMessage("a\nREADY=1\r\t"), "STATUS=a READY=1  ");
  EXPECT_EQ(StatusMessage(std::string(2000, 'x')).size(), std::string("STATUS=").size() + 512);
}

TEST(ReloadingMessageTest, CarriesMonotonicTime) {
  EXPECT_EQ(ReloadingMessage(microseconds(123456789)), "RELOADING=1\nMONOTONIC_USEC=123456789");
}

TEST(NotifierTest, DisabledNotifierSucceedsSilently) {
  Notifier n;
  EXPECT_FALSE(n.enabled());
  EXPECT_TRUE(n.Ready().ok());
  EXPECT_TRUE(n.Watchdog().ok());
  EXPECT_EQ(n.watchdog_ping_interval(), std::nullopt);
}

TEST(NotifierTest, SendsEachMessageToAFilesystemSocket) {
  const std::string path = TempSocketPath("fs");
  Listener listener(path);
  ASSERT_TRUE(listener.bound());
  auto n = Notifier::Open(path, microseconds(30000000));
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->watchdog_ping_interval(), microseconds(15000000));

  ASSERT_TRUE(n->Ready().ok());
  EXPECT_EQ(listener.Receive(), "READY=1");
  ASSERT_TRUE(n->SetStatus("connected; 0 queued").ok());
  EXPECT_EQ(listener.Receive(), "STATUS=connected; 0 queued");
  ASSERT_TRUE(n->Watchdog().ok());
  EXPECT_EQ(listener.Receive(), "WATCHDOG=1");
  ASSERT_TRUE(n->Reloading().ok());
  const std::string reloading = listener.Receive();
  EXPECT_EQ(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << reloading;
  EXPECT_GT(std::stoll(reloading.substr(reloading.find('=', 12) + 1)), 0);
  ASSERT_TRUE(n->Reloaded().ok());
  EXPECT_EQ(listener.Receive(), "READY=1");
  ASSERT_TRUE(n->Stopping().ok());
  EXPECT_EQ(listener.Receive(), "STOPPING=1");
}

TEST(NotifierTest, SendsToAnAbstractSocket) {
  const std::string name = "@ob-notify-test-" + std::to_string(::getpid());
  Listener listener(name);
  ASSERT_TRUE(listener.bound());
  auto n = Notifier::Open(name, std::nullopt);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  ASSERT_TRUE(n->Ready().ok());
  EXPECT_EQ(listener.Receive(), "READY=1");
}

TEST(NotifierTest, NeverBlocksWhenTheManagerStopsReading) {
  const std::string path = TempSocketPath("full");
  Listener listener(path);
  ASSERT_TRUE(listener.bound());
  auto n = Notifier::Open(path, std::nullopt);
  ASSERT_TRUE(n.ok());
  // A unix datagram queue holds few messages; a blocking sender would hang here instead.
  Status last;
  for (int i = 0; i < 10000 && last.ok(); ++i) last = n->Watchdog();
  EXPECT_EQ(last.code(), Code::kUnavailable) << last.ToString();
  EXPECT_EQ(listener.Receive(), "WATCHDOG=1");
}

TEST(NotifierTest, ReportsAMissingSocketAsAnError) {
  auto n = Notifier::Open(TempSocketPath("absent"), std::nullopt);
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->Ready().ok());
}

TEST(NotifierTest, RefusesRelativeAndOverlongAddresses) {
  EXPECT_EQ(Notifier::Open("relative/socket", std::nullopt).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Notifier::Open("/" + std::string(200, 'a'), std::nullopt).status().code(), Code::kInvalidArgument);
}

// setenv/unsetenv around one test; the variables are restored afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(NotifierFromEnvironmentTest, DisabledWithoutNotifySocket) {
  ScopedEnv socket("NOTIFY_SOCKET", nullptr);
  Notifier n = Notifier::FromEnvironment();
  EXPECT_FALSE(n.enabled());
  EXPECT_TRUE(n.open_error().ok());
}

TEST(NotifierFromEnvironmentTest, ReadsSocketAndWatchdogForThisProcess) {
  const std::string path = TempSocketPath("env");
  Listener listener(path);
  ASSERT_TRUE(listener.bound());
  const std::string pid = std::to_string(::getpid());
  ScopedEnv socket("NOTIFY_SOCKET", path.c_str());
  ScopedEnv usec("WATCHDOG_USEC", "20000000");
  ScopedEnv wpid("WATCHDOG_PID", pid.c_str());
  Notifier n = Notifier::FromEnvironment();
  ASSERT_TRUE(n.enabled()) << n.open_error().ToString();
  EXPECT_EQ(n.watchdog_timeout(), microseconds(20000000));
  EXPECT_EQ(n.watchdog_ping_interval(), microseconds(10000000));
  ASSERT_TRUE(n.Watchdog().ok());
  EXPECT_EQ(listener.Receive(), "WATCHDOG=1");
}

TEST(NotifierFromEnvironmentTest, WatchdogOffForAnotherPid) {
  const std::string path = TempSocketPath("env2");
  Listener listener(path);
  ScopedEnv socket("NOTIFY_SOCKET", path.c_str());
  ScopedEnv usec("WATCHDOG_USEC", "20000000");
  ScopedEnv wpid("WATCHDOG_PID", "1");
  Notifier n = Notifier::FromEnvironment();
  EXPECT_TRUE(n.enabled());
  EXPECT_EQ(n.watchdog_ping_interval(), std::nullopt);
}

TEST(NotifierFromEnvironmentTest, BadSocketGivesDisabledNotifierWithReason) {
  ScopedEnv socket("NOTIFY_SOCKET", "not-absolute");
  Notifier n = Notifier::FromEnvironment();
  EXPECT_FALSE(n.enabled());
  EXPECT_EQ(n.open_error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(n.Ready().ok());
}

TEST(NotifierTest, MovedFromNotifierIsDisabled) {
  const std::string path = TempSocketPath("move");
  Listener listener(path);
  auto opened = Notifier::Open(path, std::nullopt);
  ASSERT_TRUE(opened.ok());
  Notifier a = std::move(opened).value();
  Notifier b = std::move(a);
  EXPECT_FALSE(a.enabled());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_TRUE(b.enabled());
  ASSERT_TRUE(b.Ready().ok());
  EXPECT_EQ(listener.Receive(), "READY=1");
}

}  // namespace
}  // namespace opescare::service
