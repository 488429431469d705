// Wiring: turns the Config into each component's options, and adapts the outbox to the connector's
// RecordSink. Pure translation, no I/O beyond what the adapter's outbox does.
#pragma once

#include <memory>
#include <string>

#include "agent/app/heartbeat_loop.h"
#include "agent/bridge/headers.h"
#include "agent/config/config.h"
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


}  // namespace opescare::app
