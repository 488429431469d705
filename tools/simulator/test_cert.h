// A throw-away certificate authority and server certificate made at start-up (OpenSSL 3).
#pragma once

#include <string>

#include "agent/util/status.h"

namespace opescare::simulator {

struct TestCertificates {
  std::string ca_pem;    // the CA certificate the agent trusts through http.ca_file
  std::string cert_pem;  // the server certificate, signed by the CA
  std::string key_pem;   // the server's private key (never written to disk by the simulator)
};

// A P-256 CA and a server certificate for localhost, 127.0.0.1 and ::1 (subjectAltName), valid from
// one hour ago for validity_days.
Result<TestCertificates> MakeTestCertificates(int validity_days);

}  // namespace opescare::simulator
