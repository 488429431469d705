// The system CA bundle search, Go's order, against a fake environment and file system.
#include "agent/http/ca_bundle.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace opescare::http {
namespace {

struct FakeSystem {
  std::map<std::string, std::string> env;
  std::set<std::string> files;
  CaBundle Find() const {
    return FindCaBundle(
        [this](const char* name) {
          auto it = env.find(name);
          return it == env.end() ? std::string() : it->second;
        },
        [this](const std::string& path) { return files.count(path) != 0; });
  }
};

TEST(CaBundle, KnownFilesInGosOrder) {
  EXPECT_EQ(KnownCaFiles(),
            (std::vector<std::string>{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                                      "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/cacert.pem",
                                      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem"}));
  EXPECT_EQ(KnownCaDirs(), (std::vector<std::string>{"/etc/ssl/certs", "/etc/pki/tls/certs"}));
}

TEST(CaBundle, DebianFileAndItsHashedDirectory) {
  FakeSystem sys{{}, {"/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs", "/etc/ssl/cert.pem"}};
  CaBundle b = sys.Find();
  EXPECT_EQ(b.file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(b.dirs, std::vector<std::string>{"/etc/ssl/certs"});
  EXPECT_EQ(b.source, "known path");
}

TEST(CaBundle, EachDistributionsFileIsFound) {
  for (const auto& f : KnownCaFiles()) {
    FakeSystem sys{{}, {f}};
    CaBundle b = sys.Find();
    EXPECT_EQ(b.file, f);
    EXPECT_TRUE(b.dirs.empty());
  }
}

TEST(CaBundle, FirstInOrderWinsOnRhel) {
  FakeSystem sys{
      {},
      {"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/pki/tls/certs"}};
  CaBundle b = sys.Find();
  EXPECT_EQ(b.file, "/etc/pki/tls/certs/ca-bundle.crt");
  EXPECT_EQ(b.dirs, std::vector<std::string>{"/etc/pki/tls/certs"});
}

TEST(CaBundle, SslCertFileReplacesTheList) {
  FakeSystem sys{{{"SSL_CERT_FILE", "/opt/ca.pem"}}, {"/opt/ca.pem", "/etc/ssl/certs/ca-certificates.crt"}};
  CaBundle b = sys.Find();
  EXPECT_EQ(b.file, "/opt/ca.pem");
  EXPECT_EQ(b.source, "SSL_CERT_FILE");
  // Set but missing: the list is not tried behind the admin's back.
  sys.files.erase("/opt/ca.pem");
  EXPECT_EQ(sys.Find().file, "");
}

TEST(CaBundle, SslCertDirIsColonSeparatedAndReplacesTheDirectories) {
  FakeSystem sys{{{"SSL_CERT_DIR", "/a:/missing::/b"}}, {"/a", "/b", "/etc/ssl/certs"}};
  CaBundle b = sys.Find();
  EXPECT_EQ(b.file, "");
  EXPECT_EQ(b.dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(b.source, "SSL_CERT_DIR");
}

TEST(CaBundle, NothingFound) {
  FakeSystem sys;
  CaBundle b = sys.Find();
  EXPECT_EQ(b.file, "");
  EXPECT_TRUE(b.dirs.empty());
  EXPECT_EQ(b.source, "");
}

}  // namespace
}  // namespace opescare::http
