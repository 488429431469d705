// Certificate generation for the TLS tests, with the OpenSSL 3 API (see test_pki.h).
#include "test_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace opescare::testing {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL test PKI: ") + what);
}

KeyPtr NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  Check(key != nullptr, "EVP_EC_gen");
  return key;
}

std::string KeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  Check(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "write key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  Check(PEM_write_bio_X509(bio, cert) == 1, "write cert");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

KeyPtr ReadKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  KeyPtr key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr), &EVP_PKEY_free);
  BIO_free(bio);
  Check(key != nullptr, "read key");
  return key;
}

CertPtr ReadCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  CertPtr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr), &X509_free);
  BIO_free(bio);
  Check(cert != nullptr, "read cert");
  return cert;
}

void AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr, "extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// Makes a certificate for key, signed by issuer_key (issuer_cert null: self-signed).
Pem Make(const CertSpec& spec, bool ca, X509* issuer_cert, EVP_PKEY* issuer_key) {
  KeyPtr key = NewKey();
  CertPtr cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(spec.valid_from.count()));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(spec.valid_until.count()));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("OpesCare Bridge Tests"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer_cert ? X509_get_subject_name(issuer_cert) : name);
  X509_set_pubkey(cert.get(), key.get());
  X509* issuer_for_ext = issuer_cert ? issuer_cert : cert.get();
  AddExt(cert.get(), issuer_for_ext, NID_subject_key_identifier, "hash");
  AddExt(cert.get(), issuer_for_ext, NID_authority_key_identifier, "keyid:always");
  if (ca) {
    AddExt(cert.get(), issuer_for_ext, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert.get(), issuer_for_ext, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(cert.get(), issuer_for_ext, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(cert.get(), issuer_for_ext, NID_key_usage, "critical,digitalSignature");
    AddExt(cert.get(), issuer_for_ext, NID_ext_key_usage, spec.client ? "clientAuth" : "serverAuth");
    std::string san;
    for (const auto& d : spec.dns) san += (san.empty() ? "" : ",") + ("DNS:" + d);
    for (const auto& ip : spec.ips) san += (san.empty() ? "" : ",") + ("IP:" + ip);
    if (!san.empty()) AddExt(cert.get(), issuer_for_ext, NID_subject_alt_name, san);
  }
  Check(X509_sign(cert.get(), issuer_key ? issuer_key : key.get(), EVP_sha256()) > 0, "sign");
  return Pem{CertPem(cert.get()), KeyPem(key.get())};
}

}  // namespace

struct TestPki::Impl {
  Pem trusted;
  Pem untrusted;
};

TestPki::TestPki() : impl_(std::make_unique<Impl>()) {
  CertSpec root;
  root.dns.clear();
  root.ips.clear();
  root.valid_until = std::chrono::hours(24 * 365);
  root.common_name = "OB Test Root CA";
  impl_->trusted = Make(root, true, nullptr, nullptr);
  root.common_name = "OB Untrusted Root CA";
  impl_->untrusted = Make(root, true, nullptr, nullptr);
}

TestPki::~TestPki() = default;

const Pem& TestPki::trusted_root() const { return impl_->trusted; }
const Pem& TestPki::untrusted_root() const { return impl_->untrusted; }

Pem TestPki::Issue(const CertSpec& spec, bool by_untrusted_root) const {
  const Pem& root = by_untrusted_root ? impl_->untrusted : impl_->trusted;
  CertPtr root_cert = ReadCert(root.cert);
  KeyPtr root_key = ReadKey(root.key);
  return Make(spec, false, root_cert.get(), root_key.get());
}

Pem TestPki::SelfSigned(const CertSpec& spec) const { return Make(spec, false, nullptr, nullptr); }

std::string TestPki::WriteFile(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ob-http-test-XXXXXX").string();
  Check(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace opescare::testing
