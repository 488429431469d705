// The system CA bundle search (see ca_bundle.h).
#include "agent/http/ca_bundle.h"

#include <cstdlib>
#include <filesystem>

namespace opescare::http {

const std::vector<std::string>& KnownCaFiles() {
  static const std::vector<std::string> files = {
      "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Gentoo, Arch
      "/etc/pki/tls/certs/ca-bundle.crt",                   // Fedora, RHEL 6
      "/etc/ssl/ca-bundle.pem",                             // openSUSE, SLES
      "/etc/pki/tls/cacert.pem",                            // OpenELEC
      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // CentOS, RHEL 7+, Rocky, Alma
      "/etc/ssl/cert.pem",                                  // Alpine
  };
  return files;
}

const std::vector<std::string>& KnownCaDirs() {
  static const std::vector<std::string> dirs = {
      "/etc/ssl/certs",      // SLES 10/11, Debian's hashed links
      "/etc/pki/tls/certs",  // Fedora, RHEL
  };
  return dirs;
}

CaBundle FindCaBundle(const std::function<std::string(const char*)>& getenv,
                      const std::function<bool(const std::string&)>& exists) {
  CaBundle out;
  std::string env_file = getenv("SSL_CERT_FILE");
  std::string env_dir = getenv("SSL_CERT_DIR");
  if (!env_file.empty()) {
    // As in Go, a set SSL_CERT_FILE replaces the list: an admin who points at a bundle means that one.
    if (exists(env_file)) {
      out.file = env_file;
      out.source = "SSL_CERT_FILE";
    }
  } else {
    for (const auto& f : KnownCaFiles()) {
      if (exists(f)) {
        out.file = f;
        out.source = "known path";
        break;
      }
    }
  }
  if (!env_dir.empty()) {
    size_t start = 0;
    while (start <= env_dir.size()) {
      size_t end = env_dir.find(':', start);
      if (end == std::string::npos) end = env_dir.size();
      std::string d = env_dir.substr(start, end - start);
      if (!d.empty() && exists(d)) out.dirs.push_back(d);
      start = end + 1;
    }
    if (!out.dirs.empty() && out.source.empty()) out.source = "SSL_CERT_DIR";
    if (!out.dirs.empty()) out.dirs_source = "SSL_CERT_DIR";
  } else {
    for (const auto& d : KnownCaDirs()) {
      if (exists(d)) out.dirs.push_back(d);
    }
    if (!out.dirs.empty() && out.source.empty()) out.source = "known path";
    if (!out.dirs.empty()) out.dirs_source = "known path";
  }
  return out;
}

bool IsHashedCertificateName(std::string_view name) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (name.size() < 10 || name[8] != '.') return false;
  for (size_t i = 0; i < 8; ++i)
    if (!hex(name[i])) return false;
  for (size_t i = 9; i < name.size(); ++i)
    if (!digit(name[i])) return false;
  return true;
}

int CountHashedCertificates(const std::vector<std::string>& names) {
  int n = 0;
  for (const auto& name : names) n += IsHashedCertificateName(name) ? 1 : 0;
  return n;
}

bool LoadCaFileWhole(const CaBundle& bundle) {
  if (bundle.file.empty()) return false;
  return bundle.source == "SSL_CERT_FILE" || bundle.hashed_certificates == 0;
}

namespace {

std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  return names;
}

}  // namespace

CaBundle FindSystemCaBundle() {
  CaBundle out = FindCaBundle(
      [](const char* name) {
        const char* v = std::getenv(name);
        return std::string(v ? v : "");
      },
      [](const std::string& path) {
        std::error_code ec;
        return std::filesystem::exists(path, ec);
      });
  for (const auto& dir : out.dirs) out.hashed_certificates += CountHashedCertificates(ListNames(dir));
  return out;
}

}  // namespace opescare::http
