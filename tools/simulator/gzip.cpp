// The simulator's gzip: the agent's bounded inflate (libdeflate), held to one member; zlib for answers.
#include "tools/simulator/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

#include "agent/http/gzip.h"

namespace opescare::simulator {

Result<std::string> GzipInflate(std::string_view input, size_t max_output) {
  size_t consumed = 0;
  Result<std::string> out = http::GzipDecompress(input, max_output, &consumed);
  if (!out.ok()) {
    if (out.status().code() == Code::kResourceExhausted) {
      return ResourceExhausted("gzip body inflates beyond " + std::to_string(max_output) + " bytes");
    }
    return InvalidArgument("request body is not valid gzip");
  }
  if (consumed != input.size()) return InvalidArgument("request body has bytes after the gzip stream");
  return out;
}

std::string GzipDeflate(std::string_view input) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(input.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  zs.avail_in = static_cast<uInt>(input.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);  // one call: the bound leaves room for everything
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

namespace {
std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
// The q-value of one element's parameters ("q=0.5"); 1 when absent or unreadable.
bool QAboveZero(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view p = Trim(params.substr(0, semi));
    if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      std::string_view v = Trim(p.substr(2));
      return v.find_first_not_of("0.") != std::string_view::npos;  // "0", "0.0", "0.000" are zero
    }
    if (semi == std::string_view::npos) break;
    params.remove_prefix(semi + 1);
  }
  return true;
}
}  // namespace

bool AcceptsGzip(std::string_view accept_encoding) {
  bool star = false, gzip = false, gzip_named = false;
  while (true) {
    size_t comma = accept_encoding.find(',');
    std::string_view element = accept_encoding.substr(0, comma);
    size_t semi = element.find(';');
    std::string_view name = Trim(element.substr(0, semi));
    std::string_view params = semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
    if (IEquals(name, "gzip") || IEquals(name, "x-gzip")) {
      gzip_named = true;
      gzip = gzip || QAboveZero(params);
    } else if (name == "*") {
      star = QAboveZero(params);
    }
    if (comma == std::string_view::npos) break;
    accept_encoding.remove_prefix(comma + 1);
  }
  return gzip_named ? gzip : star;
}

}  // namespace opescare::simulator
