// Retry-After (RFC 9110 10.2.3): how long the server asks the agent to wait, capped.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace opescare::http {
struct Response;
}

namespace opescare::bridge {

// value: delta-seconds ("120") or an HTTP-date. An HTTP-date is measured against the response's own
// Date header when there is one (both are the server's clock, so a skewed local clock does not matter),
// else against local_now. A date in the past gives 0; the result is capped at max.
// Negative numbers, fractions and anything unparsable give nullopt (the caller's backoff applies).
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value,
                                                    std::optional<std::chrono::system_clock::time_point> response_date,
                                                    std::chrono::system_clock::time_point local_now,
                                                    std::chrono::seconds max);

// The same, reading Retry-After and Date from a response; nullopt when it has no Retry-After.
std::optional<std::chrono::seconds> RetryAfterOf(const http::Response& response,
                                                 std::chrono::system_clock::time_point local_now,
                                                 std::chrono::seconds max);

}  // namespace opescare::bridge
