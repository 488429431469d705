// Pure decisions of the outbox: record validation, a record's size on the wire, what fits in a batch,
// where a batch splits. The SQLite code calls these; unit tests check them without a database.
#pragma once

#include <cstddef>
#include <cstdint>

#include "agent/outbox/outbox.h"

namespace opescare::outbox {

inline constexpr size_t kMaxIdBytes = 256;
inline constexpr size_t kMaxTypeBytes = 64;
inline constexpr size_t kMaxSourceFileBytes = 4096;
// A row is at most 4 MiB (CSV.md); a record's data can grow by JSON escaping, hence the margin.
inline constexpr size_t kMaxDataBytes = 16 * 1024 * 1024;

// Ok, or kInvalidArgument saying which field is wrong.
Status ValidateRecord(const Record& record);

// The record's approximate size in the sync request body, uncompressed: its data, id, type and source
// file plus the JSON framing around them. batch.max_bytes is compared against sums of this.
uint64_t RecordWireSize(const Record& record);

// Whether the next record (next_size bytes) joins a batch already holding `taken` records of `taken_bytes`:
// the first always does (an oversized record still travels, alone); then max_records and max_bytes bound it.
bool TakeNext(size_t taken, uint64_t taken_bytes, uint64_t next_size, const BatchLimits& limits);

// How many records the first half of a split batch of n records keeps (n >= 2): n / 2.
size_t SplitPoint(size_t n);

}  // namespace opescare::outbox
