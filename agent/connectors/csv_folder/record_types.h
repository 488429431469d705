// RecordTypeTable: which record type a CSV file holds, from a fragment of its name (CSV.md's table,
// `connector.record_types` in the configuration), and which columns that type requires.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"

namespace opescare::csv_folder {

struct TypeRule {
  std::string fragment;               // lower-case, e.g. "patients_"
  std::string type;                   // e.g. "patient"
  std::vector<std::string> required;  // normalised column names
};

// Immutable after construction; safe to share between threads.
class RecordTypeTable {
 public:
  RecordTypeTable() = default;
  // Fragments are matched case-insensitively; required column names are normalised like headers.
  explicit RecordTypeTable(const std::map<std::string, config::RecordTypeRule>& rules);

  // The rule whose fragment the file name contains; the longest fragment wins when several do (so a
  // configured "lab_results_" beats a shorter "results_"). nullptr when none does.
  const TypeRule* Match(std::string_view file_name) const;

  // "appointments_, encounters_, lab_results_, ..." for the report of a file matching none.
  std::string KnownFragments() const;
  bool empty() const { return rules_.empty(); }

 private:
  std::vector<TypeRule> rules_;  // sorted by fragment
};

}  // namespace opescare::csv_folder
