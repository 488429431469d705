// gzip compression with libdeflate and bounded decompression with zlib (see gzip.h).
#include "agent/http/gzip.h"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <memory>

namespace opescare::http {
namespace {
constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip wrapper
constexpr size_t kChunk = 64 * 1024;
}  // namespace

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

Result<std::string> GzipDecompress(std::string_view data, size_t max_output) {
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) return Internal("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  size_t in_left = data.size();
  std::string out;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0 && in_left > 0) {
      zs.avail_in = static_cast<uInt>(std::min<size_t>(in_left, UINT_MAX));
      in_left -= zs.avail_in;
    }
    size_t old = out.size();
    if (old > max_output) {
      inflateEnd(&zs);
      return ResourceExhausted("gzip data expands beyond " + std::to_string(max_output) + " bytes");
    }
    size_t grow = std::min(kChunk, max_output + 1 - old);
    out.resize(old + grow);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    zs.avail_out = static_cast<uInt>(grow);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + grow - zs.avail_out);
    // Z_BUF_ERROR: no progress was possible; with all input consumed that means a truncated stream.
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) {
      inflateEnd(&zs);
      return InvalidArgument("truncated gzip data");
    }
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      inflateEnd(&zs);
      return InvalidArgument("invalid gzip data");
    }
  }
  inflateEnd(&zs);
  if (out.size() > max_output) {
    return ResourceExhausted("gzip data expands beyond " + std::to_string(max_output) + " bytes");
  }
  return out;
}

}  // namespace opescare::http
