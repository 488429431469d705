// Delivery's reports on receipts and store faults.
#include "agent/delivery/delivery_report.h"

#include <spdlog/logger.h>

#include "agent/delivery/store_fault.h"

namespace opescare::delivery {

void ReportReceipt(DeliveryCounters& counters, spdlog::logger& log, const outbox::Batch& batch, const Step& step) {
  if (step.confirmed && !counters.no_receipt.empty()) {
    counters.no_receipt.clear();
    log.info("delivery: the server answers with receipts again");
  }
  if (!step.no_receipt.empty() && counters.no_receipt != step.message) {
    counters.no_receipt = step.message;
    log.warn("delivery: {}. Nothing leaves the outbox: batch {} is retried under the same Idempotency-Key",
             step.message, batch.batch_id);
  }
  if (step.foreign_ids > 0)
    log.warn("delivery: the receipt for batch {} names {} id(s) that are not in the batch (ignored)", batch.batch_id,
             step.foreign_ids);
  if (step.kind == StepKind::kAckPartial && step.returned > 0)
    log.info(
        "delivery: the receipt for batch {} leaves {} of its {} records unnamed: they go back to pending "
        "and travel again in a new batch",
        batch.batch_id, step.returned, batch.records.size());
}

std::chrono::milliseconds ReportStoreFault(DeliveryCounters& counters, spdlog::logger& log, const Status& status,
                                           const std::string& what, int64_t consecutive) {
  StoreFault f = ClassifyStoreFault(status, what, consecutive);
  const std::string kind = StoreFaultKindName(f.kind);
  counters.last_error = status.ToString();
  const double seconds = static_cast<double>(f.retry_in.count()) / 1000.0;
  if (counters.store_fault_kind != kind) {
    log.error("delivery: {} (retrying in {:.1f} s)", f.message, seconds);
  } else {
    log.debug("delivery: the outbox still fails ({}); retrying in {:.1f} s", status.ToString(), seconds);
  }
  counters.store_fault = f.message;
  counters.store_fault_kind = kind;
  return f.retry_in;
}

void ReportStoreOk(DeliveryCounters& counters, spdlog::logger& log) {
  if (counters.store_fault.empty()) return;
  log.info("delivery: the outbox records delivery again");
  counters.store_fault.clear();
  counters.store_fault_kind.clear();
}

}  // namespace opescare::delivery
