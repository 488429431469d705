// The OS trust store into OpenSSL: DER blobs from agent/env decoded into the context's X509_STORE.
#include "agent/http/os_trust_store.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "agent/env/os_trust.h"

namespace opescare::http {

int AddDerCertificates(SSL_CTX* ctx, const std::vector<std::string>& der) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  if (store == nullptr) return 0;
  int added = 0;
  for (const std::string& blob : der) {
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(blob.size()));
    if (cert == nullptr) continue;
    // A certificate already in the store (also in the bundle) is not an error in OpenSSL 3.
    if (X509_STORE_add_cert(store, cert) == 1) ++added;
    X509_free(cert);
  }
  ERR_clear_error();
  return added;
}

OsTrust LoadOsTrustStore(SSL_CTX* ctx) {
  OsTrust trust;
  trust.name = env::OsTrustStoreName();
  if (trust.name.empty()) return trust;
  Result<std::vector<std::string>> der = env::OsRootCertificates();
  if (!der.ok()) {
    trust.problem = der.status().message();
    return trust;
  }
  trust.certificates = AddDerCertificates(ctx, *der);
  return trust;
}

std::string DescribeOsTrust(const OsTrust& trust) {
  if (trust.name.empty()) return "";
  if (!trust.problem.empty()) return trust.name + " not read (" + trust.problem + ")";
  return trust.name + " (" + std::to_string(trust.certificates) + " certificates)";
}

}  // namespace opescare::http
