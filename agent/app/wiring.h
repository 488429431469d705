// Wiring: turns the Config into each component's options, and adapts the outbox to the connector's
// RecordSink. Pure translation, no I/O beyond what the adapter's outbox does.
#pragma once

#include <memory>
#include <string>

#include "agent/app/heartbeat_loop.h"
#include "agent/bridge/headers.h"
#include "agent/config/config.h"
#include "agent/connectors/csv_folder/record_sink.h"
#include "agent/delivery/delivery_loop.h"
#include "agent/http/client.h"
#include "agent/outbox/outbox.h"

namespace opescare::app {

http::ClientOptions ClientOptionsFromConfig(const config::Config& cfg);
delivery::DeliveryOptions DeliveryOptionsFromConfig(const config::Config& cfg);
HeartbeatOptions HeartbeatOptionsFromConfig(const config::Config& cfg);
outbox::OutboxOptions OutboxOptionsFromConfig(const config::Config& cfg);
bridge::Credentials CredentialsFromConfig(const config::Config& cfg);

// The sync request body of a batch (PROTOCOL.md "Sync batches"), sent_at now.
std::string SyncBodyFor(const std::string& agent_id, const std::string& facility_id, const outbox::Batch& batch);

// The connector's RecordSink over the outbox: one EnqueueTransaction per file. Same thread as the outbox.
class OutboxRecordSink final : public csv_folder::RecordSink {
 public:
  OutboxRecordSink(outbox::Outbox* outbox, uint64_t max_size_mb) : outbox_(outbox), max_size_mb_(max_size_mb) {}
  Result<bool> IsFull() override;
  Result<bool> HasFile(const std::string& sha256) override;
  Status BeginFile(const csv_folder::FileInfo& file) override;
  Status Add(const csv_folder::Record& record) override;
  Status CommitFile(const csv_folder::FileTotals& totals) override;
  void AbortFile() override;

  int64_t last_inserted() const { return last_inserted_; }
  void set_max_size_mb(uint64_t mb) { max_size_mb_ = mb; }

 private:
  outbox::Outbox* outbox_;
  uint64_t max_size_mb_;
  std::unique_ptr<outbox::EnqueueTransaction> txn_;
  csv_folder::FileInfo file_;
  outbox::Record scratch_;
  int64_t last_inserted_ = 0;
};

}  // namespace opescare::app
