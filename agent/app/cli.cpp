// Placeholder until the foundation lands.
#include "agent/app/cli.h"

namespace opescare::app {
int RunCli(int, char**) { return 1; }
}  // namespace opescare::app
