// The operating system's own store of trusted root certificates, for TLS (agent/http/os_trust_store.cpp).
// On POSIX the trust is a PEM bundle found by path (agent/http/ca_bundle.h), so the store here is empty.
#pragma once

#include <string>
#include <vector>

#include "agent/util/status.h"

namespace opescare::env {

// "Windows ROOT store"; "" where there is none.
std::string OsTrustStoreName();

// Windows: the DER encoding of every certificate in the ROOT system store (CertOpenSystemStoreW(0,
// L"ROOT"): the machine's trusted roots and the ones this account added), in store order.
// kUnavailable naming the store when it cannot be opened. Elsewhere: an empty list.
Result<std::vector<std::string>> OsRootCertificates();

}  // namespace opescare::env
