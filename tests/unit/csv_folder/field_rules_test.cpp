// Tests for header names, date normalisation and JSON strings.
#include "agent/connectors/csv_folder/field_rules.h"

#include <gtest/gtest.h>


namespace opescare::csv_folder {
namespace {

std::string Date(std::string_view in, DateFormat f, DateCheck expect = DateCheck::kOk) {
  char out[10];
  DateCheck got = NormalizeDate(in, f, out);
  EXPECT_EQ(static_cast<int>(got), static_cast<int>(expect)) << in;
  return got == DateCheck::kOk ? std::string(out, 10) : std::string();
}

TEST(HeaderNames, AreTrimmedLowerCasedAndUnderscored) {
  EXPECT_EQ(NormalizeHeaderName("First Name"), "first_name");
  EXPECT_EQ(NormalizeHeaderName("  Health-ID \t"), "health_id");
  EXPECT_EQ(NormalizeHeaderName("DOB"), "dob");
  EXPECT_EQ(NormalizeHeaderName("Date de naissance"), "date_de_naissance");
  EXPECT_EQ(NormalizeHeaderName("Prénom"), "prénom");
  EXPECT_EQ(NormalizeHeaderName("PRÉNOM"), "prénom");
  EXPECT_EQ(NormalizeHeaderName("ŒUVRE"), "œuvre");
  EXPECT_EQ(NormalizeHeaderName("Poids×Taille"), "poids×taille");  // × is not a letter
  EXPECT_EQ(NormalizeHeaderName("a  b"), "a__b");                  // like the Python agent: no collapsing
  EXPECT_EQ(NormalizeHeaderName("   "), "");
}

TEST(Values, AreTrimmedOfAsciiWhitespace) {
  EXPECT_EQ(TrimValue("  x y \t"), "x y");
  EXPECT_EQ(TrimValue(" \r\n "), "");
  EXPECT_EQ(TrimValue("\xC2\xA0x"), "\xC2\xA0x");  // a no-break space is content
}

TEST(Dates, ParsesFormatNames) {
  EXPECT_EQ(*ParseDateFormat("YYYY-MM-DD"), DateFormat::kIso);
  EXPECT_EQ(*ParseDateFormat("dd/mm/yyyy"), DateFormat::kDayMonthYear);
  EXPECT_EQ(*ParseDateFormat("MM/DD/YYYY"), DateFormat::kMonthDayYear);
  EXPECT_FALSE(ParseDateFormat("DD.MM.YY").ok());
}

TEST(Dates, IsoFormat) {
  EXPECT_EQ(Date("2026-11-29", DateFormat::kIso), "2026-11-29");
  EXPECT_EQ(Date("2026-1-5", DateFormat::kIso), "2026-01-05");
  EXPECT_EQ(Date("2024-02-29", DateFormat::kIso), "2024-02-29");
  EXPECT_EQ(Date("2000-02-29", DateFormat::kIso), "2000-02-29");
  Date("1900-02-29", DateFormat::kIso, DateCheck::kNotACalendarDate);
  Date("2023-02-29", DateFormat::kIso, DateCheck::kNotACalendarDate);
  Date("2026-04-31", DateFormat::kIso, DateCheck::kNotACalendarDate);
  Date("2026-00-10", DateFormat::kIso, DateCheck::kNotACalendarDate);
  Date("2026-12-00", DateFormat::kIso, DateCheck::kNotACalendarDate);
  Date("0000-01-01", DateFormat::kIso, DateCheck::kNotACalendarDate);
  Date("29/11/2026", DateFormat::kIso, DateCheck::kWrongFormat);
  Date("2026/11/29", DateFormat::kIso, DateCheck::kWrongFormat);
  Date("26-11-29", DateFormat::kIso, DateCheck::kWrongFormat);
  Date("2026-11-29T10:00", DateFormat::kIso, DateCheck::kWrongFormat);
  Date("2026-011-29", DateFormat::kIso, DateCheck::kWrongFormat);
  Date("", DateFormat::kIso, DateCheck::kWrongFormat);
  Date("-", DateFormat::kIso, DateCheck::kWrongFormat);
}

TEST(Dates, DayFirstAndMonthFirstWithAnySeparator) {
  EXPECT_EQ(Date("22/07/1990", DateFormat::kDayMonthYear), "1990-07-22");
  EXPECT_EQ(Date("1/9/2001", DateFormat::kDayMonthYear), "2001-09-01");
  EXPECT_EQ(Date("22-07-1990", DateFormat::kDayMonthYear), "1990-07-22");
  EXPECT_EQ(Date("22.07.1990", DateFormat::kDayMonthYear), "1990-07-22");
  Date("31/02/2024", DateFormat::kDayMonthYear, DateCheck::kNotACalendarDate);
  Date("07/22/1990", DateFormat::kDayMonthYear, DateCheck::kNotACalendarDate);
  Date("22/07-1990", DateFormat::kDayMonthYear, DateCheck::kWrongFormat);
  Date("22/07/90", DateFormat::kDayMonthYear, DateCheck::kWrongFormat);
  Date("1990-07-22", DateFormat::kDayMonthYear, DateCheck::kWrongFormat);
  // The same digits read month-first.
  EXPECT_EQ(Date("03/04/2026", DateFormat::kMonthDayYear), "2026-03-04");
  EXPECT_EQ(Date("03/04/2026", DateFormat::kDayMonthYear), "2026-04-03");
  EXPECT_EQ(Date("12/31/2026", DateFormat::kMonthDayYear), "2026-12-31");
  Date("31/12/2026", DateFormat::kMonthDayYear, DateCheck::kNotACalendarDate);
}

TEST(Dates, DateColumns) {
  EXPECT_TRUE(IsDateColumn("dob"));
  EXPECT_TRUE(IsDateColumn("date"));
  EXPECT_TRUE(IsDateColumn("follow_up_date"));
  EXPECT_FALSE(IsDateColumn("_date"));
  EXPECT_FALSE(IsDateColumn("dates"));
  EXPECT_FALSE(IsDateColumn("date_of_birth"));
  EXPECT_FALSE(IsDateColumn("update"));
}

}  // namespace
}  // namespace opescare::csv_folder
