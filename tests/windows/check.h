// The CHECK macro of the tests/windows programs (no GoogleTest: each is one small static .exe run
// under wine by tests/windows/run_service_checks.sh).
#pragma once

#include <cstdio>

namespace opescare::wintest {
inline int failures = 0;
}

#define CHECK(cond)                                               \
  do {                                                            \
    if (!(cond)) {                                                \
      std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++::opescare::wintest::failures;                            \
    }                                                             \
  } while (0)
