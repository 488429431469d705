// Undoing a response's gzip Content-Encoding within a size bound (content_coding.h).
#include "agent/http/content_coding.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "agent/http/gzip.h"

namespace opescare::http {
namespace {

std::string Trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string out(v);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool NameIs(std::string_view name, std::string_view lower) { return Trimmed(name) == lower; }

}  // namespace

Status DecodeContentEncoding(Response& response, uint64_t max_bytes) {
  std::optional<std::string_view> coding = response.Header("Content-Encoding");
  if (!coding) return Status::Ok();
  std::string value = Trimmed(*coding);
  if ((value != "gzip" && value != "x-gzip") || response.body.empty()) return Status::Ok();
  Result<std::string> inflated = GzipDecompress(response.body, static_cast<size_t>(max_bytes));
  if (!inflated.ok()) {
    if (inflated.status().code() == Code::kResourceExhausted) {
      return ResourceExhausted("is larger than " + std::to_string(max_bytes) + " bytes after gzip decoding");
    }
    return InvalidArgument("is Content-Encoding: gzip but not valid gzip (" + inflated.status().message() + ")");
  }
  response.body = std::move(inflated).value();
  std::erase_if(response.headers, [](const auto& field) {
    return NameIs(field.first, "content-encoding") || NameIs(field.first, "content-length");
  });
  return Status::Ok();
}

}  // namespace opescare::http
