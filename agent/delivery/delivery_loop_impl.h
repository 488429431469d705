// Internal to agent/delivery: the delivery loop's state. Every member runs on the network thread except
// the disk jobs (RunDiskJob), which touch only the outbox and what they were handed.
//
// Each batch the loop holds is one InFlight, in one Phase (pipeline.h). Transitions:
//   fetch (disk) -> kReady -> kSending -> outcome -> kApplying (disk) -> gone
//                                                 \-> kStoreWait -> (wait) -> kApplying
//   kSending -> kClosed outcome -> released (gone); kReady/kStoreWait on Stop or pause -> released (gone)
// A disk job records one outcome and/or forms the next batch, in that order, in one disk step.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>
#include <spdlog/logger.h>
#include <vector>

#include "agent/delivery/apply_step.h"
#include "agent/delivery/decision.h"
#include "agent/delivery/delivery_loop.h"
#include "agent/delivery/pipeline.h"
#include "agent/util/clock.h"

namespace opescare::delivery {

struct InFlight {
  explicit InFlight(boost::asio::io_context& net) : store_timer(net) {}
  std::shared_ptr<outbox::Batch> batch;
  Phase phase = Phase::kReady;
  bool uploading = false;                            // kSending, until on_sent or the outcome
  std::string body;                                  // kReady: the request body, built on the disk thread
  bool body_gzipped = false;                         // body holds its gzip, made as the batch arrived
  Step step;                                         // kApplying / kStoreWait: the decision being recorded
  std::chrono::system_clock::time_point retry_at{};  // kRetryLater's next attempt
  boost::asio::steady_timer store_timer;             // kStoreWait
};

// What one disk step does and what it found.
struct DiskJob {
  std::shared_ptr<InFlight> apply;  // record this batch's decision first (null: none)
  bool fetch = false;               // then form/choose the next batch (skipped when the record failed)
  outbox::BatchLimits limits;
  bool force_due = false;
  std::chrono::system_clock::time_point now{};
};
struct DiskResult {
  std::optional<Applied> applied;
  std::optional<Result<outbox::NextBatch>> fetched;  // unset when the fetch was skipped
  std::string body;
};

class DeliveryLoop::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(boost::asio::io_context& net, boost::asio::io_context& disk, outbox::Outbox& outbox, Transport transport,
       const Clock& clock, DeliveryOptions options, DeliveryHooks hooks, std::shared_ptr<spdlog::logger> logger);

  void Start();
  void Wake();
  void ConnectivityRegained();
  void UpdateOptions(DeliveryOptions options);
  void Stop(std::function<void()> done);
  const DeliveryCounters& counters() const { return counters_; }

 private:
  PipelineView View() const;
  void Kick();
  void Advance(std::shared_ptr<InFlight> apply = nullptr);
  void PostDisk(DiskJob job);
  DiskResult RunDiskJob(const DiskJob& job);
  void OnDiskDone(const DiskJob& job, DiskResult& r);
  bool OnFetched(Result<outbox::NextBatch> next, std::string body);
  void ScheduleFetch(std::chrono::milliseconds wait);
  void Send(const std::shared_ptr<InFlight>& f);
  void OnSent(const std::shared_ptr<InFlight>& f, std::chrono::steady_clock::time_point started);
  void CountOutcome(const http::Outcome& outcome, std::chrono::steady_clock::time_point started);
  void OnOutcome(const std::shared_ptr<InFlight>& f, bool gzip_sent, std::chrono::steady_clock::time_point started,
                 http::Outcome outcome);
  void Decided(const std::shared_ptr<InFlight>& f, std::optional<std::chrono::milliseconds> retry_after);
  bool OnApplied(const std::shared_ptr<InFlight>& f, const Applied& a);
  void StoreWait(const std::shared_ptr<InFlight>& f, std::chrono::milliseconds wait);
  void NoteDelivered(const outbox::AckCounts& counts);
  std::chrono::milliseconds OnStoreFault(const Status& s, const std::string& what);
  void OnStoreOk();
  void Forget(const std::shared_ptr<InFlight>& f);
  void Release(const std::shared_ptr<InFlight>& f);
  void ReleaseWhere(Phase phase);
  void MaybeFinishStop();
  bool UseGzip() const { return options_.compression != "none" && !gzip_refused_; }

  boost::asio::io_context& net_;
  boost::asio::io_context& disk_;
  outbox::Outbox& outbox_;
  Transport transport_;
  const Clock& clock_;
  DeliveryOptions options_;
  DeliveryHooks hooks_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::steady_timer timer_;  // the next look for work (sync interval, backoff, a fetch's store fault)
  boost::asio::steady_timer grace_timer_;
  std::mt19937_64 rng_;
  DeliveryCounters counters_;
  std::vector<std::shared_ptr<InFlight>> held_;  // in the order they were formed
  bool fetching_ = false;
  bool started_ = false;
  bool stopping_ = false;
  bool paused_ = false;
  bool wake_pending_ = false;  // a wake came while fetching: look again if that fetch finds nothing
  bool force_due_ = false;
  bool gzip_refused_ = false;
  uint32_t lowered_max_records_ = 0;
  int64_t store_failures_ = 0;  // outbox errors in a row
  int64_t summary_records_ = 0, summary_batches_ = 0;
  std::chrono::steady_clock::time_point last_summary_{};
  std::function<void()> stop_done_;
};

}  // namespace opescare::delivery
