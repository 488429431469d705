// POSIX: no certificate store to import; the CA bundle is found by path (agent/http/ca_bundle.h).
#include "agent/env/os_trust.h"

namespace opescare::env {

std::string OsTrustStoreName() { return ""; }
Result<std::vector<std::string>> OsRootCertificates() { return std::vector<std::string>{}; }

}  // namespace opescare::env
