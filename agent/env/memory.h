// The process's heap, for an agent that idles for days between bursts of work (issue 11: idle RSS).
#pragma once

namespace opescare::env {

// Gives the heap's free pages back to the OS. glibc keeps what a drain, an ingest or the start-up freed in
// its arenas (one per thread that allocated) until malloc_trim; elsewhere this does nothing. It walks the
// arenas, well under a millisecond for an idle agent's heap: call it when idle, not per request.
void ReleaseFreeMemory();

}  // namespace opescare::env
