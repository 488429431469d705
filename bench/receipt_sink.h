// A fast receipt-giving sink for bench/drain_bench.py (issue 11): the answers of receipt_sink, free of I/O.
// A heartbeat gets 200; a sync batch gets a receipt (PROTOCOL.md "The receipt") that accepts every record
// by its id. It checks only what such a receipt depends on: the gzip, the JSON, batch_id equal to the
// Idempotency-Key and a string id on every record. The strict checks are the simulator's (tools/simulator).
#pragma once

#include <boost/unordered/unordered_flat_set.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace opescare::bench {

struct SinkCounters {
  uint64_t heartbeats = 0, batches = 0, records_total = 0, records_unique = 0, records_duplicate = 0;
  uint64_t bytes_received = 0, bytes_inflated = 0, tls_handshakes = 0, refused = 0;
};

struct SinkRequest {
  std::string_view method, target, content_encoding, idempotency_key, body;
};

struct SinkAnswer {
  unsigned status = 200;
  std::string body;
};

class ReceiptSink {
 public:
  explicit ReceiptSink(std::string sync_path, size_t max_body_bytes)
      : sync_path_(std::move(sync_path)), max_body_bytes_(max_body_bytes) {}

  SinkAnswer Handle(const SinkRequest& req);
  void OnTlsHandshake() { ++counters_.tls_handshakes; }
  const SinkCounters& counters() const { return counters_; }

 private:
  SinkAnswer Sync(const SinkRequest& req);

  const std::string sync_path_;
  const size_t max_body_bytes_;
  SinkCounters counters_;
  boost::unordered_flat_set<std::string> ids_;  // every record id received
};

}  // namespace opescare::bench
