// Hiding secrets (the agent key, a proxy password) in any text before it is logged or shown: texts that
// came from outside (a server's error message, a proxy's page) may carry them too.
#pragma once

#include <string>
#include <vector>

namespace opescare {

// Replaces every occurrence of each non-empty secret by "***" (longest secrets first).
std::string RedactSecrets(std::string text, const std::vector<std::string>& secrets);

}  // namespace opescare
