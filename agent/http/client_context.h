// Internal to agent/http: what a Client and its Connections share (options, endpoint, TLS context, logging),
// and one request's state from Send() to its completion (Exchange).
#pragma once

#include <spdlog/common.h>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/http/client.h"
#include "agent/http/url.h"

namespace boost::asio {
class io_context;
}

namespace opescare::http::internal {

using SteadyTime = std::chrono::steady_clock::time_point;

bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string Seconds(std::chrono::milliseconds d);  // "1.5 s"
Outcome Failure(FailureStage stage, std::string error);

// Fixed when the client is created; shared (const) by the client and every connection it opens.
struct ClientContext {
  ClientContext(boost::asio::io_context& io, ClientOptions options, Endpoint endpoint, std::optional<ProxySpec> proxy,
                std::shared_ptr<TlsContext> tls_context, std::shared_ptr<spdlog::logger> log);

  boost::asio::io_context& io;
  const ClientOptions options;
  const Endpoint endpoint;
  const std::optional<ProxySpec> proxy;            // unset when direct (no proxy, or NO_PROXY matched)
  const std::shared_ptr<TlsContext> tls_context;  // shared with the process's other clients
  const std::shared_ptr<spdlog::logger> log;
  std::string base_url;
  std::string proxy_authorization;  // a secret: never logged

  void Log(spdlog::level::level_enum level, std::string_view text) const;
  bool ShouldLog(spdlog::level::level_enum level) const;
  std::chrono::system_clock::time_point Now() const;  // options.clock, or the system clock
  bool IsSecret(std::string_view header_name) const;
};

// One request from Send() to its completion.
struct Exchange {
  Request request;
  std::function<void(Outcome)> done;
  boost::beast::http::request<boost::beast::http::string_body> wire;
  std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> parser;
  Outcome outcome;
  SteadyTime started{};
  SteadyTime deadline{};          // the whole request
  SteadyTime connect_deadline{};  // establishing the connection
  bool retried = false;
  bool carries_secret = false;
};

// Sets the failure on the exchange's outcome (dropping any response) and logs it at debug.
void MarkFailed(const ClientContext& ctx, Exchange& ex, FailureStage stage, std::string error);

}  // namespace opescare::http::internal
