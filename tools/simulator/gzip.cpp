// zlib inflate with gzip framing (windowBits 16 + MAX_WBITS).
#include "tools/simulator/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

namespace opescare::simulator {

Result<std::string> GzipInflate(std::string_view input, size_t max_output) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Internal("zlib inflateInit2 failed");
  std::string out;
  // JSON usually compresses 5-10x; start there and grow, never past the cap (+1 to detect overflow).
  out.resize(std::min(max_output + 1, std::max<size_t>(input.size() * 8, 4096)));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  size_t in_left = input.size();
  size_t produced = 0;
  int rc = Z_OK;
  while (true) {
    if (zs.avail_in == 0 && in_left > 0) {
      zs.avail_in = static_cast<uInt>(std::min<size_t>(in_left, UINT_MAX));
      in_left -= zs.avail_in;
    }
    if (produced == out.size()) {
      if (out.size() > max_output) break;
      out.resize(std::min(max_output + 1, out.size() * 2));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, UINT_MAX));
    size_t before = zs.avail_out;
    rc = inflate(&zs, Z_NO_FLUSH);
    produced += before - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) break;  // truncated input
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
  }
  bool trailing = zs.avail_in > 0 || in_left > 0;
  inflateEnd(&zs);
  if (produced > max_output) {
    return ResourceExhausted("gzip body inflates beyond " + std::to_string(max_output) + " bytes");
  }
  if (rc != Z_STREAM_END) return InvalidArgument("request body is not valid gzip");
  if (trailing) return InvalidArgument("request body has bytes after the gzip stream");
  out.resize(produced);
  return out;
}

}  // namespace opescare::simulator
