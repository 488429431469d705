// The strict shape checks a real OpesCare applies: batch envelope fields and per-record rules (CSV.md).
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

namespace opescare::simulator {

// "0193c7a2-6a1e-7cc4-9d1e-4f3b2a1c0d9e": 8-4-4-4-12 hex digits, any version.
bool IsCanonicalUuid(std::string_view s);

// "2026-11-29T19:40:00Z" or with fractional seconds and/or a "+01:00" offset.
bool IsIso8601DateTime(std::string_view s);

// Checks one record's type, data and source. The record's "id" is checked by the caller (a record
// without a usable id cannot be rejected individually). Returns "" when valid, else the reason.
std::string CheckRecord(const boost::json::object& record);

// Upper bound on a record id's length; longer ids fail the batch.
inline constexpr size_t kMaxRecordIdBytes = 256;

}  // namespace opescare::simulator
