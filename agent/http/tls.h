// Internal to agent/http: human descriptions of certificates and TLS failures, and whether the local clock
// is the likely cause of a refused certificate. Only client.cpp (and its tests) include it.
#pragma once

#include <openssl/types.h>

#include <boost/system/error_code.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "agent/http/client.h"
#include "agent/util/status.h"

namespace opescare::http::internal {

// Subject, issuer, SAN names and validity of a certificate.
PeerCertificate DescribeCertificate(X509* cert);

// The first verification error OpenSSL reported during a handshake, with the certificate it concerned.
struct VerifyFailure {
  int error = 0;  // X509_V_ERR_*; 0 = none
  int depth = 0;  // 0 = the server's own certificate
  PeerCertificate cert;
  // The clocks of that handshake (PROTOCOL.md "Clock"): the local one, the time the certificates were
  // checked at (max of it, the build time and the server time floor), and the newest server time seen
  // over a verified connection (epoch: none known).
  std::chrono::system_clock::time_point local_now{};
  std::chrono::system_clock::time_point checked_at{};
  std::chrono::system_clock::time_point server_time{};
};

// kAhead: the certificate looks expired, and the last known server time (it was valid then, and the local
// clock is over 30 days past it) or, without one, its own validity (expired longer ago than it was ever
// valid, and over 30 days) says the local clock is the likely cause. kBehind: it looks not yet valid.
ClockSuspect SuspectClock(const VerifyFailure& failure);

// "certificate has expired (notAfter=2020-01-01T00:00:00Z, subject CN=x)", with the clock named when
// SuspectClock says so,
// "hostname mismatch: certificate is for a.example, b.example, not c.example", ...
std::string DescribeVerifyFailure(const VerifyFailure& failure, std::string_view host);

// A TLS handshake error other than verification, in words a person can act on.
std::string DescribeTlsError(const boost::system::error_code& ec);

}  // namespace opescare::http::internal
