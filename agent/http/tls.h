// Internal to agent/http: the client TLS context (verification on, TLS 1.2+, system store + ca_file,
// optional mTLS) and human descriptions of certificates and TLS failures. Only client.cpp includes it.
#pragma once

#include <openssl/types.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "agent/http/client.h"
#include "agent/util/status.h"

namespace opescare::http::internal {

Result<std::unique_ptr<boost::asio::ssl::context>> MakeTlsContext(const ClientOptions& options);

// Subject, issuer, SAN names and validity of a certificate.
PeerCertificate DescribeCertificate(X509* cert);

// The first verification error OpenSSL reported during a handshake, with the certificate it concerned.
struct VerifyFailure {
  int error = 0;  // X509_V_ERR_*; 0 = none
  int depth = 0;  // 0 = the server's own certificate
  PeerCertificate cert;
};

// "certificate has expired (notAfter=2020-01-01T00:00:00Z, subject CN=x)",
// "hostname mismatch: certificate is for a.example, b.example, not c.example", ...
std::string DescribeVerifyFailure(const VerifyFailure& failure, std::string_view host);

// A TLS handshake error other than verification, in words a person can act on.
std::string DescribeTlsError(const boost::system::error_code& ec);

}  // namespace opescare::http::internal
