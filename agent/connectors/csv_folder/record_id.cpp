// Record ids via OpenSSL EVP, with the file-hash prefix absorbed once per file.
#include "agent/connectors/csv_folder/record_id.h"

#include <openssl/evp.h>

#include <charconv>

#include "agent/util/hash.h"

namespace opescare::csv_folder {

struct RecordIdMaker::Impl {
  EVP_MD_CTX* prefix = EVP_MD_CTX_new();  // state after "<sha>:"
  EVP_MD_CTX* work = EVP_MD_CTX_new();
  ~Impl() {
    EVP_MD_CTX_free(prefix);
    EVP_MD_CTX_free(work);
  }
};

RecordIdMaker::RecordIdMaker(std::string_view file_sha256_hex) : impl_(std::make_unique<Impl>()) {
  // Like Sha256 in agent/util/hash.h: a failure is a status (the file is retried later), never a throw.
  if (impl_->prefix == nullptr || impl_->work == nullptr ||
      EVP_DigestInit_ex(impl_->prefix, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(impl_->prefix, file_sha256_hex.data(), file_sha256_hex.size()) != 1 ||
      EVP_DigestUpdate(impl_->prefix, ":", 1) != 1)
    status_ = Internal("OpenSSL cannot set up SHA-256 for record ids (out of memory?); the file is retried later");
}

RecordIdMaker::~RecordIdMaker() = default;

void RecordIdMaker::Make(int64_t row, std::string* out) {
  static const char* kHex = "0123456789abcdef";
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, row);
  (void)ec;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX_copy_ex(impl_->work, impl_->prefix);
  EVP_DigestUpdate(impl_->work, digits, static_cast<size_t>(end - digits));
  EVP_DigestFinal_ex(impl_->work, md, &len);
  out->resize(34);
  (*out)[0] = 'r';
  (*out)[1] = '_';
  for (int i = 0; i < 16; ++i) {
    (*out)[2 + 2 * i] = kHex[md[i] >> 4];
    (*out)[3 + 2 * i] = kHex[md[i] & 15];
  }
}

std::string RecordId(std::string_view file_sha256_hex, int64_t row) {
  std::string input(file_sha256_hex);
  input += ':';
  input += std::to_string(row);
  return "r_" + Sha256Hex(input).substr(0, 32);
}

}  // namespace opescare::csv_folder
