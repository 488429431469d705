// The heartbeat loop on the network thread.
#include "agent/app/heartbeat_loop.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>
#include <spdlog/logger.h>

namespace opescare::app {

namespace asio = boost::asio;

std::chrono::milliseconds JitteredInterval(std::chrono::seconds interval, double unit_random) {
  double factor = 0.9 + 0.2 * std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(interval.count()) * 1000.0 * factor));
}

class HeartbeatLoop::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& net, delivery::Transport transport, HeartbeatOptions options, HeartbeatHooks hooks,
       std::shared_ptr<spdlog::logger> logger)
      : transport_(std::move(transport)),
        options_(std::move(options)),
        hooks_(std::move(hooks)),
        log_(std::move(logger)),
        timer_(net),
        rng_(std::random_device{}()) {}

  void Start() {
    stopped_ = false;
    Beat();
  }

  void Stop() {
    stopped_ = true;
    timer_.cancel();
  }

  void UpdateOptions(HeartbeatOptions options) {
    const bool interval_changed = options.interval != options_.interval;
    options_ = std::move(options);
    // A new interval applies now, not after the wait already under way (up to an hour of the old one).
    if (interval_changed && !stopped_) ScheduleNext();
  }
  bridge::ConnectionState state() const { return state_; }

 private:
  void ScheduleNext() {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto self = shared_from_this();
    timer_.expires_after(JitteredInterval(options_.interval, unit(rng_)));
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec && !self->stopped_) self->Beat();
    });
  }

  void Beat() {
    // The schedule is kept from the start of each beat, so a slow answer does not shift the cadence.
    ScheduleNext();
    if (in_flight_) {  // never queued: a heartbeat still waiting for its answer makes this one missed
      log_->debug("heartbeat skipped: the previous one is still waiting for an answer");
      return;
    }
    bridge::HeartbeatInputs inputs;
    inputs.agent_id = options_.agent_id;
    inputs.facility_id = options_.facility_id;
    inputs.version = OB_VERSION;
    if (options_.include_status && hooks_.agent_status) inputs.status = hooks_.agent_status();
    http::Request request;
    request.method = "POST";
    request.target = options_.target;
    request.headers = hooks_.make_headers();
    request.body = bridge::BuildHeartbeatBody(inputs);
    in_flight_ = true;
    auto self = shared_from_this();
    transport_.send(std::move(request), [self](http::Outcome outcome) { self->OnOutcome(std::move(outcome)); });
  }

  void OnOutcome(http::Outcome outcome) {
    in_flight_ = false;
    if (outcome.stage == http::FailureStage::kClosed) return;
    if (hooks_.observe) hooks_.observe(outcome);
    int64_t offset = hooks_.clock_offset_seconds ? hooks_.clock_offset_seconds() : 0;
    bridge::HeartbeatResult result = bridge::ClassifyHeartbeat(outcome, offset);
    bool changed = result.state != state_;
    state_ = result.state;
    if (changed) {
      if (result.state == bridge::ConnectionState::kConnected) {
        log_->info("connection: connected to {} (heartbeat accepted)", transport_.base_url);
      } else {
        log_->error("connection: {} — {}{}{}", bridge::ConnectionStateName(result.state), result.message,
                    result.fix.empty() ? "" : ". Fix: ", result.fix);
      }
    } else {
      log_->debug("heartbeat: {} ({})", bridge::ConnectionStateName(result.state), result.message);
    }
    if (hooks_.on_result) hooks_.on_result(result, changed);
  }

  delivery::Transport transport_;
  HeartbeatOptions options_;
  HeartbeatHooks hooks_;
  std::shared_ptr<spdlog::logger> log_;
  asio::steady_timer timer_;
  std::mt19937_64 rng_;
  bool in_flight_ = false;
  bool stopped_ = true;
  bridge::ConnectionState state_ = bridge::ConnectionState::kUnknown;
};

HeartbeatLoop::HeartbeatLoop(asio::io_context& net, http::Client& client, HeartbeatOptions options,
                             HeartbeatHooks hooks, std::shared_ptr<spdlog::logger> logger)
    : HeartbeatLoop(net, delivery::ClientTransport(client), std::move(options), std::move(hooks), std::move(logger)) {}
HeartbeatLoop::HeartbeatLoop(asio::io_context& net, delivery::Transport transport, HeartbeatOptions options,
                             HeartbeatHooks hooks, std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_shared<Impl>(net, std::move(transport), std::move(options), std::move(hooks),
                                   std::move(logger))) {}
HeartbeatLoop::~HeartbeatLoop() { impl_->Stop(); }
void HeartbeatLoop::Start() { impl_->Start(); }
void HeartbeatLoop::Stop() { impl_->Stop(); }
void HeartbeatLoop::UpdateOptions(HeartbeatOptions options) { impl_->UpdateOptions(std::move(options)); }
bridge::ConnectionState HeartbeatLoop::state() const { return impl_->state(); }

}  // namespace opescare::app
