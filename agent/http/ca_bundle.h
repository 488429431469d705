// Where the system's trusted CAs are, found the way Go's crypto/x509 does on Linux: the packaged binary
// carries its own OpenSSL, whose built-in OPENSSLDIR is the build machine's and may not exist here.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace opescare::http {

struct CaBundle {
  std::string file;               // PEM bundle to load; empty: none found
  std::vector<std::string> dirs;  // hashed certificate directories (OpenSSL CApath), each existing
  std::string source;             // "SSL_CERT_FILE", "SSL_CERT_DIR", "known path", or "" when nothing found
};

// The known bundle files, in the order tried (Go's certFiles) and the directories (Go's certDirectories).
const std::vector<std::string>& KnownCaFiles();
const std::vector<std::string>& KnownCaDirs();

// SSL_CERT_FILE (alone) when set, else the first known file that exists; SSL_CERT_DIR (':'-separated)
// when set, else the known directories that exist. Pure: the environment and the file system are given.
CaBundle FindCaBundle(const std::function<std::string(const char*)>& getenv,
                      const std::function<bool(const std::string&)>& exists);

// The same against the real environment and file system.
CaBundle FindSystemCaBundle();

}  // namespace opescare::http
