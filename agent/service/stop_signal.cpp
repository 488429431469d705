// StopSignal: the one-shot stop request between the Windows service handler and the run loop.
#include "agent/service/stop_signal.h"

#include <utility>

namespace opescare::service {

void StopSignal::OnStop(std::function<void()> handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  handler_ = std::move(handler);
  if (requested_ && handler_) handler_();
}

void StopSignal::ClearHandler() {
  std::lock_guard<std::mutex> lock(mutex_);
  handler_ = nullptr;
}

void StopSignal::Request() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (requested_) return;
  requested_ = true;
  // Under the lock, so ClearHandler cannot return while the handler still runs.
  if (handler_) handler_();
}

bool StopSignal::requested() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requested_;
}

}  // namespace opescare::service
