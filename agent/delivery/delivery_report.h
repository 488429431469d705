// What the delivery loop tells people about receipts and store faults: the counters the status shows
// and the log lines, each said once per change rather than on every retry.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "agent/delivery/decision.h"
#include "agent/delivery/delivery_loop.h"
#include "agent/outbox/outbox.h"

namespace opescare::delivery {

// After a decision: sets or clears counters.no_receipt (logging the change), warns about ids a receipt
// named outside the batch, and tells how many records a receipt left unnamed.
void ReportReceipt(DeliveryCounters& counters, spdlog::logger& log, const outbox::Batch& batch, const Step& step);

// An outbox error (the consecutive-th in a row): sets counters.store_fault/_kind, logs at error when the
// kind changes (debug otherwise), and returns the wait before the store is tried again.
std::chrono::milliseconds ReportStoreFault(DeliveryCounters& counters, spdlog::logger& log, const Status& status,
                                           const std::string& what, int64_t consecutive);

// A successful outbox call: clears the store fault, saying so once.
void ReportStoreOk(DeliveryCounters& counters, spdlog::logger& log);

}  // namespace opescare::delivery
