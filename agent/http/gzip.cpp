// gzip compression and bounded decompression with libdeflate (see gzip.h).
#include "agent/http/gzip.h"

#include <libdeflate.h>

#include <algorithm>
#include <cstdint>
#include <memory>

namespace opescare::http {
Result<std::string> GzipCompress(std::string_view data, int level) {
  if (level < kMinGzipLevel || level > kMaxGzipLevel) {
    return InvalidArgument("gzip level " + std::to_string(level) + " is outside " + std::to_string(kMinGzipLevel) +
                           ".." + std::to_string(kMaxGzipLevel));
  }
  // One compressor per call: no memory held between batches (allocating it costs little beside a
  // 175 KB body; bench/gzip_bench measures the agent's call as it is).
  std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)> compressor(
      libdeflate_alloc_compressor(level), libdeflate_free_compressor);
  if (!compressor) return ResourceExhausted("no memory for a gzip compressor");
  std::string out(libdeflate_gzip_compress_bound(compressor.get(), data.size()), '\0');
  size_t n = libdeflate_gzip_compress(compressor.get(), data.data(), data.size(), out.data(), out.size());
  if (n == 0) return Internal("libdeflate_gzip_compress failed");  // cannot happen with the bound's room
  out.resize(n);
  return out;
}

Result<std::string> GzipDecompress(std::string_view data, size_t max_output, size_t* consumed) {
  std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> decompressor(
      libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
  if (!decompressor) return ResourceExhausted("no memory for a gzip decompressor");
  max_output = std::min(max_output, SIZE_MAX - 1);
  // libdeflate inflates into a buffer given beforehand. The first try is the size the trailer states (ISIZE,
  // the size mod 2^32, in the last 4 bytes) when that is within the bound; it is wrong when another member or
  // other bytes follow, at 4 GiB or more, or when it lies, and then the second try has the whole bound.
  size_t stated = max_output + 1;
  if (data.size() >= 18) {  // the smallest gzip member: a 10-byte header, an empty block, the 8-byte trailer
    const auto* tail = reinterpret_cast<const unsigned char*>(data.data() + data.size() - 4);
    stated = std::min<size_t>(stated, tail[0] | tail[1] << 8 | tail[2] << 16 | uint32_t{tail[3]} << 24);
  }
  std::string out;
  for (size_t room : {stated, max_output + 1}) {
    out.resize(room);
    size_t in_used = 0, out_used = 0;
    libdeflate_result rc = libdeflate_gzip_decompress_ex(decompressor.get(), data.data(), data.size(), out.data(),
                                                         out.size(), &in_used, &out_used);
    if (rc == LIBDEFLATE_SUCCESS && out_used <= max_output) {
      out.resize(out_used);
      if (consumed) *consumed = in_used;
      return out;
    }
    if (rc != LIBDEFLATE_SUCCESS && rc != LIBDEFLATE_INSUFFICIENT_SPACE) {
      return InvalidArgument("invalid or truncated gzip data");
    }
    if (room > max_output) break;  // the whole bound was tried
  }
  return ResourceExhausted("gzip data expands beyond " + std::to_string(max_output) + " bytes");
}

}  // namespace opescare::http
