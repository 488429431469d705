// When the pipelined delivery loop may form another batch and put a formed one on the wire: pure, from a
// count of the batches it holds (delivery_loop.cpp keeps them, one record per batch).
//
// A batch the loop holds is in one phase: kReady (formed on the disk thread, body built, not yet sent),
// kSending (its request is on the wire), kApplying (its outcome is being recorded on the disk thread) or
// kStoreWait (recording it failed; the same decision is applied again after the store fault's wait).
#pragma once

#include <cstddef>
#include <cstdint>

namespace opescare::delivery {

inline constexpr uint32_t kMaxInFlightLimit = 8;  // delivery.max_in_flight's upper bound
// The sync client's http::ClientOptions::sent_backlog_bytes: a batch's body counts as sent, and the next may
// start, once no more than this of it is still to cross the link (send_drain.h).
inline constexpr int kSentBacklogBytes = 8 * 1024;

enum class Phase { kReady, kSending, kApplying, kStoreWait };
const char* PhaseName(Phase phase);

struct PipelineView {
  uint32_t max_in_flight = 1;  // 1..8; out of range is clamped
  size_t ready = 0;
  size_t sending = 0;
  size_t uploading = 0;  // of those sending: requests whose bytes have not all crossed the link (on_sent)
  size_t applying = 0;
  size_t store_wait = 0;
  bool fetching = false;  // a NextDueBatch is under way on the disk thread
  bool blocked = false;   // not started, stopping, or paused: nothing new is formed or sent
};

uint32_t ClampMaxInFlight(uint32_t max_in_flight);

// A ready batch may go on the wire: fewer than max_in_flight requests are, and none is still uploading. So the
// bodies take turns: on a slow link the next one starts as the last one's final bytes cross it (or while the
// last one retransmits a lost segment), and the link
// carries one upload at full speed while the earlier batches wait for their receipts, instead of two uploads
// racing for its queue and then both waiting. Where writes complete at once (a fast link), nothing waits.
bool MaySend(const PipelineView& v);

// The next batch may be formed (one NextDueBatch at a time): none is ready already, no decision waits for the
// store (new records must not jump it), and at most max_in_flight requests are on the wire — so while
// max_in_flight are, one more is formed ahead and goes out as soon as an answer frees a slot. Batches being
// recorded do not count: their ack and the next batch's forming share one disk step.
bool MayFetch(const PipelineView& v);

}  // namespace opescare::delivery
