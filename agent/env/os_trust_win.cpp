// Windows: the ROOT system store's certificates, for OpenSSL.
#include <windows.h>
// After windows.h, which it needs.
#include <wincrypt.h>

#include "agent/env/os_trust.h"
#include "agent/env/win_text.h"

namespace opescare::env {

std::string OsTrustStoreName() { return "Windows ROOT store"; }

Result<std::vector<std::string>> OsRootCertificates() {
  HCERTSTORE store = ::CertOpenSystemStoreW(0, L"ROOT");
  if (store == nullptr) {
    return Unavailable(service::internal::WindowsError("opening the Windows ROOT certificate store", ::GetLastError()));
  }
  std::vector<std::string> der;
  for (PCCERT_CONTEXT cert = ::CertEnumCertificatesInStore(store, nullptr); cert != nullptr;
       cert = ::CertEnumCertificatesInStore(store, cert)) {
    // Only X.509 entries; CertEnum frees the previous context itself.
    if (cert->dwCertEncodingType & X509_ASN_ENCODING)
      der.emplace_back(reinterpret_cast<const char*>(cert->pbCertEncoded), cert->cbCertEncoded);
  }
  ::CertCloseStore(store, 0);
  return der;
}

}  // namespace opescare::env
