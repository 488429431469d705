// Tests for stable record ids and the record-type table.
#include "agent/connectors/csv_folder/record_id.h"

#include <gtest/gtest.h>

#include <set>

#include "agent/config/config.h"
#include "agent/connectors/csv_folder/record_types.h"
#include "agent/util/hash.h"

namespace opescare::csv_folder {
namespace {

TEST(RecordId, KnownValues) {
  // Computed independently: "r_" + sha256(sha256("abc") + ":" + row)[:32] with Python's hashlib.
  std::string file = Sha256Hex("abc");
  EXPECT_EQ(RecordId(file, 2), "r_3b205055c870bafe35fc9355313c3d98");
  EXPECT_EQ(RecordId(file, 1000000), "r_ecab5b94403e9096081f95248c5669f9");
  EXPECT_EQ(RecordId(file, INT64_MAX), "r_b509a46900cfef7cae1bc88e0ee5ddb4");
}

TEST(RecordId, MakerAgreesWithOneShotAndIdsDiffer) {
  std::string file = Sha256Hex("some export");
  RecordIdMaker maker(file);
  std::set<std::string> seen;
  std::string id;
  for (int64_t row = 1; row < 2000; ++row) {
    maker.Make(row, &id);
    ASSERT_EQ(id, RecordId(file, row));
    ASSERT_EQ(id.size(), 34u);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1999u);
  EXPECT_NE(RecordId(file, 2), RecordId(Sha256Hex("another export"), 2));
}

TEST(RecordTypes, DefaultsMatchCaseInsensitively) {
  RecordTypeTable table(config::DefaultRecordTypes());
  const TypeRule* rule = table.Match("PATIENTS_20261129.CSV");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->type, "patient");
  EXPECT_EQ(rule->required, (std::vector<std::string>{"first_name", "last_name", "dob", "sex"}));
  EXPECT_EQ(table.Match("export_lab_results_nov.csv")->type, "lab_result");
  EXPECT_EQ(table.Match("pharmacy_stock_2026.csv")->type, "pharmacy_stock");
  EXPECT_EQ(table.Match("patients.csv"), nullptr);  // the fragment includes the underscore
  EXPECT_EQ(table.Match("inventory.csv"), nullptr);
  EXPECT_EQ(table.KnownFragments(),
            "appointments_, encounters_, lab_results_, patients_, pharmacy_stock_, prescriptions_");
}

TEST(RecordTypes, LongestFragmentWinsAndRequiredNamesAreNormalised) {
  std::map<std::string, config::RecordTypeRule> rules;
  rules["results_"] = {"result", {"Health ID"}};
  rules["Lab_Results_"] = {"lab_result", {"Health-ID", " Test "}};
  RecordTypeTable table(rules);
  const TypeRule* rule = table.Match("lab_results_1.csv");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->type, "lab_result");
  EXPECT_EQ(rule->required, (std::vector<std::string>{"health_id", "test"}));
  EXPECT_EQ(table.Match("xray_results_1.csv")->type, "result");
  EXPECT_EQ(RecordTypeTable().KnownFragments(), "(none configured)");
}

}  // namespace
}  // namespace opescare::csv_folder
