// The delivery loop: takes due batches from the outbox (disk worker) and sends them over the HTTPS
// client (network thread), acting on every response as PROTOCOL.md's table says. Pipelined: up to
// max_in_flight batches are on the wire at once (each under its own Idempotency-Key, answered in any
// order), and the next batch is formed on the disk thread, and compressed, while they are.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/delivery/backoff.h"
#include "agent/delivery/transport.h"
#include "agent/http/client.h"
#include "agent/http/gzip.h"
#include "agent/outbox/outbox.h"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}
namespace opescare {
class Clock;
}

namespace opescare::delivery {

struct DeliveryOptions {
  std::string target = "/api/v1/bridge/sync";       // sync_path below the server URL
  outbox::BatchLimits limits;
  BackoffPolicy backoff;
  std::chrono::milliseconds sync_interval{300'000};  // longest sleep when nothing wakes the loop
  std::string compression = "auto";                  // gzip | none | auto (gzip until a 415); none: no gzip either way
  int compression_level = http::kDefaultGzipLevel;   // of request bodies (http.compression_level)
  std::chrono::milliseconds stop_grace{5000};        // how long Stop() lets a request in flight finish
  uint32_t max_in_flight = 2;  // delivery.max_in_flight: sync requests on the wire at once (1..8), each its own batch
  uint64_t jitter_seed = 0;    // seeds the backoff's jitter; 0 draws one from std::random_device (tests fix it)
};

struct DeliveryHooks {
  // The sync request body for a batch (PROTOCOL.md). Runs on the disk thread; must be pure.
  std::function<std::string(const outbox::Batch&)> build_body;
  // The bridge headers (agent id, key, corrected timestamp...). Runs on the network thread per send.
  std::function<http::Headers()> make_headers;
  // Every outcome, on the network thread: clock offset and connection state live there.
  std::function<void(const http::Outcome&)> observe;
  // The measured server clock offset, so a 401 can be blamed on the clock when it is far off.
  std::function<int64_t()> clock_offset_seconds;
  // Retry-After of a response, when it has a usable one.
  std::function<std::optional<std::chrono::milliseconds>(const http::Response&)> retry_after;
  // Delivery paused (reason set) or resumed (reason empty), on the network thread.
  std::function<void(const std::string& reason)> on_pause_change;
  // Each batch's send duration in seconds (for the histogram), on the network thread.
  std::function<void(double seconds)> on_batch_sent;
  // After any outbox change made by delivery (ack, dead letter), on the network thread.
  std::function<void()> on_outbox_changed;
};

// Counters for the status page and /metrics; read on the network thread.
struct DeliveryCounters {
  int64_t records_delivered = 0;
  int64_t records_rejected = 0;  // dead-lettered on the server's word
  int64_t records_resent = 0;    // records sent again in a retried batch
  int64_t batches_2xx = 0, batches_4xx = 0, batches_5xx = 0, batches_other = 0, batches_transport = 0;
  std::optional<std::chrono::system_clock::time_point> last_sync_at;  // last 2xx/duplicate
  std::optional<std::chrono::steady_clock::time_point> backoff_until;  // when the waiting batch is due
  std::string paused_reason;  // non-empty while paused
  std::string last_error;
  // Non-empty while the latest 2xx was not a receipt: "the server answered 2xx without a receipt: <cause>".
  // Cleared by the next confirmation (a receipt, or 409 duplicate_batch). Fault kind "no_receipt".
  std::string no_receipt;
  // Non-empty while the outbox cannot record delivery (read a batch, record an outcome): what failed and the
  // fix. Cleared by the next successful outbox call. store_fault_kind: "disk_full", "corrupt", "locked",
  // "io" or "other" (see store_fault.h).
  std::string store_fault;
  std::string store_fault_kind;
};

// Threads: every public method runs on the network thread (post to it from elsewhere). The outbox is
// touched only on the disk thread; the client only on the network thread. Both must outlive the loop,
// and the loop must outlive both io_contexts' handlers that it posted (stop the contexts first). The
// transport must carry max_in_flight requests at once (http::ClientOptions::max_connections) to pipeline;
// with fewer, the requests wait in its queue.
class DeliveryLoop {
 public:
  DeliveryLoop(boost::asio::io_context& net, boost::asio::io_context& disk, outbox::Outbox& outbox,
               http::Client& client, DeliveryOptions options, DeliveryHooks hooks,
               std::shared_ptr<spdlog::logger> logger);
  // The same with the seams the unit tests use: any transport, any clock (borrowed, must outlive the loop;
  // its wall time stamps retries and acks, its steady time backoff_until). Timers still run on net.
  DeliveryLoop(boost::asio::io_context& net, boost::asio::io_context& disk, outbox::Outbox& outbox,
               Transport transport, const Clock& clock, DeliveryOptions options, DeliveryHooks hooks,
               std::shared_ptr<spdlog::logger> logger);
  ~DeliveryLoop();
  DeliveryLoop(const DeliveryLoop&) = delete;
  DeliveryLoop& operator=(const DeliveryLoop&) = delete;

  void Start();
  // New records were queued: look for work now.
  void Wake();
  // Connectivity came back (a heartbeat was accepted): resend a waiting batch now instead of at its backoff
  // time, and resume a pause (the server accepts the agent again).
  void ConnectivityRegained();
  // Applies new options (SIGHUP); takes effect from the next batch.
  void UpdateOptions(DeliveryOptions options);
  // Stops taking batches; done() runs once the requests in flight (if any) finished or stop_grace passed,
  // and every outcome that arrived is recorded. A batch formed but not sent is released unchanged.
  void Stop(std::function<void()> done);

  const DeliveryCounters& counters() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace opescare::delivery
