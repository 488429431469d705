// POSIX-like permission bits from a Windows access list, as a pure function so that it is tested on
// every platform; win_acl_win.cpp feeds it a file's real DACL (the key-file check compares bits).
#pragma once

#include <cstdint>
#include <vector>

namespace opescare::env {

// One access-control entry of a file's DACL, reduced to what the mode needs.
struct AceView {
  bool allow = true;          // ACCESS_ALLOWED (false: ACCESS_DENIED)
  bool trusted = false;       // SYSTEM, Administrators, the file's owner, this process's user, the service SID
  bool inherit_only = false;  // INHERIT_ONLY_ACE: applies to children, not to this object
  uint32_t mask = 0;          // ACCESS_MASK
};

// Access-mask bits that let a reader see the contents or a writer change them (winnt.h values).
inline constexpr uint32_t kAceReadBits = 0x0001u /*FILE_READ_DATA*/ | 0x80000000u /*GENERIC_READ*/ |
                                         0x10000000u /*GENERIC_ALL*/;
inline constexpr uint32_t kAceWriteBits = 0x0002u /*FILE_WRITE_DATA*/ | 0x0004u /*FILE_APPEND_DATA*/ |
                                          0x40000000u /*GENERIC_WRITE*/ | 0x10000000u /*GENERIC_ALL*/ |
                                          0x00040000u /*WRITE_DAC*/ | 0x00080000u /*WRITE_OWNER*/;

// 0600 (0700 for a folder) when only trusted entries grant access; group and other read (044) when
// any untrusted entry grants read, write (022) when one grants write. A null DACL (`has_dacl` false)
// grants everyone everything: 0666 / 0777. Deny entries are not subtracted: the answer may call a
// file more open than it is, never less (a key is refused rather than exposed).
unsigned ModeFromAces(const std::vector<AceView>& aces, bool has_dacl, bool is_directory);

}  // namespace opescare::env
