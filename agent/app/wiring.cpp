// Configuration to component options, and the outbox as the connector's sink.
#include "agent/app/wiring.h"

#include "agent/bridge/sync_body.h"

namespace opescare::app {
namespace {
std::chrono::milliseconds Ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}
}  // namespace

http::ClientOptions ClientOptionsFromConfig(const config::Config& cfg) {
  http::ClientOptions o;
  o.base_url = cfg.server_url;
  o.connect_timeout = Ms(cfg.http.connect_timeout_seconds);
  o.request_timeout = Ms(cfg.http.request_timeout_seconds);
  o.ca_file = cfg.http.ca_file;
  o.client_cert = cfg.http.client_cert;
  o.client_key = cfg.http.client_key;
  o.proxy = cfg.http.proxy;
  o.no_proxy = cfg.http.no_proxy;
  o.allow_insecure_http = cfg.allow_insecure_http;
  o.max_response_bytes = cfg.http.max_response_bytes;
  o.user_agent = bridge::UserAgent();
  return o;
}

delivery::DeliveryOptions DeliveryOptionsFromConfig(const config::Config& cfg) {
  delivery::DeliveryOptions o;
  o.target = cfg.sync_path;
  o.limits.max_records = cfg.batch.max_records;
  o.limits.max_bytes = cfg.batch.max_bytes;
  o.backoff.base = Ms(cfg.retry.initial_backoff_seconds);
  o.backoff.cap = Ms(cfg.retry.max_backoff_seconds);
  o.sync_interval = std::chrono::seconds(cfg.sync_interval_seconds);
  o.compression = cfg.http.compression;
  o.compression_level = static_cast<int>(cfg.http.compression_level);
  o.max_in_flight = cfg.delivery.max_in_flight;
  // A stop is obeyed within 2 s (ARCHITECTURE.md "Threads"): the answer in flight gets 1.5 s of it; a batch
  // abandoned then is resent under its Idempotency-Key, which the server de-duplicates.
  o.stop_grace = std::chrono::milliseconds(1500);
  return o;
}

HeartbeatOptions HeartbeatOptionsFromConfig(const config::Config& cfg) {
  HeartbeatOptions o;
  o.target = cfg.heartbeat_path;
  o.interval = std::chrono::seconds(cfg.heartbeat_interval_seconds);
  o.agent_id = cfg.agent_id;
  o.facility_id = cfg.facility_id;
  o.include_status = cfg.heartbeat.include_status;
  return o;
}

outbox::OutboxOptions OutboxOptionsFromConfig(const config::Config& cfg) {
  outbox::OutboxOptions o;
  o.path = cfg.outbox.path;
  return o;
}

bridge::Credentials CredentialsFromConfig(const config::Config& cfg) { return {cfg.agent_id, cfg.agent_key}; }

std::string SyncBodyFor(const std::string& agent_id, const std::string& facility_id, const outbox::Batch& batch) {
  bridge::SyncEnvelope envelope{agent_id, facility_id, batch.batch_id, std::chrono::system_clock::now()};
  bridge::SyncBodyWriter writer(envelope, batch.bytes + 256 * batch.records.size() + 256);
  for (const auto& r : batch.records) {
    // A record the writer refuses (its stored data is not an object) still goes: the server's 400 and the
    // split that follows isolate it into dead letters instead of blocking the queue forever.
    (void)writer.Add({r.id, r.type, r.source_file, r.source_row, r.data_json});
  }
  return std::move(writer).Finish();
}


}  // namespace opescare::app
