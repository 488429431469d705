// The heartbeat loop as a state machine: a hand-answered transport on a real io_context. One beat at
// start, the connection state per outcome (changed only on a change), never queued, nothing after Stop.
#include "agent/app/heartbeat_loop.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <boost/asio/io_context.hpp>
#include <deque>
#include <sstream>

namespace opescare::app {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using bridge::ConnectionState;

struct Pending {
  http::Request request;
  std::function<void(http::Outcome)> done;
};

class HeartbeatLoopTest : public ::testing::Test {
 protected:
  HeartbeatLoopTest() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_);
    log_ = std::make_shared<spdlog::logger>("test", sink);
    log_->set_level(spdlog::level::debug);
  }

  void Make(bool include_status = true) {
    delivery::Transport t;
    t.send = [this](http::Request r, std::function<void(http::Outcome)> done) {
      ++sends_;
      pending_.push_back({std::move(r), std::move(done)});
    };
    t.base_url = "https://opescare.test";
    HeartbeatOptions o;
    o.interval = 1s;
    o.agent_id = "agt_1";
    o.facility_id = "fac-1";
    o.include_status = include_status;
    HeartbeatHooks h;
    h.make_headers = [] { return http::Headers{{"X-Bridge-Agent-ID", "agt_1"}}; };
    h.agent_status = [] {
      bridge::AgentStatus s;
      s.hostname = "his-01";
      return s;
    };
    h.on_result = [this](const bridge::HeartbeatResult& r, bool changed) { results_.push_back({r.state, changed}); };
    loop_ = std::make_unique<HeartbeatLoop>(net_, std::move(t), o, std::move(h), log_);
  }

  void Answer(int status, std::string body = "{\"status\":\"ok\"}") {
    http::Outcome o;
    o.response.emplace();
    o.response->status = status;
    o.response->body = std::move(body);
    Finish(std::move(o));
  }
  void Fail(http::FailureStage stage) {
    http::Outcome o;
    o.stage = stage;
    o.error = "refused";
    Finish(std::move(o));
  }
  void Finish(http::Outcome o) {
    ASSERT_FALSE(pending_.empty());
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    p.done(std::move(o));
  }
  // Runs the loop's real timer until the next beat is sent (generous deadline; no duration asserted).
  bool WaitForSends(int n) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (sends_ < n && std::chrono::steady_clock::now() < deadline) net_.run_one_for(100ms);
    return sends_ >= n;
  }

  asio::io_context net_;
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<HeartbeatLoop> loop_;
  std::deque<Pending> pending_;
  int sends_ = 0;
  std::vector<std::pair<ConnectionState, bool>> results_;
};

TEST_F(HeartbeatLoopTest, StartSendsOneBeatAtOnceWithTheDocumentedBody) {
  Make();
  loop_->Start();
  ASSERT_EQ(pending_.size(), 1u);
  const http::Request& r = pending_[0].request;
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/api/v1/bridge/heartbeat");
  EXPECT_NE(r.body.find("\"agent_id\":\"agt_1\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"facility_id\":\"fac-1\""), std::string::npos);
  EXPECT_NE(r.body.find("\"version\":"), std::string::npos);
  EXPECT_NE(r.body.find("his-01"), std::string::npos);
  EXPECT_EQ(loop_->state(), ConnectionState::kUnknown);
  loop_->Stop();
}

TEST_F(HeartbeatLoopTest, WithoutStatusOnlyTheDocumentedFields) {
  Make(false);
  loop_->Start();
  ASSERT_EQ(pending_.size(), 1u);
  EXPECT_EQ(pending_[0].request.body.find("his-01"), std::string::npos);
  loop_->Stop();
}

TEST_F(HeartbeatLoopTest, EachOutcomeSetsTheStateAndChangedOnlyOnAChange) {
  Make();
  loop_->Start();
  Answer(200);
  EXPECT_EQ(loop_->state(), ConnectionState::kConnected);
  ASSERT_TRUE(WaitForSends(2));
  Answer(200);
  ASSERT_TRUE(WaitForSends(3));
  Answer(401, R"({"error":"bridge_token_invalid","message":"revoked"})");
  EXPECT_EQ(loop_->state(), ConnectionState::kUnauthorized);
  ASSERT_TRUE(WaitForSends(4));
  Fail(http::FailureStage::kConnect);
  EXPECT_EQ(loop_->state(), ConnectionState::kUnreachable);
  ASSERT_TRUE(WaitForSends(5));
  Answer(404, R"({"error":"facility_not_found"})");
  EXPECT_EQ(loop_->state(), ConnectionState::kConfigError);
  ASSERT_TRUE(WaitForSends(6));
  Fail(http::FailureStage::kTlsVerify);
  EXPECT_EQ(loop_->state(), ConnectionState::kTlsError);
  ASSERT_TRUE(WaitForSends(7));
  Answer(503);
  EXPECT_EQ(loop_->state(), ConnectionState::kServerError);
  const std::vector<std::pair<ConnectionState, bool>> want = {
      {ConnectionState::kConnected, true},    {ConnectionState::kConnected, false},
      {ConnectionState::kUnauthorized, true}, {ConnectionState::kUnreachable, true},
      {ConnectionState::kConfigError, true},  {ConnectionState::kTlsError, true},
      {ConnectionState::kServerError, true}};
  EXPECT_EQ(results_, want);
  loop_->Stop();
}

TEST_F(HeartbeatLoopTest, ABeatStillWaitingMakesTheNextOneMissedNotQueued) {
  Make();
  loop_->Start();
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (log_text_.str().find("heartbeat skipped") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    net_.run_one_for(100ms);
  EXPECT_NE(log_text_.str().find("heartbeat skipped"), std::string::npos);
  EXPECT_EQ(sends_, 1);
  Answer(200);
  EXPECT_EQ(loop_->state(), ConnectionState::kConnected);
  loop_->Stop();
}

TEST_F(HeartbeatLoopTest, AClosedRequestChangesNothing) {
  Make();
  loop_->Start();
  Fail(http::FailureStage::kClosed);
  EXPECT_TRUE(results_.empty());
  EXPECT_EQ(loop_->state(), ConnectionState::kUnknown);
  loop_->Stop();
}

TEST_F(HeartbeatLoopTest, NothingIsSentAfterStop) {
  Make();
  loop_->Start();
  Answer(200);
  loop_->Stop();
  net_.run();  // returns once the cancelled timer's handler ran: no beat is scheduled any more
  EXPECT_EQ(sends_, 1);
}

}  // namespace
}  // namespace opescare::app
