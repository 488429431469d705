// ReleaseFreeMemory on Windows (see memory.h): the process heap decommits free pages itself; nothing to do.
#include "agent/env/memory.h"

namespace opescare::env {

void ReleaseFreeMemory() {}

}  // namespace opescare::env
