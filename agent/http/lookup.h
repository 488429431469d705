// Internal to agent/http: name lookups without an idle thread. Asio's async_resolve runs getaddrinfo on a
// private thread that it starts at the first lookup and keeps, idle, for the life of the io_context (issue 11:
// no thread with nothing to do). A Lookup runs getaddrinfo (Asio's blocking resolve) on a thread of its own
// that ends with it, and posts the answer to the io_context. Every new connection looks its name (or its
// proxy's) up again, so a changed DNS record is seen as before; a lookup that outlives its connection's
// deadline is cancelled and its thread ends when getaddrinfo returns.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

namespace opescare::http::internal {

class Lookup {
 public:
  using Results = boost::asio::ip::tcp::resolver::results_type;
  using Handler = std::function<void(const boost::system::error_code&, const Results&)>;

  Lookup() = default;
  // Looks host:service up; handler runs on io (never inside Start) unless Cancel() comes first. The lookup
  // holds work on io until its handler is posted or it is cancelled.
  static Lookup Start(boost::asio::io_context& io, std::string host, std::string service, Handler handler);
  // On io's thread: the handler will not run and is destroyed here; io's work is released. Idempotent.
  void Cancel();

  struct State;

 private:
  explicit Lookup(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace opescare::http::internal
