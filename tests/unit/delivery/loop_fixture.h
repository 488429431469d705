// The delivery loop's test fixture: an in-memory outbox, a hand-answered transport, a manual clock, both
// io_contexts driven on this thread (poll() to settle, run_one() to step).
#pragma once

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <sstream>

#include "agent/delivery/delivery_loop.h"
#include "agent/util/clock.h"
#include "tests/unit/delivery/fakes.h"

namespace opescare::delivery::testing {

using namespace std::chrono_literals;
namespace asio = boost::asio;

class DeliveryLoopTest : public ::testing::Test {
 protected:
  DeliveryLoopTest()
      : net_guard_(asio::make_work_guard(net_)),
        disk_guard_(asio::make_work_guard(disk_)),
        clock_(std::chrono::system_clock::time_point(1'800'000'000s)) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_);
    log_ = std::make_shared<spdlog::logger>("test", sink);
    log_->set_level(spdlog::level::debug);
  }

  // max_records 3 unless set; max_in_flight as given (default 2); a fixed jitter seed unless set.
  void Make(DeliveryOptions options = {}) {
    options.limits.max_records = options.limits.max_records == 500 ? 3 : options.limits.max_records;
    options.backoff = {1000ms, 1000ms};
    // A fixed jitter seed: a random one draws a delay under 1 ms one retry in a thousand, and a test that
    // waits for a backoff would then find none.
    options.jitter_seed = options.jitter_seed == 0 ? 20261203 : options.jitter_seed;
    DeliveryHooks hooks;
    hooks.build_body = [](const outbox::Batch& b) { return "body of " + b.batch_id; };
    hooks.make_headers = [] { return http::Headers{{"X-Bridge-Agent-ID", "agt_1"}}; };
    hooks.retry_after = [](const http::Response& r) -> std::optional<std::chrono::milliseconds> {
      for (const auto& [k, v] : r.headers)
        if (k == "Retry-After") return std::chrono::seconds(std::stoi(v));
      return std::nullopt;
    };
    hooks.on_pause_change = [this](const std::string& reason) { pause_changes_.push_back(reason); };
    tx_.net = &net_;
    loop_ = std::make_unique<DeliveryLoop>(net_, disk_, ob_, tx_.Make(), clock_, options, std::move(hooks), log_);
  }

  // Runs every ready handler of both contexts until neither has one (timers still waiting are left).
  void Settle() {
    for (int i = 0; i < 100000; ++i) {
      size_t n = net_.poll();
      n += disk_.poll();
      if (n == 0) return;
    }
    FAIL() << "the loop never settled";
  }

  // Waits for a real timer of the loop (store fault waits) until pred holds; generous deadline, no bound asserted.
  template <typename Pred>
  bool RunUntil(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      net_.run_one_for(100ms);
      Settle();
    }
    return pred();
  }

  void StartWith(std::initializer_list<const char*> ids) {
    for (const char* id : ids) ob_.Add(id);
    loop_->Start();
    Settle();
  }

  std::string Receipt(const std::string& batch, const std::string& rest) {
    return "{\"batch_id\":\"" + batch + "\"" + rest + "}";
  }

  size_t Count(const std::string& needle) const {
    std::string text = log_text_.str();
    size_t n = 0;
    for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
  }

  bool Called(const std::string& call) const {
    return std::find(ob_.calls.begin(), ob_.calls.end(), call) != ob_.calls.end();
  }

  const DeliveryCounters& counters() const { return loop_->counters(); }

  asio::io_context net_, disk_;
  asio::executor_work_guard<asio::io_context::executor_type> net_guard_, disk_guard_;
  ManualClock clock_;
  FakeOutbox ob_;
  FakeTransport tx_;
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::string> pause_changes_;
  std::unique_ptr<DeliveryLoop> loop_;
};

}  // namespace opescare::delivery::testing
