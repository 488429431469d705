// The pipeline's two pure questions: when a formed batch may go on the wire, when the next may be formed.
#include "agent/delivery/pipeline.h"

#include <gtest/gtest.h>

namespace opescare::delivery {
namespace {

PipelineView With(uint32_t max, size_t ready, size_t sending, size_t applying = 0, size_t store_wait = 0) {
  PipelineView v;
  v.max_in_flight = max;
  v.ready = ready;
  v.sending = sending;
  v.applying = applying;
  v.store_wait = store_wait;
  return v;
}

TEST(Pipeline, AReadyBatchGoesOutWhileFewerThanMaxAreOnTheWire) {
  EXPECT_TRUE(MaySend(With(2, 1, 0)));
  EXPECT_TRUE(MaySend(With(2, 1, 1)));
  EXPECT_FALSE(MaySend(With(2, 1, 2)));
  EXPECT_FALSE(MaySend(With(2, 0, 0))) << "nothing ready";
  EXPECT_TRUE(MaySend(With(1, 1, 0, /*applying=*/3))) << "batches being recorded are off the wire";
  EXPECT_FALSE(MaySend(With(1, 1, 1)));
  PipelineView blocked = With(2, 1, 0);
  blocked.blocked = true;
  EXPECT_FALSE(MaySend(blocked));
}

TEST(Pipeline, ABodyStartsOnlyWhenNoOtherIsStillUploading) {
  PipelineView v = With(2, 1, 1);
  v.uploading = 1;
  EXPECT_FALSE(MaySend(v)) << "the first body's bytes have not all left the socket";
  v.uploading = 0;
  EXPECT_TRUE(MaySend(v)) << "it went out: the second starts while the first waits for its receipt";
  PipelineView wide = With(8, 1, 3);
  wide.uploading = 1;
  EXPECT_FALSE(MaySend(wide)) << "one upload at a time, however many may wait for receipts";
  wide.ready = 0;
  EXPECT_TRUE(MayFetch(wide)) << "forming the next batch does not wait for the upload";
}

TEST(Pipeline, OneBatchIsFormedAheadOfAFullWire) {
  EXPECT_TRUE(MayFetch(With(2, 0, 0)));
  EXPECT_TRUE(MayFetch(With(2, 0, 1)));
  EXPECT_TRUE(MayFetch(With(2, 0, 2))) << "formed ahead, sent when an answer frees a slot";
  EXPECT_FALSE(MayFetch(With(2, 1, 2))) << "one ahead at most";
  EXPECT_FALSE(MayFetch(With(2, 0, 3)));
  EXPECT_TRUE(MayFetch(With(1, 0, 1))) << "max 1 still forms the next while one is on the wire";
  EXPECT_TRUE(MayFetch(With(1, 0, 1, /*applying=*/1))) << "the ack and the next batch share a disk step";
}

TEST(Pipeline, NothingIsFormedBehindAWaitingDecisionOrDuringAFetchOrAStop) {
  EXPECT_FALSE(MayFetch(With(2, 0, 0, 0, /*store_wait=*/1)));
  PipelineView fetching = With(2, 0, 0);
  fetching.fetching = true;
  EXPECT_FALSE(MayFetch(fetching));
  PipelineView blocked = With(2, 0, 0);
  blocked.blocked = true;
  EXPECT_FALSE(MayFetch(blocked));
}

TEST(Pipeline, MaxInFlightIsHeldToOneToEight) {
  EXPECT_EQ(ClampMaxInFlight(0), 1u);
  EXPECT_EQ(ClampMaxInFlight(3), 3u);
  EXPECT_EQ(ClampMaxInFlight(100), kMaxInFlightLimit);
  EXPECT_FALSE(MaySend(With(0, 1, 1))) << "0 behaves as 1";
  EXPECT_TRUE(MaySend(With(100, 1, 7)));
  EXPECT_FALSE(MaySend(With(100, 1, 8)));
}

}  // namespace
}  // namespace opescare::delivery
