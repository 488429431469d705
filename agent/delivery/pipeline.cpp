// The pipelined loop's two questions (pipeline.h).
#include "agent/delivery/pipeline.h"

#include <algorithm>

namespace opescare::delivery {

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kReady:
      return "ready";
    case Phase::kSending:
      return "sending";
    case Phase::kApplying:
      return "applying";
    case Phase::kStoreWait:
      return "store_wait";
  }
  return "unknown";
}

uint32_t ClampMaxInFlight(uint32_t max_in_flight) { return std::clamp<uint32_t>(max_in_flight, 1, kMaxInFlightLimit); }

bool MaySend(const PipelineView& v) {
  return !v.blocked && v.ready > 0 && v.uploading == 0 && v.sending < ClampMaxInFlight(v.max_in_flight);
}

bool MayFetch(const PipelineView& v) {
  if (v.blocked || v.fetching || v.ready > 0 || v.store_wait > 0) return false;
  return v.sending <= ClampMaxInFlight(v.max_in_flight);
}

}  // namespace opescare::delivery
