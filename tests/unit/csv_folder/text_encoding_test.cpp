// Tests for encoding detection and conversion: the whole Windows-1252 table, refused bytes, UTF-8 rules.
#include "agent/connectors/csv_folder/text_encoding.h"

#include <gtest/gtest.h>

namespace opescare::csv_folder {
namespace {

std::string Convert(Encoding e, const std::string& in, DecodeError* error = nullptr) {
  std::string out;
  DecodeError ignored;
  EXPECT_TRUE(AppendAsUtf8(e, in, &out, error ? error : &ignored)) << "input refused";
  return out;
}

bool Refused(Encoding e, const std::string& in, DecodeError* error) {
  std::string out;
  return !AppendAsUtf8(e, in, &out, error);
}

TEST(Encoding, ParsesNames) {
  EXPECT_EQ(*ParseEncoding("AUTO"), Encoding::kAuto);
  EXPECT_EQ(*ParseEncoding("utf8"), Encoding::kUtf8);
  EXPECT_EQ(*ParseEncoding("UTF-8"), Encoding::kUtf8);
  EXPECT_EQ(*ParseEncoding("Windows-1252"), Encoding::kWindows1252);
  EXPECT_EQ(*ParseEncoding("cp1252"), Encoding::kWindows1252);
  EXPECT_EQ(*ParseEncoding("latin-1"), Encoding::kLatin1);
  EXPECT_EQ(*ParseEncoding("ISO-8859-1"), Encoding::kLatin1);
  Result<Encoding> bad = ParseEncoding("ebcdic");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("windows-1252"), std::string::npos);
}

TEST(Windows1252, FrenchLettersAndTheWholeC1Table) {
  EXPECT_EQ(Convert(Encoding::kWindows1252, "\xE9\xE8\xE7\xE0\xF4 \x9C\x8C \x80"), "éèçàô œŒ €");
  // Every defined byte of 0x80-0x9F, in order.
  std::string in;
  for (int b = 0x80; b <= 0x9F; ++b)
    if (b != 0x81 && b != 0x8D && b != 0x8F && b != 0x90 && b != 0x9D) in.push_back(static_cast<char>(b));
  EXPECT_EQ(Convert(Encoding::kWindows1252, in), "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ");
  // 0xA0-0xFF are U+00A0-U+00FF.
  EXPECT_EQ(Convert(Encoding::kWindows1252, "\xA0\xAB\xBB\xFF"), "\u00A0«»ÿ");
}

TEST(Windows1252, TheFiveUndefinedBytesAreRefused) {
  for (uint8_t b : {0x81, 0x8D, 0x8F, 0x90, 0x9D}) {
    DecodeError error;
    ASSERT_TRUE(Refused(Encoding::kWindows1252, std::string("ab") + static_cast<char>(b), &error)) << int(b);
    EXPECT_EQ(error.offset, 2u);
    EXPECT_EQ(error.byte, b);
    EXPECT_NE(error.Describe(Encoding::kWindows1252).find("undefined in Windows-1252"), std::string::npos);
  }
}

TEST(Latin1, MapsHighHalfAndRefusesC1Controls) {
  EXPECT_EQ(Convert(Encoding::kLatin1, "\xE9t\xE9 \xA9"), "été ©");
  DecodeError error;
  ASSERT_TRUE(Refused(Encoding::kLatin1, "\x80", &error));
  EXPECT_NE(error.Describe(Encoding::kLatin1).find("try windows-1252"), std::string::npos);
}

TEST(Encodings, NulIsRefusedEverywhere) {
  for (Encoding e : {Encoding::kUtf8, Encoding::kWindows1252, Encoding::kLatin1}) {
    DecodeError error;
    ASSERT_TRUE(Refused(e, std::string("a\0b", 3), &error));
    EXPECT_EQ(error.offset, 1u);
    EXPECT_NE(error.Describe(e).find("NUL"), std::string::npos);
  }
}

TEST(Utf8, ValidTextPassesUnchanged) {
  std::string s = "Noël, Aïssatou, ß, €, 中文, 😀, \x7F";
  EXPECT_EQ(Convert(Encoding::kUtf8, s), s);
  EXPECT_EQ(FindInvalidUtf8(s), std::string_view::npos);
}

TEST(Utf8, InvalidFormsAreFound) {
  struct Case {
    std::string bytes;
    size_t offset;
  };
  for (const Case& c : std::vector<Case>{
           {"abc\xE9"
            "def",
            3},                      // a Latin-1 byte
           {"\xC0\x80", 0},          // overlong NUL
           {"\xC1\xBF", 0},          // overlong
           {"\xE0\x80\x80", 0},      // overlong 3-byte
           {"\xED\xA0\x80", 0},      // UTF-16 surrogate
           {"\xF4\x90\x80\x80", 0},  // above U+10FFFF
           {"\xF5\x80\x80\x80", 0},  // no such lead byte
           {"ok\x80", 2},            // lone continuation
           {"ok\xE2\x82", 2},        // truncated at the end
           {"\xE2\x82"
            "A",
            0},                  // truncated in the middle
           {"12345678\xFF", 8},  // after the ASCII fast path
       }) {
    EXPECT_EQ(FindInvalidUtf8(c.bytes), c.offset) << testing::PrintToString(c.bytes);
    DecodeError error;
    EXPECT_TRUE(Refused(Encoding::kUtf8, c.bytes, &error));
    EXPECT_EQ(error.offset, c.offset);
  }
}

TEST(Utf8Scanner, VerdictForUtf8Windows1252AndMixedFiles) {
  Utf8Scanner utf8;
  utf8.Update("Hélène;Nkoulou\r\n");
  utf8.Finish();
  EXPECT_EQ(utf8.Verdict(), Encoding::kUtf8);
  EXPECT_EQ(utf8.invalid(), 0u);
  EXPECT_EQ(utf8.valid_multibyte(), 2u);

  Utf8Scanner ascii;
  ascii.Update("plain,ascii\n");
  ascii.Finish();
  EXPECT_EQ(ascii.Verdict(), Encoding::kUtf8);

  Utf8Scanner cp1252;
  cp1252.Update(
      "H\xE9l\xE8ne;s\x9C"
      "ur\r\n");
  cp1252.Finish();
  EXPECT_EQ(cp1252.Verdict(), Encoding::kWindows1252);

  // Mostly UTF-8 with one broken byte: UTF-8 (the broken row fails) rather than mangling every good row.
  Utf8Scanner mixed;
  mixed.Update("Noël\nRen\xE9\n");
  mixed.Finish();
  EXPECT_EQ(mixed.Verdict(), Encoding::kUtf8);
  EXPECT_EQ(mixed.invalid(), 1u);
}

// The hash pass stops feeding the scanner once it has decided: nothing fed later may change the verdict.
TEST(Utf8Scanner, DecidedOnceAValidMultibyteSequenceIsSeen) {
  Utf8Scanner s;
  s.Update("Hel");
  EXPECT_FALSE(s.decided());
  s.Update("\xE9ne");  // Windows-1252 so far: not decided
  EXPECT_FALSE(s.decided());
  s.Update("No\xC3");
  EXPECT_FALSE(s.decided());  // half a sequence
  s.Update("\xABl\n");
  EXPECT_TRUE(s.decided());
  s.Update("\xE9\x9C\xFF\xE2\x82");
  s.Finish();
  EXPECT_EQ(s.Verdict(), Encoding::kUtf8);
  EXPECT_EQ(s.invalid(), 4u);

  Utf8Scanner ascii;
  ascii.Update("plain,ascii\n");
  EXPECT_FALSE(ascii.decided());  // a later byte may still make it Windows-1252
}

TEST(Utf8Scanner, SequencesSplitAcrossChunksAndATruncatedEnd) {
  std::string text = "été 😀 €";
  for (size_t split = 0; split <= text.size(); ++split) {
    Utf8Scanner s;
    s.Update(std::string_view(text).substr(0, split));
    s.Update(std::string_view(text).substr(split));
    s.Finish();
    EXPECT_EQ(s.invalid(), 0u) << split;
    EXPECT_EQ(s.valid_multibyte(), 4u) << split;
  }
  Utf8Scanner truncated;
  truncated.Update("abc\xE2\x82");
  truncated.Finish();
  EXPECT_EQ(truncated.invalid(), 1u);
  EXPECT_EQ(truncated.Verdict(), Encoding::kWindows1252);
}

}  // namespace
}  // namespace opescare::csv_folder
