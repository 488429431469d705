// The Windows ROOT store imported into OpenSSL (agent/env/os_trust_win.cpp, agent/http/os_trust_store.cpp),
// run under wine by tests/windows/run_service_checks.sh against Linux `openssl s_server`s on loopback:
// a test CA added to the current user's ROOT store makes its server verify with no ca_file; a server
// whose CA is in no store is refused; the host name is checked too.
//   trust_check.exe --ca <test-ca.pem> --good-port N --other-port M
#include <winsock2.h>
#include <ws2tcpip.h>
// After winsock2.h, which must come first.
#include <windows.h>
#include <wincrypt.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/env/os_trust.h"
#include "agent/http/os_trust_store.h"
#include "tests/windows/check.h"

namespace {

using namespace opescare;

std::string DerFromPemFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string pem = text.str();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return "";
  unsigned char* out = nullptr;
  const int n = i2d_X509(cert, &out);
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  X509_free(cert);
  return der;
}

// Adds (add = true) or removes the certificate in the current user's ROOT store. Real Windows asks the
// user to confirm an addition in a dialog; wine does not.
bool ChangeUserRoot(const std::string& der, bool add) {
  HCERTSTORE store = ::CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_CURRENT_USER, L"Root");
  if (store == nullptr) return false;
  bool ok = false;
  if (add) {
    ok = ::CertAddEncodedCertificateToStore(store, X509_ASN_ENCODING, reinterpret_cast<const BYTE*>(der.data()),
                                            static_cast<DWORD>(der.size()), CERT_STORE_ADD_REPLACE_EXISTING,
                                            nullptr) != 0;
  } else {
    PCCERT_CONTEXT wanted = ::CertCreateCertificateContext(
        X509_ASN_ENCODING, reinterpret_cast<const BYTE*>(der.data()), static_cast<DWORD>(der.size()));
    // Every copy (a collection store may hold it in more than one of its stores).
    for (int i = 0; wanted != nullptr && i < 8; ++i) {
      PCCERT_CONTEXT found =
          ::CertFindCertificateInStore(store, X509_ASN_ENCODING, 0, CERT_FIND_EXISTING, wanted, nullptr);
      if (found == nullptr) break;
      ok = ::CertDeleteCertificateFromStore(found) != 0;  // frees `found`
      std::printf("trust: removed a copy of the test CA: %s\n", ok ? "ok" : "failed");
      if (!ok) break;
    }
    if (wanted != nullptr) ::CertFreeCertificateContext(wanted);
  }
  ::CertCloseStore(store, 0);
  return ok;
}

bool StoreHas(const std::vector<std::string>& der, const std::string& wanted) {
  for (const std::string& d : der) {
    if (d == wanted) return true;
  }
  return false;
}

// A verified TLS handshake with `ctx` to localhost:port; the verify result's text in *why.
bool Handshake(SSL_CTX* ctx, int port, std::string* why) {
  SOCKET s = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<u_short>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *why = "connect failed (" + std::to_string(::WSAGetLastError()) + ")";
    ::closesocket(s);
    return false;
  }
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, static_cast<int>(s));
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_set1_host(ssl, "localhost");
  const bool ok = SSL_connect(ssl) == 1 && SSL_get_verify_result(ssl) == X509_V_OK;
  *why = X509_verify_cert_error_string(SSL_get_verify_result(ssl));
  if (ok) SSL_shutdown(ssl);
  SSL_free(ssl);
  ::closesocket(s);
  ERR_clear_error();
  return ok;
}

// A client context as the agent's: peer verification, no CA file, the OS store imported.
SSL_CTX* ClientContext(http::OsTrust* trust) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  *trust = http::LoadOsTrustStore(ctx);
  return ctx;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  std::string ca;
  int good_port = 0, other_port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--ca") ca = argv[i + 1];
    if (flag == "--good-port") good_port = std::stoi(argv[i + 1]);
    if (flag == "--other-port") other_port = std::stoi(argv[i + 1]);
  }
  WSADATA wsa;
  ::WSAStartup(MAKEWORD(2, 2), &wsa);
  const std::string der = DerFromPemFile(ca);
  CHECK(!der.empty());

  // Before: the test CA is in no store, so its server is refused.
  http::OsTrust before;
  SSL_CTX* ctx = ClientContext(&before);
  std::printf("trust: before adding the test CA: %s\n", http::DescribeOsTrust(before).c_str());
  CHECK(before.name == "Windows ROOT store" && before.problem.empty());
  std::string why;
  CHECK(!Handshake(ctx, good_port, &why));
  std::printf("trust: test CA not yet trusted: refused (%s)\n", why.c_str());
  SSL_CTX_free(ctx);

  CHECK(ChangeUserRoot(der, true));
  auto listed = env::OsRootCertificates();
  CHECK(listed.ok() && StoreHas(*listed, der));
  http::OsTrust after;
  ctx = ClientContext(&after);
  std::printf("trust: after adding it: %s\n", http::DescribeOsTrust(after).c_str());
  CHECK(after.certificates == before.certificates + 1);
  CHECK(Handshake(ctx, good_port, &why));
  std::printf("trust: server of the test CA, no ca_file: %s\n", why.c_str());
  CHECK(!Handshake(ctx, other_port, &why));
  std::printf("trust: server of a CA in no store: refused (%s)\n", why.c_str());
  CHECK(why.find("unable to get local issuer") != std::string::npos);
  SSL_CTX_free(ctx);

  // Clean-up, best effort: wine 8 reports the deletion done but keeps listing the certificate (each run
  // makes a new CA, so a leftover does not change the next run's checks).
  CHECK(ChangeUserRoot(der, false));
  listed = env::OsRootCertificates();
  if (listed.ok() && StoreHas(*listed, der)) std::printf("trust: the test CA is still listed after its removal\n");
  ::WSACleanup();
  const int failures = opescare::wintest::failures;
  std::printf(failures == 0 ? "trust_check: all checks passed\n" : "trust_check: %d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
