// Encoding detection and conversion to UTF-8 for CSV exports.
#include "agent/connectors/csv_folder/text_encoding.h"

#include <cstring>

namespace opescare::csv_folder {
namespace {

// Windows-1252 0x80-0x9F; 0 marks the five undefined bytes. 0xA0-0xFF equal U+00A0-U+00FF.
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,  // 80-87
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,       // 88-8F
    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,  // 90-97
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,  // 98-9F
};

void AppendCodePoint(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

// For a UTF-8 lead byte: how many continuation bytes follow and the range of the first one; -1 if the byte
// cannot start a sequence.
int LeadInfo(uint8_t b, uint8_t* lo, uint8_t* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (b < 0x80) return 0;
  if (b < 0xC2) return -1;
  if (b < 0xE0) return 1;
  if (b < 0xF0) {
    if (b == 0xE0) *lo = 0xA0;
    if (b == 0xED) *hi = 0x9F;  // no UTF-16 surrogates
    return 2;
  }
  if (b < 0xF5) {
    if (b == 0xF0) *lo = 0x90;
    if (b == 0xF4) *hi = 0x8F;  // nothing above U+10FFFF
    return 3;
  }
  return -1;
}

}  // namespace

Result<Encoding> ParseEncoding(std::string_view name) {
  if (EqualsIgnoreCase(name, "auto")) return Encoding::kAuto;
  if (EqualsIgnoreCase(name, "utf-8") || EqualsIgnoreCase(name, "utf8")) return Encoding::kUtf8;
  if (EqualsIgnoreCase(name, "windows-1252") || EqualsIgnoreCase(name, "cp1252")) return Encoding::kWindows1252;
  if (EqualsIgnoreCase(name, "latin-1") || EqualsIgnoreCase(name, "latin1") || EqualsIgnoreCase(name, "iso-8859-1"))
    return Encoding::kLatin1;
  return InvalidArgument("unknown encoding \"" + std::string(name) +
                         "\" (allowed: auto, utf-8, windows-1252, latin-1)");
}

const char* EncodingName(Encoding encoding) {
  switch (encoding) {
    case Encoding::kAuto:
      return "auto";
    case Encoding::kUtf8:
      return "utf-8";
    case Encoding::kWindows1252:
      return "windows-1252";
    case Encoding::kLatin1:
      return "latin-1";
  }
  return "?";
}

std::string DecodeError::Describe(Encoding encoding) const {
  static const char* kHex = "0123456789ABCDEF";
  std::string hex = "0x";
  hex += kHex[byte >> 4];
  hex += kHex[byte & 15];
  if (byte == 0) return "NUL byte (binary data, or a UTF-16 file: export as UTF-8 or Windows-1252)";
  switch (encoding) {
    case Encoding::kWindows1252:
      return "byte " + hex + " is undefined in Windows-1252";
    case Encoding::kLatin1:
      return "byte " + hex + " is a control code, not a character, in Latin-1 (try windows-1252)";
    default:
      return "invalid UTF-8 (byte " + hex + ")";
  }
}

size_t FindInvalidUtf8(std::string_view in) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t n = in.size(), i = 0;
  while (i < n) {
    // Skip ASCII eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    uint8_t lo, hi;
    int need = LeadInfo(b, &lo, &hi);
    if (need < 0) return i;
    size_t start = i++;
    for (int k = 0; k < need; ++k, ++i) {
      if (i >= n || p[i] < lo || p[i] > hi) return start;  // report the sequence's lead byte
      lo = 0x80;
      hi = 0xBF;
    }
  }
  return std::string_view::npos;
}

bool AppendAsUtf8(Encoding encoding, std::string_view in, std::string* out, DecodeError* error) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t n = in.size();
  if (encoding == Encoding::kUtf8 || encoding == Encoding::kAuto) {
    size_t bad = FindInvalidUtf8(in);
    if (bad == std::string_view::npos) {
      const void* nul = std::memchr(in.data(), 0, n);
      if (nul == nullptr) {
        out->append(in);
        return true;
      }
      bad = static_cast<size_t>(static_cast<const char*>(nul) - in.data());
    }
    error->offset = bad;
    error->byte = p[bad];
    return false;
  }
  out->reserve(out->size() + n + n / 2);
  for (size_t i = 0; i < n; ++i) {
    uint8_t b = p[i];
    if (b != 0 && b < 0x80) {
      out->push_back(static_cast<char>(b));
      continue;
    }
    uint32_t cp = b;
    if (b == 0 || (b < 0xA0 && (encoding == Encoding::kLatin1 || (cp = kCp1252High[b - 0x80]) == 0))) {
      error->offset = i;
      error->byte = b;
      return false;
    }
    AppendCodePoint(cp, out);
  }
  return true;
}

void Utf8Scanner::Update(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size(), i = 0;
  while (i < n) {
    if (need_ == 0) {
      while (i + 8 <= n) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ULL) break;
        i += 8;
      }
      if (i >= n) break;
      uint8_t b = p[i++];
      if (b < 0x80) continue;
      int need = LeadInfo(b, &next_lo_, &next_hi_);
      if (need < 0) {
        ++invalid_;
      } else {
        need_ = need;
      }
      continue;
    }
    uint8_t b = p[i];
    if (b < next_lo_ || b > next_hi_) {
      ++invalid_;  // truncated sequence: this byte starts afresh
      need_ = 0;
      continue;
    }
    ++i;
    next_lo_ = 0x80;
    next_hi_ = 0xBF;
    if (--need_ == 0) ++valid_multibyte_;
  }
}

void Utf8Scanner::Finish() {
  if (need_ != 0) ++invalid_;
  need_ = 0;
}

Encoding Utf8Scanner::Verdict() const {
  if (invalid_ == 0 || valid_multibyte_ > 0) return Encoding::kUtf8;
  return Encoding::kWindows1252;
}

}  // namespace opescare::csv_folder
