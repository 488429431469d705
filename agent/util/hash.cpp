// SHA-256 through OpenSSL's EVP interface; UUIDv7 from the clock and RAND_bytes.
#include "agent/util/hash.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

namespace opescare {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->ctx && EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(impl_->ctx);
    impl_->ctx = nullptr;  // Finish says so
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::Update(std::string_view bytes) {
  if (impl_->ctx && EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size()) != 1) {
    EVP_MD_CTX_free(impl_->ctx);
    impl_->ctx = nullptr;
  }
}

Result<Sha256Digest> Sha256::Finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  if (!impl_->ctx || EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1)
    return Internal("OpenSSL cannot compute SHA-256 (out of memory?); the work is retried later");
  return out;
}

Sha256Digest Sha256Of(std::string_view bytes) {
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) return Sha256Digest{};
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  Sha256Digest d{};
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), d.data(), &len, EVP_sha256(), nullptr) != 1) return "";
  return HexEncode(d);
}

Result<std::string> Sha256HexOfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(path + ": cannot open: " + std::strerror(errno));
  Sha256 h;
  std::string buf(1 << 16, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.Update(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) return IoError(path + ": read failed");
  Result<Sha256Digest> digest = h.Finish();
  if (!digest.ok()) return digest.status();
  return HexEncode(*digest);
}

std::string HexEncode(const uint8_t* data, size_t size) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

Result<std::string> NewUuid() {
  uint8_t b[16];
  if (RAND_bytes(b, sizeof b) != 1) return Internal("OpenSSL's random generator failed; retried later");
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  b[6] = static_cast<uint8_t>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3f));  // RFC 4122 variant
  std::string hex = HexEncode(b, sizeof b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

}  // namespace opescare
