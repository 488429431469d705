// StopSignal: a one-shot stop request raised on one thread (the Windows SCM's control handler)
// and delivered to the run loop through a handler it registers.
#pragma once

#include <functional>
#include <mutex>

namespace opescare::service {

// Used instead of std::stop_token because MinGW's libstdc++ 12 can hang destroying a
// std::stop_callback whose callback runs on another thread (seen under wine), and because the
// handler must be withdrawn, race-free, before the run loop's objects die.
// Thread-safe. The handler runs with an internal lock held, so it must be quick (post a stop into
// an event loop) and must not call back into this StopSignal.
class StopSignal {
 public:
  StopSignal() = default;
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // Sets the handler; it runs at once (on this thread) if the stop was already requested.
  void OnStop(std::function<void()> handler);
  // Withdraws the handler; once this returns it is not running and will not run.
  void ClearHandler();

  // Requests the stop: the first call runs the handler, later calls do nothing.
  void Request();
  bool requested() const;

 private:
  mutable std::mutex mutex_;
  bool requested_ = false;
  std::function<void()> handler_;
};

}  // namespace opescare::service
