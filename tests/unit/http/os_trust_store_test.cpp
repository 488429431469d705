// Tests for importing an OS trust store's DER certificates into OpenSSL (Windows' ROOT store on
// Windows; tests/windows/trust_check.cpp does it against the real store under wine).
#include "agent/http/os_trust_store.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "tests/unit/http/test_pki.h"

namespace opescare::http {
namespace {

std::string DerOf(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  unsigned char* out = nullptr;
  const int n = i2d_X509(cert, &out);
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  X509_free(cert);
  return der;
}

// Whether `leaf_pem` verifies against ctx's store (chain and signature only).
bool Verifies(SSL_CTX* ctx, const std::string& leaf_pem) {
  BIO* bio = BIO_new_mem_buf(leaf_pem.data(), static_cast<int>(leaf_pem.size()));
  X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  X509_STORE_CTX* verify = X509_STORE_CTX_new();
  X509_STORE_CTX_init(verify, SSL_CTX_get_cert_store(ctx), leaf, nullptr);
  const bool ok = X509_verify_cert(verify) == 1;
  X509_STORE_CTX_free(verify);
  X509_free(leaf);
  return ok;
}

TEST(AddDerCertificatesTest, ImportedRootsAreTrustedAndGarbageIsSkipped) {
  testing::TestPki pki;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  const std::string leaf = pki.Issue({}).cert;
  EXPECT_FALSE(Verifies(ctx, leaf));
  EXPECT_EQ(AddDerCertificates(ctx, {DerOf(pki.trusted_root().cert), "not a certificate", ""}), 1);
  EXPECT_TRUE(Verifies(ctx, leaf));
  EXPECT_FALSE(Verifies(ctx, pki.Issue({}, /*by_untrusted_root=*/true).cert));
  SSL_CTX_free(ctx);
}

TEST(OsTrustTest, NoStoreOffWindowsAndTheDescriptions) {
#ifndef _WIN32
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  const OsTrust none = LoadOsTrustStore(ctx);
  EXPECT_EQ(none.name, "");
  EXPECT_EQ(none.certificates, 0);
  EXPECT_EQ(DescribeOsTrust(none), "");
  SSL_CTX_free(ctx);
#endif
  EXPECT_EQ(DescribeOsTrust({"Windows ROOT store", 132, ""}), "Windows ROOT store (132 certificates)");
  EXPECT_EQ(DescribeOsTrust({"Windows ROOT store", 0, "opening it: access denied"}),
            "Windows ROOT store not read (opening it: access denied)");
}

}  // namespace
}  // namespace opescare::http
