// socket_tuning.h on real loopback TCP sockets (POSIX sockets drive the test; tests may include OS headers).
#include "agent/env/socket_tuning.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace opescare::env {
namespace {

// A connected loopback pair: client and the server's accepted end.
struct Pair {
  int listener = -1, client = -1, server = -1;
  Pair() {
    listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return;
    client = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(client, reinterpret_cast<sockaddr*>(&addr), len) != 0) return;
    server = ::accept(listener, nullptr, nullptr);
  }
  ~Pair() {
    for (int fd : {listener, client, server})
      if (fd >= 0) ::close(fd);
  }
};

TEST(SocketTuning, TheLowWaterMarkIsSetAndReadBack) {
  Pair p;
  ASSERT_GE(p.server, 0);
  EXPECT_TRUE(SetUnsentLowWater(p.client, 8192));
  EXPECT_FALSE(SetUnsentLowWater(p.client, 0)) << "no mark to set";
  EXPECT_FALSE(SetUnsentLowWater(-1, 8192));
  EXPECT_FALSE(ReadTcpBacklog(-1).has_value());
}

// A peer that does not read: what the socket takes beyond the peer's window waits unsent, and with the mark
// set the socket stops taking more at about the mark, not at its send buffer.
TEST(SocketTuning, TheBacklogOfAPeerThatDoesNotReadIsUnsentAndHeldNearTheMark) {
  for (int mark : {0, 8192}) {
    Pair p;
    ASSERT_GE(p.server, 0);
    int big = 1 << 20;  // a send buffer far above the mark (the kernel caps it at net.core.wmem_max)
    ASSERT_EQ(::setsockopt(p.client, SOL_SOCKET, SO_SNDBUF, &big, sizeof big), 0);
    if (mark > 0) {
      ASSERT_TRUE(SetUnsentLowWater(p.client, mark));
    }
    auto idle = ReadTcpBacklog(p.client);
    ASSERT_TRUE(idle.has_value());
    EXPECT_EQ(idle->unsent_bytes + idle->unacked_bytes, 0);
    ::fcntl(p.client, F_SETFL, ::fcntl(p.client, F_GETFL) | O_NONBLOCK);
    std::vector<char> chunk(4096, 'x');
    for (int i = 0; i < 100000 && ::send(p.client, chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0; ++i) {
    }
    auto full = ReadTcpBacklog(p.client);
    ASSERT_TRUE(full.has_value());
    EXPECT_GT(full->unsent_bytes, 0) << mark;
    EXPECT_GT(full->min_rtt.count(), 0) << "acknowledged segments measured the path";
    EXPECT_FALSE(full->recovering) << "a full window is not a loss";
    // The socket checks the mark when it starts a new segment buffer, which on loopback holds up to 64 KiB.
    constexpr int64_t kSlack = 64 * 1024;
    if (mark > 0) {
      EXPECT_LE(full->unsent_bytes, mark + kSlack) << "held near the mark";
    } else {
      EXPECT_GT(full->unsent_bytes, 8192 + kSlack) << "without the mark, the send buffer fills";
    }
  }
}

}  // namespace
}  // namespace opescare::env
