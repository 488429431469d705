// Internal to agent/outbox: the outbox's schema as a list of versioned migrations (PRAGMA user_version).
#pragma once

#include "agent/outbox/sqlite_db.h"

namespace opescare::outbox::internal {

// The version the last migration produces.
int LatestSchemaVersion();

// Applies every migration above the file's user_version in ONE transaction together with the user_version
// bump (a crash midway leaves the file at its old version, migrated again on the next open).
// A file newer than LatestSchemaVersion() is refused with kFailedPrecondition.
Status Migrate(Database& db);
// Migrate, stopping at version `target` (tests make files of an older schema with it).
Status MigrateTo(Database& db, int target);

// Ok unless the file's schema is newer than this build knows (checked before touching the file).
Status RefuseNewerSchema(Database& db);

// For read-only connections: Ok when the file's version is exactly the latest, otherwise a status saying
// what to do (kNotFound for an empty file, kFailedPrecondition for an older or newer one).
Status CheckSchemaVersion(Database& db);

}  // namespace opescare::outbox::internal
