// ModeFromAces: a DACL's entries -> POSIX-like permission bits.
#include "agent/env/acl_mode.h"

namespace opescare::env {

unsigned ModeFromAces(const std::vector<AceView>& aces, bool has_dacl, bool is_directory) {
  const unsigned owner = is_directory ? 0700u : 0600u;
  if (!has_dacl) return is_directory ? 0777u : 0666u;
  unsigned others = 0;
  for (const AceView& ace : aces) {
    if (!ace.allow || ace.trusted || ace.inherit_only) continue;
    if (ace.mask & kAceReadBits) others |= is_directory ? 055u : 044u;
    if (ace.mask & kAceWriteBits) others |= 022u;
  }
  return owner | others;
}

}  // namespace opescare::env
