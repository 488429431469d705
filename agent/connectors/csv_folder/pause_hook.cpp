// The end-to-end tests' pause between commit and move (OB_TEST_PAUSE_AFTER_COMMIT). Test-only by design:
// without the variable it does nothing and costs nothing.
#include <chrono>
#include <cstdlib>
#include <thread>

#include "agent/connectors/csv_folder/file_io.h"
#include "agent/connectors/csv_folder/file_processor.h"
#include "agent/util/files.h"

namespace opescare::csv_folder {

std::function<void(const std::string& path)> PauseHookFromEnv() {
  const char* flag = std::getenv("OB_TEST_PAUSE_AFTER_COMMIT");
  if (flag == nullptr || *flag == '\0') return {};
  std::string flag_path = flag;
  return [flag_path](const std::string& path) {
    // Atomically (tmp + rename): a test that sees the flag file must also see the path in it.
    (void)WriteFileAtomic(flag_path, path + "\n", 0644);
    // A bounded poll is acceptable here: this only runs under a test that kills or releases the agent.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    while (PathExists(flag_path) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
}

}  // namespace opescare::csv_folder
