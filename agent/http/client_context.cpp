// The shared client context, and the small helpers of the client's files.
#include "agent/http/client_context.h"

#include <spdlog/logger.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <openssl/evp.h>

#include "agent/util/clock.h"

namespace opescare::http::internal {
namespace {

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Seconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

Outcome Failure(FailureStage stage, std::string error) {
  Outcome o;
  o.stage = stage;
  o.error = std::move(error);
  return o;
}

ClientContext::ClientContext(boost::asio::io_context& io_context, ClientOptions opts, Endpoint ep,
                             std::optional<ProxySpec> proxy_spec, std::shared_ptr<TlsContext> tls,
                             std::shared_ptr<spdlog::logger> logger)
    : io(io_context),
      options(std::move(opts)),
      endpoint(std::move(ep)),
      proxy(std::move(proxy_spec)),
      tls_context(std::move(tls)),
      log(std::move(logger)) {
  base_url = endpoint.scheme + "://" + endpoint.HostPort() + endpoint.base_path;
  if (proxy && !proxy->username.empty()) {
    proxy_authorization = "Basic " + Base64(proxy->username + ":" + proxy->password);
  }
}

void ClientContext::Log(spdlog::level::level_enum level, std::string_view text) const {
  if (log) log->log(level, "http: {}", text);
}

bool ClientContext::ShouldLog(spdlog::level::level_enum level) const { return log && log->should_log(level); }

std::chrono::system_clock::time_point ClientContext::Now() const {
  return options.clock ? options.clock->Now() : std::chrono::system_clock::now();
}

bool ClientContext::IsSecret(std::string_view name) const {
  return std::any_of(options.secret_headers.begin(), options.secret_headers.end(),
                     [&](const std::string& s) { return EqualsIgnoreCase(s, name); });
}

void MarkFailed(const ClientContext& ctx, Exchange& ex, FailureStage stage, std::string error) {
  ex.outcome.stage = stage;
  ex.outcome.error = std::move(error);
  ex.outcome.response.reset();
  ctx.Log(spdlog::level::debug, ex.request.method + " " + ctx.base_url + ex.request.target + " failed (" +
                                    FailureStageName(stage) + "): " + ex.outcome.error);
}

}  // namespace opescare::http::internal
