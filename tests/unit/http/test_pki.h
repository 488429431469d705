// Test support: certificates made with the OpenSSL API (a trusted CA, an untrusted CA, leaves that are
// valid, expired, not yet valid, for the wrong host, self-signed), as PEM text and files.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace opescare::testing {

struct Pem {
  std::string cert;  // the certificate (for a leaf issued by a CA: the leaf alone)
  std::string key;   // its private key (PKCS#8 PEM)
};

struct CertSpec {
  std::string common_name = "localhost";
  std::vector<std::string> dns = {"localhost"};
  std::vector<std::string> ips = {"127.0.0.1"};
  std::chrono::seconds valid_from{-3600};  // relative to now
  std::chrono::seconds valid_until{86400};
  bool client = false;  // extendedKeyUsage clientAuth instead of serverAuth
};

// Two roots made at construction: the "trusted" one (tests give it to the client as ca_file) and
// an "untrusted" one nobody is told about. Keys are ECDSA P-256 (fast to make).
class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const Pem& trusted_root() const;
  const Pem& untrusted_root() const;
  Pem Issue(const CertSpec& spec, bool by_untrusted_root = false) const;
  Pem SelfSigned(const CertSpec& spec) const;

  // Writes text to <dir>/<name> and returns the path.
  static std::string WriteFile(const std::string& dir, const std::string& name, const std::string& text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A fresh directory under the system temp dir, removed with its content by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace opescare::testing
