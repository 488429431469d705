// Tests for JSON string escaping (agent/util/json_text.h), used by the CSV connector, sync bodies and simulator.
#include "agent/util/json_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <cstdio>
#include <string>

namespace opescare {
namespace {

TEST(Json, StringsAreEscapedAndRoundTrip) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\nd\re\tf\x01g\x1Fh é €");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh é €\"");
  EXPECT_EQ(boost::json::parse(out).as_string(), "a\"b\\c\nd\re\tf\x01g\x1Fh é €");
  out.clear();
  AppendJsonString(out, "");
  EXPECT_EQ(out, "\"\"");
}

TEST(Json, FastPathAgreesWithAByteByByteReference) {
  auto reference = [](std::string_view v) {
    std::string out = "\"";
    for (char ch : v) {
      auto c = static_cast<unsigned char>(ch);
      if (c == '"')
        out += "\\\"";
      else if (c == '\\')
        out += "\\\\";
      else if (c == '\n')
        out += "\\n";
      else if (c == '\r')
        out += "\\r";
      else if (c == '\t')
        out += "\\t";
      else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += ch;
      }
    }
    return out + "\"";
  };
  uint64_t seed = 12345;
  const char alphabet[] = {'a',    'Z',    ' ',    '"',    '\\',   '\n',   '\x01', '\x1f',
                           '\x20', '\x7f', '\x80', '\xc3', '\xa9', '\xff', '\0'};
  for (int round = 0; round < 5000; ++round) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    size_t len = (seed >> 33) % 40;
    std::string s;
    for (size_t i = 0; i < len; ++i) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      s.push_back((seed >> 40) % 4 == 0 ? alphabet[(seed >> 20) % sizeof alphabet] : 'x');
    }
    std::string out;
    AppendJsonString(out, s);
    ASSERT_EQ(out, reference(s)) << round;
  }
}

TEST(AppendJsonString, EscapesWhatJsonRequires) {
  std::string out;
  std::string input = "q\"b\\n\n\t\x01\x1f é";
  AppendJsonString(out, input);
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\n\\t\\u0001\\u001f é\"");
  EXPECT_EQ(boost::json::parse(out).as_string(), input);
}

}  // namespace
}  // namespace opescare
