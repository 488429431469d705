// Tests for the CLI's output redaction: a secret printed by any command (a server's words quoting the key)
// reaches stdout and stderr as ***.
#include "agent/app/output_redactor.h"

#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

namespace opescare::app {
namespace {

TEST(OutputRedactor, HidesSecretsInWholeLinesOnBothStreamsAndRestoresThem) {
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  {
    OutputRedactor redactor;
    std::cout << "before any secret is known: sk_1\n";
    redactor.Add({"sk_1", ""});
    std::cout << "server:   bridge_token_invalid: key sk" << "_1 revoked\n";  // split across writes
    std::cerr << "detail: sk_1sk_1" << std::endl;
    std::cout << "no newline sk_1";
  }
  std::cout << "after: sk_1\n";  // the redactor is gone: the original buffer again
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  EXPECT_EQ(out.str(),
            "before any secret is known: sk_1\nserver:   bridge_token_invalid: key *** revoked\nno newline ***"
            "after: sk_1\n");
  EXPECT_EQ(err.str(), "detail: ******\n");
}

}  // namespace
}  // namespace opescare::app
