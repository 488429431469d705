// Secret redaction (redact.h).
#include "agent/util/redact.h"

#include <algorithm>

namespace opescare {

std::string RedactSecrets(std::string text, const std::vector<std::string>& secrets) {
  std::vector<const std::string*> order;
  for (const std::string& s : secrets)
    if (!s.empty()) order.push_back(&s);
  // Longest first, so a secret that contains another is hidden whole.
  std::sort(order.begin(), order.end(),
            [](const std::string* a, const std::string* b) { return a->size() > b->size(); });
  for (const std::string* secret : order) {
    size_t pos = 0;
    while ((pos = text.find(*secret, pos)) != std::string::npos) {
      text.replace(pos, secret->size(), "***");
      pos += 3;
    }
  }
  return text;
}

}  // namespace opescare
