// Where the system's trusted CAs are, found the way Go's crypto/x509 does on Linux: the packaged binary
// carries its own OpenSSL, whose built-in OPENSSLDIR is the build machine's and may not exist here.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace opescare::http {

struct CaBundle {
  std::string file;               // PEM bundle to load; empty: none found
  std::vector<std::string> dirs;  // hashed certificate directories (OpenSSL CApath), each existing
  std::string source;             // "SSL_CERT_FILE", "SSL_CERT_DIR", "known path", or "" when nothing found
  std::string dirs_source;        // where dirs came from: "SSL_CERT_DIR" or "known path" ("" when none)
  int hashed_certificates = 0;    // names in dirs that OpenSSL can look a certificate up by (see below)
};

// The known bundle files, in the order tried (Go's certFiles) and the directories (Go's certDirectories).
const std::vector<std::string>& KnownCaFiles();
const std::vector<std::string>& KnownCaDirs();

// SSL_CERT_FILE (alone) when set, else the first known file that exists; SSL_CERT_DIR (':'-separated)
// when set, else the known directories that exist. Pure: the environment and the file system are given.
CaBundle FindCaBundle(const std::function<std::string(const char*)>& getenv,
                      const std::function<bool(const std::string&)>& exists);

// The same against the real environment and file system, hashed_certificates counted in the directories.
CaBundle FindSystemCaBundle();

// An OpenSSL hashed-directory name: the subject hash in 8 lowercase hex digits, '.', a number ("5ad8a5d6.0"),
// as c_rehash, `openssl rehash` and update-ca-certificates make them. A CRL's ("5ad8a5d6.r0") is not one.
bool IsHashedCertificateName(std::string_view name);
int CountHashedCertificates(const std::vector<std::string>& names);

// Whether to parse bundle.file whole at start-up. That costs ~100 ms and ~1 MB for the 140 certificates of a
// distribution's bundle, so the file is left unread when its directories hold hashed certificates: OpenSSL
// then reads from them only the certificates a handshake needs. SSL_CERT_FILE is always loaded (the admin
// chose it), and a bundle with no hashed directory beside it (Fedora, RHEL, or no c_rehash run) too.
bool LoadCaFileWhole(const CaBundle& bundle);

}  // namespace opescare::http
