// Tests for watch-folder name rules: glob matching and ignored names.
#include "agent/connectors/csv_folder/name_filter.h"

#include <gtest/gtest.h>

namespace opescare::csv_folder {
namespace {

TEST(Glob, StarsQuestionMarksAndSetsCaseInsensitively) {
  EXPECT_TRUE(GlobMatch("*.csv", "patients_1.csv"));
  EXPECT_TRUE(GlobMatch("*.csv", "PATIENTS_1.CSV"));
  EXPECT_TRUE(GlobMatch("*.CSV", "a.csv"));
  EXPECT_FALSE(GlobMatch("*.csv", "patients_1.csv.bak"));
  EXPECT_FALSE(GlobMatch("*.csv", "patients_1.txt"));
  EXPECT_TRUE(GlobMatch("*.csv", ".csv"));
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_TRUE(GlobMatch("patients_*_*.csv", "patients_2026_11.csv"));
  EXPECT_FALSE(GlobMatch("patients_*_*.csv", "patients_2026.csv"));
  EXPECT_TRUE(GlobMatch("export_??.csv", "export_01.csv"));
  EXPECT_FALSE(GlobMatch("export_??.csv", "export_1.csv"));
  EXPECT_TRUE(GlobMatch("*.[ct]sv", "a.tsv"));
  EXPECT_TRUE(GlobMatch("*.[ct]sv", "a.CSV"));
  EXPECT_FALSE(GlobMatch("*.[!c]sv", "a.csv"));
  EXPECT_TRUE(GlobMatch("*.[^c]sv", "a.tsv"));
  EXPECT_TRUE(GlobMatch("file[0-9].csv", "file7.csv"));
  EXPECT_FALSE(GlobMatch("file[0-9].csv", "filex.csv"));
  EXPECT_TRUE(GlobMatch("a[bc", "a[bc"));  // malformed set: literal
  EXPECT_TRUE(GlobMatch("**a*b*c**", "xxaxxbxxcxx"));
  EXPECT_FALSE(GlobMatch("", "a"));
  EXPECT_TRUE(GlobMatch("", ""));
}

TEST(IgnoredNames, HiddenTemporaryAndOurOwnFiles) {
  for (const char* name : {".hidden.csv", "a.csv.tmp", "a.csv.TMP", "a.csv.part", "a.csv.partial", "a.csv~",
                           "patients_1.csv.errors.csv", "patients_1.csv.duplicate", ""})
    EXPECT_TRUE(IsIgnoredName(name)) << name;
  for (const char* name : {"patients_1.csv", "tmp_patients.csv", "partial_export.csv"})
    EXPECT_FALSE(IsIgnoredName(name)) << name;
  EXPECT_TRUE(IsCandidateName("patients_1.csv", "*.csv"));
  EXPECT_FALSE(IsCandidateName("patients_1.csv.part", "*"));
  EXPECT_FALSE(IsCandidateName("notes.txt", "*.csv"));
}

}  // namespace
}  // namespace opescare::csv_folder
