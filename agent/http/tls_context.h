// The client TLS context: verification on, TLS 1.2+, the system CA bundle (found as Go does) plus
// http.ca_file, optional mTLS. Made once and shared by every Client of the process (issue 11). Where the
// system keeps a hashed directory, certificates are read from it on demand instead of parsing the whole
// bundle (~100 ms and its memory at start-up; see LoadCaFileWhole). Asio stays out of this header.
#pragma once

#include <memory>
#include <string>

#include "agent/http/ca_bundle.h"
#include "agent/http/client.h"
#include "agent/http/os_trust_store.h"
#include "agent/util/status.h"

namespace boost::asio::ssl {
class context;
}

namespace opescare::http {

class TlsContext {
 public:
  // Uses options.ca_file, client_cert and client_key; the rest of the options is not looked at.
  static Result<std::shared_ptr<TlsContext>> Create(const ClientOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // The system CAs found and loaded (file empty and dirs empty: none; OpenSSL's built-in default was tried).
  const CaBundle& system_ca() const { return system_ca_; }
  int system_ca_certificates() const { return system_ca_certificates_; }  // parsed from system_ca().file at start
  // "system CAs: /etc/ssl/certs/ca-certificates.crt (known path, 140 certificates); http.ca_file: /x/ca.pem", or
  // "system CAs: /etc/ssl/certs (known path, 140 certificates, read on demand; /etc/ssl/.../ca-certificates.crt
  // not loaded)" when the hashed directory stands for the bundle.
  std::string TrustDescription() const;
  // The OS store imported (Windows' ROOT store; name empty elsewhere).
  const OsTrust& os_trust() const { return os_trust_; }
  // True when these options ask for this context's CA file and client certificate.
  bool Matches(const ClientOptions& options) const;

  boost::asio::ssl::context& native() { return *ctx_; }

 private:
  TlsContext() = default;
  std::unique_ptr<boost::asio::ssl::context> ctx_;
  CaBundle system_ca_;
  int system_ca_certificates_ = 0;
  OsTrust os_trust_;
  std::string ca_file_, client_cert_, client_key_;
};

}  // namespace opescare::http
