// Text encodings of CSV exports (UTF-8, Windows-1252, Latin-1): detection and conversion to UTF-8.
// Pure functions; bytes that are not text in the chosen encoding are reported, never replaced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/util/status.h"

namespace opescare::csv_folder {

enum class Encoding {
  kAuto,  // UTF-8 if the file is UTF-8, else Windows-1252 (see Utf8Scanner::Verdict)
  kUtf8,
  kWindows1252,  // Excel's default on French Windows; 0x81 0x8D 0x8F 0x90 0x9D are undefined
  kLatin1,       // ISO-8859-1; the C1 range 0x80-0x9F holds no characters and is refused
};

// "auto", "utf-8"/"utf8", "windows-1252"/"cp1252", "latin-1"/"latin1"/"iso-8859-1" (case-insensitive).
Result<Encoding> ParseEncoding(std::string_view name);
const char* EncodingName(Encoding encoding);

// Where decoding stopped: the offset of the first bad byte in the input and that byte.
struct DecodeError {
  size_t offset = 0;
  uint8_t byte = 0;
  // "invalid UTF-8 byte 0x81", "byte 0x81 is undefined in Windows-1252", "NUL byte"...
  std::string Describe(Encoding encoding) const;
};

// Appends `in`, encoded as `encoding` (not kAuto), to *out as UTF-8. NUL bytes are refused in every encoding
// (a text export never holds them; UTF-16 files are full of them). On failure *out is left with a partial
// append the caller discards, and *error says where.
bool AppendAsUtf8(Encoding encoding, std::string_view in, std::string* out, DecodeError* error);

// The offset of the first byte that makes `in` invalid UTF-8 (overlong forms, surrogates and code points
// above U+10FFFF are invalid), or npos.
size_t FindInvalidUtf8(std::string_view in);

// Streaming UTF-8 check over a whole file, fed in chunks of any size (the file hash pass feeds it), so
// `auto` is decided for the whole file before any row is parsed.
class Utf8Scanner {
 public:
  void Update(std::string_view bytes);
  // Call once at the end of input.
  void Finish();
  // kUtf8 when every sequence is valid UTF-8, or when the file holds valid multi-byte sequences as well as
  // invalid ones (a UTF-8 file with a few broken rows: decoding it as Windows-1252 would silently mangle
  // its good rows, so the broken rows become row errors instead); else kWindows1252.
  Encoding Verdict() const;
  // True once the verdict cannot change (a valid multi-byte sequence was seen): the rest need not be fed.
  bool decided() const { return valid_multibyte_ > 0; }
  uint64_t valid_multibyte() const { return valid_multibyte_; }
  uint64_t invalid() const { return invalid_; }

 private:
  int need_ = 0;            // continuation bytes still expected
  uint8_t next_lo_ = 0x80;  // range of the next continuation byte (narrowed after E0, ED, F0, F4)
  uint8_t next_hi_ = 0xBF;
  uint64_t valid_multibyte_ = 0;
  uint64_t invalid_ = 0;
};

}  // namespace opescare::csv_folder
