// The sync receipt (PROTOCOL.md "The receipt"): a pure parser that tells a receipt naming the batch's
// records from every 2xx body that is not one (a captive portal, a proxy's page, a truncated body...).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opescare::bridge {

struct RejectedRecord {
  std::string id;
  std::string error;  // "rejected" when the server gave no code
  std::string message;
};

// Why a 2xx body is not a receipt.
enum class NotReceiptReason {
  kHtmlPage,          // markup: a captive portal or a proxy's page
  kEmptyBody,         // nothing (or only whitespace)
  kTruncatedJson,     // JSON that stops early
  kInvalidJson,       // not JSON at all
  kNotAnObject,       // JSON, but an array, a string, a number...
  kBatchIdMissing,    // an object without a string "batch_id"
  kBatchIdMismatch,   // the receipt of another batch
  kNoLists,           // neither "accepted" nor "rejected"
  kWrongTypes,        // a list that is not an array, an id that is not a non-empty string...
  kUnexpectedStatus,  // a 2xx other than 200/201/202 (PROTOCOL.md's table names only those)
};

const char* NotReceiptReasonName(NotReceiptReason reason);

// A receipt, restricted to the batch: each id appears once, in the server's order.
struct Receipt {
  std::vector<std::string> accepted;     // ids of the batch the server took (never also in rejected)
  std::vector<RejectedRecord> rejected;  // ids of the batch the server refused (wins over accepted)
  size_t foreign_ids = 0;                // ids named that are not in the batch: ignored, counted for one warning
  size_t unnamed = 0;                    // records of the batch named in neither list: they go back to pending
};

// Either a receipt or why the body is not one, with the likely cause in words for the log and status.
struct ReceiptCheck {
  std::optional<Receipt> receipt;
  NotReceiptReason reason = NotReceiptReason::kEmptyBody;  // meaningful when !receipt
  std::string cause;  // e.g. "an HTML page: a captive portal or a proxy's login page answered instead of OpesCare"

  bool ok() const { return receipt.has_value(); }
};

// Checks a 2xx sync response body against the batch it answers. batch_id is the Idempotency-Key,
// record_ids the batch's record ids. The Content-Type is not consulted: the body decides.
ReceiptCheck ParseReceipt(std::string_view body, std::string_view batch_id, const std::vector<std::string>& record_ids);

}  // namespace opescare::bridge
