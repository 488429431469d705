// JSON string escaping, eight bytes at a time where nothing needs escaping.
#include "agent/util/json_text.h"

#include <cstdint>
#include <cstring>

namespace opescare {
namespace {

// True when any of the 8 bytes in w is a control character, '"' or '\\' (SWAR, no per-byte branches).
inline bool NeedsEscape8(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  uint64_t control = (w - kOnes * 0x20) & ~w;  // high bit set for bytes < 0x20 (bytes >= 0x80 masked by ~w)
  uint64_t q = w ^ (kOnes * '"'), b = w ^ (kOnes * '\\');
  uint64_t quote = (q - kOnes) & ~q, backslash = (b - kOnes) & ~b;
  return ((control | quote | backslash) & kHighs) != 0;
}

}  // namespace

void AppendJsonString(std::string& out_ref, std::string_view value) {
  std::string* out = &out_ref;
  static const char* kHex = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  size_t i = 0;
  const size_t n = value.size();
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, value.data() + i, 8);
      if (!NeedsEscape8(w)) {
        i += 8;
        continue;
      }
    }
    auto c = static_cast<uint8_t>(value[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out->append(value.data() + run, i - run);
    run = ++i;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(esc, 6);
      }
    }
  }
  out->append(value.data() + run, n - run);
  out->push_back('"');
}

}  // namespace opescare
