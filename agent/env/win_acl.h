// Windows access lists: a file's DACL read as POSIX-like mode bits (the key-file check, env_win.cpp's
// Stat), and the private ACL the agent gives the folders it creates. Internal; include only from
// agent/env's *_win.cpp files and tests/windows.
#pragma once

#include <windows.h>

#include <string>

#include "agent/env/env.h"
#include "agent/util/status.h"

namespace opescare::env::internal {

// The mode of the object open as `h` (opened with READ_CONTROL) from its owner and DACL
// (acl_mode.h's ModeFromAces): trusted are SYSTEM, Administrators, OWNER RIGHTS, the owner, this
// process's user and NT SERVICE\OpesCareBridge. When the DACL cannot be read, the owner's bits
// only (0600 / 0700), as before ACLs were looked at.
unsigned ModeFromAcl(HANDLE h, FileType type);

// The same for a security descriptor in memory (owner and DACL).
unsigned ModeFromSecurityDescriptor(PSECURITY_DESCRIPTOR sd, bool is_directory);

// The same by path (GetNamedSecurityInfoW); an error names the path.
Result<unsigned> ModeFromAclAt(const std::string& path);

// Gives the folder `dir` a protected DACL (nothing inherited from %ProgramData% or the drive, where
// Users may read): full control for SYSTEM, Administrators and this process's user, inherited by
// everything created inside. For the topmost folder the agent creates itself (env CreateDirs).
Status RestrictFolder(const std::string& dir);

}  // namespace opescare::env::internal
