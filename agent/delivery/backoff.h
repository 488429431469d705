// Full-jitter exponential backoff (PROTOCOL.md): sleep = random(0, min(cap, base * 2^attempt)),
// with the server's Retry-After winning when present.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace opescare::delivery {

struct BackoffPolicy {
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds cap{300'000};
};

// The ceiling of the jitter window for this attempt (0-based): min(cap, base * 2^attempt), overflow-safe.
std::chrono::milliseconds BackoffCeiling(const BackoffPolicy& policy, int64_t attempt);

// The delay before retrying. unit_random is a uniform draw from [0, 1). retry_after, when the server
// sent one, wins over the jitter, but is held to the cap so a hostile value cannot park delivery forever.
std::chrono::milliseconds BackoffDelay(const BackoffPolicy& policy, int64_t attempt, double unit_random,
                                       std::optional<std::chrono::milliseconds> retry_after);

}  // namespace opescare::delivery
