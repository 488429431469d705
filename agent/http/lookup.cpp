// Name lookups on a thread of their own (see lookup.h).
#include "agent/http/lookup.h"

#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

namespace opescare::http::internal {

namespace asio = boost::asio;
using boost::system::error_code;

struct Lookup::State {
  std::mutex mutex;
  asio::io_context* io = nullptr;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  Handler handler;  // empty once run or cancelled; kept here until then, so Cancel can always drop it
  bool posted = false;
};

namespace {

// Either thread: posts the answer unless the lookup was cancelled. The handler stays in the state until the
// posted answer runs on io's thread, so a Cancel between the post and the run still keeps it from running.
void Deliver(const std::shared_ptr<Lookup::State>& state, const error_code& ec, Lookup::Results results) {
  std::lock_guard<std::mutex> lock(state->mutex);
  if (!state->handler || state->posted) return;
  state->posted = true;
  asio::post(*state->io, [state, ec, results = std::move(results)] {
    Lookup::Handler h;
    {
      std::lock_guard<std::mutex> inner(state->mutex);
      h = std::move(state->handler);
      state->handler = nullptr;
    }
    if (h) h(ec, results);
  });
  state->work.reset();
}

// The lookup's thread: a resolver on a context of its own, used only for its blocking resolve, which calls
// getaddrinfo on this thread and starts none.
void Resolve(const std::shared_ptr<Lookup::State>& state, const std::string& host, const std::string& service) {
  asio::io_context local(1);
  asio::ip::tcp::resolver resolver(local);
  error_code ec;
  Lookup::Results results = resolver.resolve(host, service, ec);
  Deliver(state, ec, std::move(results));
}

}  // namespace

Lookup Lookup::Start(asio::io_context& io, std::string host, std::string service, Handler handler) {
  auto state = std::make_shared<State>();
  state->io = &io;
  state->work.emplace(io.get_executor());
  state->handler = std::move(handler);
  try {
    std::thread([state, host = std::move(host), service = std::move(service)] {
      Resolve(state, host, service);
    }).detach();
  } catch (const std::system_error&) {  // no thread to be had: said as a failed lookup, on io as ever
    Deliver(state, asio::error::no_memory, {});
  }
  return Lookup(std::move(state));
}

void Lookup::Cancel() {
  if (!state_) return;
  Handler dropped;  // destroyed on this (io's) thread, after the lock
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    dropped = std::move(state_->handler);
    state_->handler = nullptr;
    state_->work.reset();
  }
  state_.reset();
}

}  // namespace opescare::http::internal
