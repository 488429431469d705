// File helpers shared by the outbox, the connector and the config: whole-file reads with limits,
// durable writes and renames, permission checks. Built on agent/env (the last parameter; tests pass a
// FaultEnv), so the steps that make a write durable are written once for every platform.
#pragma once

#include <cstdint>
#include <string>

#include "agent/env/env.h"
#include "agent/util/status.h"

namespace opescare {

// Reads a whole file, refusing files above max_bytes (kInvalidArgument); kIoError naming the path when it
// cannot be opened or read.
Result<std::string> ReadFileLimited(const std::string& path, uint64_t max_bytes,
                                    env::Env& env = *env::Env::Default());

// fsync()s a directory so that a rename or create inside it survives a power cut.
Status FsyncDirectory(const std::string& dir, env::Env& env = *env::Env::Default());

// Writes to path.tmp, fsyncs, renames over path, fsyncs the directory. mode applies to the new file.
// On failure path is untouched, path.tmp removed, and the Status is the failing step's (kResourceExhausted
// for a full disk, kIoError otherwise).
Status WriteFileAtomic(const std::string& path, const std::string& contents, unsigned mode = 0600,
                       env::Env& env = *env::Env::Default());

// Renames, then fsyncs the destination directory (and the source directory when different).
Status RenameDurable(const std::string& from, const std::string& to, env::Env& env = *env::Env::Default());

// The file's permission bits (e.g. 0600), or an error naming the path.
Result<unsigned> FileMode(const std::string& path, env::Env& env = *env::Env::Default());

// Free bytes for an unprivileged writer on the filesystem holding path.
Result<uint64_t> FreeDiskBytes(const std::string& path, env::Env& env = *env::Env::Default());

// Free bytes for an unprivileged writer on the volume that holds (or will hold) path: statvfs of path, or of
// its directory when path does not exist yet. Otherwise an error naming the path.
Result<uint64_t> FreeSpaceBytes(const std::string& path, env::Env& env = *env::Env::Default());

// Creates (or completes) path as a file of `bytes` allocated blocks (posix_fallocate, else zeros written),
// mode 0600, fsync'd with its directory: space set aside that deleting the file gives back at once.
// kResourceExhausted when the volume has no room (the partial file is removed).
Status PreallocateFile(const std::string& path, uint64_t bytes, env::Env& env = *env::Env::Default());

}  // namespace opescare
