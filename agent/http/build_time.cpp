// The build time constant (see build_time.h); OB_BUILD_EPOCH is set on this file alone by CMake.
#include "agent/http/build_time.h"

#ifndef OB_BUILD_EPOCH
#define OB_BUILD_EPOCH 0
#endif

namespace opescare::http {

std::chrono::system_clock::time_point AgentBuildTime() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(static_cast<long long>(OB_BUILD_EPOCH)));
}

}  // namespace opescare::http
