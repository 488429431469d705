// Write and read errors -> resend or a failure stage (io_errors.h).
#include "agent/http/io_errors.h"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include "agent/http/client_context.h"
#include "agent/http/tls.h"

namespace opescare::http::internal {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using boost::system::error_code;

IoVerdict Fail(FailureStage stage, std::string error) { return IoVerdict{false, stage, std::move(error)}; }
}  // namespace

bool IsConnectionDrop(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == asio::ssl::error::stream_truncated;
}

IoVerdict ClassifyWriteError(const error_code& ec, const IoFacts& f) {
  if (ec == beast::error::timeout) {
    return Fail(FailureStage::kTimeout,
                "sending to " + f.where + " did not finish within " + Seconds(f.request_timeout));
  }
  if (f.may_resend) return IoVerdict{true, FailureStage::kNone, ""};
  return Fail(FailureStage::kWrite, "sending to " + f.where + " failed: " + ec.message());
}

IoVerdict ClassifyReadError(const error_code& ec, const IoFacts& f) {
  if (f.nothing_read && IsConnectionDrop(ec) && f.may_resend) return IoVerdict{true, FailureStage::kNone, ""};
  if (ec == bhttp::error::body_limit) {
    return Fail(FailureStage::kTooLarge,
                "response from " + f.where + " is larger than " + std::to_string(f.max_response_bytes) + " bytes");
  }
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return Fail(FailureStage::kTooLarge, "response header from " + f.where + " is larger than " +
                                             std::to_string(f.max_header_bytes) + " bytes");
  }
  if (ec == beast::error::timeout) {
    return Fail(FailureStage::kTimeout,
                "no complete response from " + f.where + " within " + Seconds(f.request_timeout));
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return Fail(FailureStage::kProtocol, f.where + " sent a malformed HTTP response (" + ec.message() + ")");
  }
  if (ec.category() == asio::error::get_ssl_category() && ec != asio::ssl::error::stream_truncated) {
    // An alert after our side of the handshake finished: typically the server refusing our client certificate.
    return Fail(FailureStage::kTlsHandshake, "TLS session with " + f.where + " failed: " + DescribeTlsError(ec));
  }
  if (IsConnectionDrop(ec) || ec == bhttp::error::partial_message) {
    return Fail(FailureStage::kRead,
                f.where + " closed the connection before a complete response (" + ec.message() + ")");
  }
  return Fail(FailureStage::kRead, "receiving from " + f.where + " failed: " + ec.message());
}

}  // namespace opescare::http::internal
