// Full-jitter exponential backoff.
#include "agent/delivery/backoff.h"

#include <algorithm>

namespace opescare::delivery {

std::chrono::milliseconds BackoffCeiling(const BackoffPolicy& policy, int64_t attempt) {
  const int64_t cap = std::max<int64_t>(0, policy.cap.count());
  int64_t ceiling = std::max<int64_t>(0, policy.base.count());
  for (int64_t i = 0; i < attempt && ceiling < cap; ++i) ceiling *= 2;
  return std::chrono::milliseconds(std::min(ceiling, cap));
}

std::chrono::milliseconds BackoffDelay(const BackoffPolicy& policy, int64_t attempt, double unit_random,
                                       std::optional<std::chrono::milliseconds> retry_after) {
  if (retry_after) {
    return std::clamp(*retry_after, std::chrono::milliseconds(0), std::max(policy.cap, std::chrono::milliseconds(0)));
  }
  const double u = std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(BackoffCeiling(policy, attempt).count()) * u));
}

}  // namespace opescare::delivery
