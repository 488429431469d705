// The system CAs read on demand from a hashed directory instead of parsing the whole bundle at start-up
// (issue 11: ~100 ms of the start to the first heartbeat): the pure choice, and real handshakes trusted
// through SSL_CERT_DIR alone, with a control that the directory is what trusts.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "agent/http/ca_bundle.h"
#include "agent/http/client.h"
#include "agent/http/tls_context.h"
#include "test_pki.h"
#include "test_server.h"

namespace opescare::http {
namespace {

using namespace std::chrono_literals;
using opescare::testing::CertSpec;
using opescare::testing::HttpResponse;
using opescare::testing::ReceivedRequest;
using opescare::testing::Reply;
using opescare::testing::ServerTls;
using opescare::testing::TempDir;
using opescare::testing::TestPki;
using opescare::testing::TestServer;

TEST(HashedCertificateName, OnlyASubjectHashDotNumber) {
  EXPECT_TRUE(IsHashedCertificateName("5ad8a5d6.0"));
  EXPECT_TRUE(IsHashedCertificateName("002c0b4f.12"));
  EXPECT_FALSE(IsHashedCertificateName("5ad8a5d6.r0"));  // a CRL
  EXPECT_FALSE(IsHashedCertificateName("5AD8A5D6.0"));   // OpenSSL writes lowercase
  EXPECT_FALSE(IsHashedCertificateName("5ad8a5d6."));
  EXPECT_FALSE(IsHashedCertificateName("5ad8a5d.0"));
  EXPECT_FALSE(IsHashedCertificateName("ca-certificates.crt"));
  EXPECT_FALSE(IsHashedCertificateName("ISRG_Root_X1.pem"));
  EXPECT_EQ(CountHashedCertificates({"5ad8a5d6.0", "5ad8a5d6.1", "ISRG_Root_X1.pem", "ca-certificates.crt"}), 2);
}

TEST(LoadCaFileWhole, SkippedOnlyForAKnownFileBesideAHashedDirectory) {
  CaBundle debian{"/etc/ssl/certs/ca-certificates.crt", {"/etc/ssl/certs"}, "known path", "known path", 146};
  EXPECT_FALSE(LoadCaFileWhole(debian));
  CaBundle not_rehashed = debian;
  not_rehashed.hashed_certificates = 0;  // Fedora's /etc/pki/tls/certs, or no c_rehash run
  EXPECT_TRUE(LoadCaFileWhole(not_rehashed));
  CaBundle chosen = debian;
  chosen.file = "/opt/ca.pem";
  chosen.source = "SSL_CERT_FILE";  // the admin's bundle is always read
  EXPECT_TRUE(LoadCaFileWhole(chosen));
  CaBundle dirs_only{"", {"/etc/ssl/certs"}, "known path", "known path", 146};
  EXPECT_FALSE(LoadCaFileWhole(dirs_only));
}

// SSL_CERT_FILE unset and SSL_CERT_DIR set for one test; the process's values come back after it.
class ScopedCertEnv {
 public:
  explicit ScopedCertEnv(const std::string& dir) : file_(Get("SSL_CERT_FILE")), dir_(Get("SSL_CERT_DIR")) {
    ::unsetenv("SSL_CERT_FILE");
    ::setenv("SSL_CERT_DIR", dir.c_str(), 1);
  }
  ~ScopedCertEnv() {
    Put("SSL_CERT_FILE", file_);
    Put("SSL_CERT_DIR", dir_);
  }

 private:
  static std::optional<std::string> Get(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  }
  static void Put(const char* name, const std::optional<std::string>& v) {
    if (v)
      ::setenv(name, v->c_str(), 1);
    else
      ::unsetenv(name);
  }
  std::optional<std::string> file_, dir_;
};

std::string SubjectHashName(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  char name[32];
  std::snprintf(name, sizeof name, "%08lx.0", cert ? X509_subject_name_hash(cert) : 0UL);
  X509_free(cert);
  return name;
}

class SystemCaTest : public ::testing::Test {
 protected:
  const TestPki& Pki() {
    static const TestPki* pki = new TestPki();
    return *pki;
  }
  // One heartbeat-like POST over a client with no http.ca_file: only the system CAs can trust the server.
  Outcome Send(const std::shared_ptr<TlsContext>& tls, uint16_t port) {
    ClientOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(port);
    o.connect_timeout = 3s;
    o.request_timeout = 5s;
    auto log = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>());
    auto client = Client::Create(io_, o, tls, log);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    std::optional<Outcome> result;
    Request r;
    r.method = "POST";
    r.target = "/api/v1/bridge/heartbeat";
    r.body = "{}";
    (*client)->Send(std::move(r), [&](Outcome out) {
      result = std::move(out);
      io_.stop();
    });
    io_.restart();
    io_.run_for(10s);
    EXPECT_TRUE(result.has_value()) << "no completion within 10 s";
    return result ? *result : Outcome{};
  }
  ServerTls Tls() {
    auto pem = Pki().Issue(CertSpec{});
    ServerTls tls;
    tls.cert_chain_pem = pem.cert;
    tls.key_pem = pem.key;
    return tls;
  }
  boost::asio::io_context io_;
};

TEST_F(SystemCaTest, AHashedDirectoryTrustsOnDemandWithoutParsingTheBundle) {
  TempDir certs;
  TestPki::WriteFile(certs.path(), SubjectHashName(Pki().trusted_root().cert), Pki().trusted_root().cert);
  ScopedCertEnv env(certs.path());
  auto tls = TlsContext::Create(ClientOptions{});
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  EXPECT_EQ((*tls)->system_ca().hashed_certificates, 1);
  EXPECT_EQ((*tls)->system_ca_certificates(), 0);  // nothing parsed at start-up
  std::string trust = (*tls)->TrustDescription();
  if (!(*tls)->system_ca().file.empty()) {  // this machine has a distribution bundle: it is left unread
    EXPECT_EQ(trust, "system CAs: " + certs.path() + " (SSL_CERT_DIR, 1 certificates, read on demand; " +
                         (*tls)->system_ca().file + " not loaded)");
  } else {
    EXPECT_EQ(trust, "system CAs: " + certs.path());
  }
  TestServer server(Tls(), [](const ReceivedRequest&) { return Reply{HttpResponse(200, "{}")}; });
  Outcome o = Send(*tls, server.port());
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_TRUE(o.verified_tls);
}

TEST_F(SystemCaTest, WithoutTheHashedCertificateTheSameServerIsRefused) {
  TempDir certs;
  TestPki::WriteFile(certs.path(), "5ad8a5d6.0", Pki().untrusted_root().cert);  // hashed, but another CA
  ScopedCertEnv env(certs.path());
  auto tls = TlsContext::Create(ClientOptions{});
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  TestServer server(Tls(), [](const ReceivedRequest&) { return Reply{HttpResponse(200, "{}")}; });
  Outcome o = Send(*tls, server.port());
  EXPECT_EQ(o.stage, FailureStage::kTlsVerify) << o.error;
  EXPECT_EQ(server.requests().size(), 0u);
}

}  // namespace
}  // namespace opescare::http
