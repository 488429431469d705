// Record-type rules from CSV.md and the sync envelope's field formats (pure functions).
#include "tools/simulator/validate.h"

#include <array>
#include <cctype>
#include <initializer_list>

namespace opescare::simulator {
namespace {

struct TypeRule {
  std::string_view type;
  std::initializer_list<std::string_view> required;
};

// CSV.md "Record type from the file name": the default record types and their required columns.
const std::array<TypeRule, 6> kTypeRules = {{
    {"patient", {"first_name", "last_name", "dob", "sex"}},
    {"encounter", {"health_id", "date"}},
    {"lab_result", {"health_id", "test", "result", "date"}},
    {"prescription", {"health_id", "medication", "date"}},
    {"appointment", {"health_id", "date"}},
    {"pharmacy_stock", {"item_code", "quantity"}},
}};

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

bool IsCanonicalUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

bool IsIso8601DateTime(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS
  if (s.size() < 20) return false;
  if (!IsDigits(s.substr(0, 4)) || s[4] != '-' || !IsDigits(s.substr(5, 2)) || s[7] != '-' ||
      !IsDigits(s.substr(8, 2)) || (s[10] != 'T' && s[10] != 't') || !IsDigits(s.substr(11, 2)) || s[13] != ':' ||
      !IsDigits(s.substr(14, 2)) || s[16] != ':' || !IsDigits(s.substr(17, 2))) {
    return false;
  }
  std::string_view rest = s.substr(19);
  if (rest.front() == '.') {
    size_t n = 1;
    while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) ++n;
    if (n == 1) return false;
    rest.remove_prefix(n);
  }
  if (rest == "Z" || rest == "z") return true;
  return rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && IsDigits(rest.substr(1, 2)) && rest[3] == ':' &&
         IsDigits(rest.substr(4, 2));
}

std::string CheckRecord(const boost::json::object& record) {
  const boost::json::value* type = record.if_contains("type");
  if (!type || !type->is_string()) return "record has no string \"type\"";
  std::string_view type_name = type->get_string();
  const TypeRule* rule = nullptr;
  for (const TypeRule& r : kTypeRules) {
    if (r.type == type_name) rule = &r;
  }
  if (!rule) return "unknown record type \"" + std::string(type_name.substr(0, 64)) + "\"";

  const boost::json::value* data = record.if_contains("data");
  if (!data || !data->is_object()) return "record has no \"data\" object";
  for (const auto& field : data->get_object()) {
    if (!field.value().is_string()) {
      return "data field \"" + std::string(field.key().substr(0, 64)) + "\" is not a string";
    }
  }
  for (std::string_view name : rule->required) {
    const boost::json::value* v = data->get_object().if_contains(name);
    if (!v || v->get_string().empty()) {
      return "required field \"" + std::string(name) + "\" is missing for type " + std::string(type_name);
    }
  }

  if (const boost::json::value* source = record.if_contains("source")) {
    if (!source->is_object()) return "\"source\" is not an object";
    const boost::json::object& src = source->get_object();
    if (const boost::json::value* file = src.if_contains("file"); file && !file->is_string()) {
      return "\"source.file\" is not a string";
    }
    if (const boost::json::value* row = src.if_contains("row")) {
      bool ok = row->is_uint64() || (row->is_int64() && row->get_int64() >= 0);
      if (!ok) return "\"source.row\" is not a non-negative integer";
    }
  }
  return "";
}

}  // namespace opescare::simulator
