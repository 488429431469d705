// Internal to agent/http: what a failed write or read of a request means (pure, no sockets): resend it on a
// fresh connection, or fail it with a stage and a message that names the server and the limit involved.
#pragma once

#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "agent/http/client.h"

namespace opescare::http::internal {

// A connection drop that means "the server had closed the kept-alive connection".
bool IsConnectionDrop(const boost::system::error_code& ec);

struct IoFacts {
  std::string where;  // "host:port" of the server
  // The request went over a connection kept alive from before, has not been resent yet, and the client is
  // not closed: a drop may be the server closing it while idle, so one resend is allowed.
  bool may_resend = false;
  bool nothing_read = true;  // reads only: not one byte of the response arrived
  std::chrono::milliseconds request_timeout{0};
  uint64_t max_response_bytes = 0;
  uint32_t max_header_bytes = 0;
};

struct IoVerdict {
  bool resend = false;  // send the request again on a fresh connection; stage/error unset
  FailureStage stage = FailureStage::kNone;
  std::string error;
};

IoVerdict ClassifyWriteError(const boost::system::error_code& ec, const IoFacts& facts);
IoVerdict ClassifyReadError(const boost::system::error_code& ec, const IoFacts& facts);

}  // namespace opescare::http::internal
