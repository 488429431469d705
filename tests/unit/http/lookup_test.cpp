// Name lookups on a thread of their own (no Asio resolver thread left idle): the answer comes on the io
// thread, never inside Start; a cancelled lookup never answers, drops its handler at once and releases io.
#include "agent/http/lookup.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace opescare::http::internal {
namespace {

using boost::system::error_code;

TEST(Lookup, AnswersOnTheIoThreadAfterStartReturns) {
  boost::asio::io_context io;
  bool answered = false;
  std::thread::id answered_on;
  std::vector<std::string> endpoints;
  error_code got;
  Lookup lookup = Lookup::Start(io, "127.0.0.1", "8443", [&](const error_code& ec, const Lookup::Results& r) {
    answered = true;
    answered_on = std::this_thread::get_id();
    got = ec;
    for (const auto& e : r)
      endpoints.push_back(e.endpoint().address().to_string() + ":" + std::to_string(e.endpoint().port()));
  });
  EXPECT_FALSE(answered) << "never inside Start";
  io.run();  // returns once the answer has run: the lookup held work until then
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered_on, std::this_thread::get_id());
  EXPECT_FALSE(got) << got.message();
  EXPECT_EQ(endpoints, std::vector<std::string>{"127.0.0.1:8443"});
}

TEST(Lookup, ACancelledLookupNeverAnswersAndDropsItsHandlerAtOnce) {
  boost::asio::io_context io;
  auto held = std::make_shared<int>(0);  // stands for the connection the handler keeps alive
  bool answered = false;
  Lookup lookup = Lookup::Start(io, "localhost", "8443",
                                [&answered, held](const error_code&, const Lookup::Results&) { answered = true; });
  EXPECT_EQ(held.use_count(), 2);
  lookup.Cancel();
  EXPECT_EQ(held.use_count(), 1) << "the handler is destroyed by Cancel, on this thread";
  io.run();  // nothing keeps it running: the work was released with the handler
  EXPECT_FALSE(answered);
  lookup.Cancel();  // idempotent
}

// The answer is posted to io before the Cancel (io is not running, so it waits there): it must still not run.
TEST(Lookup, ACancelAfterTheAnswerIsPostedStillKeepsTheHandlerFromRunning) {
  boost::asio::io_context io;
  auto held = std::make_shared<int>(0);
  bool answered = false;
  Lookup lookup = Lookup::Start(io, "localhost", "8443",
                                [&answered, held](const error_code&, const Lookup::Results&) { answered = true; });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // localhost resolves from /etc/hosts at once
  lookup.Cancel();
  EXPECT_EQ(held.use_count(), 1) << "the handler is destroyed by Cancel, even with its answer posted";
  io.run();
  EXPECT_FALSE(answered);
}

}  // namespace
}  // namespace opescare::http::internal
