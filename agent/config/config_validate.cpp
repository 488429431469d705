// The loader's checks across settings (server_url, the proxy, the TLS files, required ids, ranges that
// depend on each other) and the agent key's resolution (config_loader.h).
#include <filesystem>

#include "agent/config/config_internal.h"
#include "agent/config/config_loader.h"

namespace opescare::config::internal {

void Loader::ValidateServerUrl() {
  const Origin& at = OriginOf("server_url");
  if (config_.server_url.empty() && config_.environment == "sandbox") config_.server_url = "https://opescare.test";
  if (config_.server_url.empty()) {
    Error(at, "server_url", "not set (required: the https:// address of the OpesCare API)");
    return;
  }
  std::optional<HttpUrl> url = ParseHttpUrl(config_.server_url);
  if (!url || !url->userinfo.empty()) {
    Error(at, "server_url",
          QuoteValue(config_.server_url) + " is not an http(s) URL (expected https://host[:port][/base])");
    return;
  }
  if (url->scheme == "http" && !IsLoopbackHost(url->host) && !config_.allow_insecure_http) {
    Error(at, "server_url",
          QuoteValue(config_.server_url) +
              " sends the key unencrypted to a host that is not loopback; use https://, "
              "or set allow_insecure_http: true to accept the risk");
  }
  while (!config_.server_url.empty() && config_.server_url.back() == '/') config_.server_url.pop_back();
}

void Loader::ValidateProxy() {
  std::string& proxy = config_.http.proxy;
  if (proxy.empty()) return;
  // curl and Python accept "host:port" without a scheme in HTTPS_PROXY; so do we.
  if (proxy.find("://") == std::string::npos) proxy = "http://" + proxy;
  std::optional<HttpUrl> url = ParseHttpUrl(proxy);
  if (url && !url->userinfo.empty()) {
    size_t colon = url->userinfo.find(':');
    if (colon != std::string::npos) secrets_.push_back(url->userinfo.substr(colon + 1));
  }
  if (!url || url->scheme != "http" || !url->path.empty()) {
    std::string shown = proxy;
    if (url && !url->userinfo.empty()) shown = url->scheme + "://***@" + proxy.substr(proxy.rfind('@') + 1);
    Error(OriginOf("http.proxy"), "http.proxy",
          QuoteValue(shown) + " is not a proxy address (expected http://[user:pass@]host:port)");
  }
}

void Loader::ValidateFiles() {
  for (const char* key : {"http.ca_file", "http.client_cert", "http.client_key"}) {
    const std::string& path = internal::GetField(*internal::FindField(key), config_);
    if (path.empty()) continue;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
      Error(OriginOf(key), key, QuoteValue(path) + " does not exist");
    else if (std::filesystem::is_directory(path, ec))
      Error(OriginOf(key), key, QuoteValue(path) + " is a directory; expected a PEM file");
  }
  if (config_.http.client_cert.empty() != config_.http.client_key.empty()) {
    const char* given = config_.http.client_cert.empty() ? "http.client_key" : "http.client_cert";
    const char* missing = config_.http.client_cert.empty() ? "http.client_cert" : "http.client_key";
    Error(OriginOf(given), given, std::string("is set but ") + missing + " is not (mutual TLS needs both)");
  }
}

void Loader::Validate() {
  ValidateServerUrl();
  for (const auto& [key, hint] : {std::pair<const char*, const char*>{"agent_id", "OPESCARE_AGENT_ID"},
                                  {"facility_id", "OPESCARE_FACILITY_ID"}}) {
    if (internal::GetField(*internal::FindField(key), config_).empty())
      Error(OriginOf(key), key, std::string("not set (required; or set ") + hint + ")");
  }
  if (config_.retry.initial_backoff_seconds > config_.retry.max_backoff_seconds)
    Error(OriginOf("retry.initial_backoff_seconds"), "retry.initial_backoff_seconds",
          internal::GetField(*internal::FindField("retry.initial_backoff_seconds"), config_) +
              " is more than retry.max_backoff_seconds (" +
              internal::GetField(*internal::FindField("retry.max_backoff_seconds"), config_) + ")");
  if (!config_.status.listen.empty()) {
    std::optional<HostPort> listen = ParseHostPort(config_.status.listen);
    if (!listen) {
      Error(OriginOf("status.listen"), "status.listen",
            QuoteValue(config_.status.listen) + " is not host:port (e.g. 127.0.0.1:9469, [::1]:9469, or \"\" for off)");
    } else if (!IsLoopbackHost(listen->host) && !config_.status.allow_remote) {
      Error(OriginOf("status.listen"), "status.listen",
            QuoteValue(config_.status.listen) +
                " is not a loopback address; set status.allow_remote: true to serve the status page to the network");
    }
  }
  ValidateProxy();
  ValidateFiles();
}

void Loader::ResolveKey() {
  internal::KeySources sources;
  sources.environment = Env("OPESCARE_AGENT_KEY");
  if (sources.environment) secrets_.push_back(*sources.environment);
  sources.key_file = config_.agent_key_file;
  sources.credentials_directory = Env("CREDENTIALS_DIRECTORY");
  sources.inline_key = config_.agent_key;
  internal::ResolvedKey resolved = internal::ResolveAgentKey(sources);
  if (!resolved.key.empty()) secrets_.push_back(resolved.key);
  config_.agent_key = resolved.key;
  config_.agent_key_source = resolved.source;
  if (resolved.error.empty()) return;
  if (resolved.error_key == "agent_key_file") {
    Error(OriginOf("agent_key_file"), resolved.error_key, resolved.error);
  } else {
    Problem p;  // not tied to the file: the key may be meant to come from elsewhere
    p.key = resolved.error_key;
    p.message = resolved.error;
    problems_.push_back(std::move(p));
  }
}

}  // namespace opescare::config::internal
