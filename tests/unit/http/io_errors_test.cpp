// The pure write/read error classifier: which drops allow one resend, and the stage and words of the rest.
#include "agent/http/io_errors.h"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

namespace opescare::http::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using boost::system::error_code;
using namespace std::chrono_literals;

IoFacts Facts(bool may_resend, bool nothing_read) {
  IoFacts f;
  f.where = "api.example:443";
  f.may_resend = may_resend;
  f.nothing_read = nothing_read;
  f.request_timeout = 1500ms;
  f.max_response_bytes = 1000;
  f.max_header_bytes = 64;
  return f;
}

TEST(IoErrors, ADropOnAReusedConnectionBeforeAnyResponseByteIsResentOnce) {
  for (error_code ec : {error_code(bhttp::error::end_of_stream), error_code(asio::error::eof),
                        error_code(asio::error::connection_reset), error_code(asio::error::broken_pipe),
                        error_code(asio::error::connection_aborted), error_code(asio::ssl::error::stream_truncated)}) {
    EXPECT_TRUE(ClassifyReadError(ec, Facts(true, true)).resend) << ec.message();
    IoVerdict fresh = ClassifyReadError(ec, Facts(false, true));
    EXPECT_FALSE(fresh.resend) << "a fresh connection is not retried: " << ec.message();
    EXPECT_EQ(fresh.stage, FailureStage::kRead) << ec.message();
    EXPECT_NE(fresh.error.find("api.example:443 closed the connection before a complete response"), std::string::npos);
    IoVerdict partial = ClassifyReadError(ec, Facts(true, false));
    EXPECT_FALSE(partial.resend) << "response bytes arrived: never sent twice: " << ec.message();
    EXPECT_EQ(partial.stage, FailureStage::kRead);
  }
}

TEST(IoErrors, LimitsTimeoutsAndGarbageNameWhatWasExceeded) {
  IoVerdict body = ClassifyReadError(bhttp::error::body_limit, Facts(true, false));
  EXPECT_EQ(body.stage, FailureStage::kTooLarge);
  EXPECT_NE(body.error.find("larger than 1000 bytes"), std::string::npos) << body.error;
  for (error_code ec : {error_code(bhttp::error::header_limit), error_code(bhttp::error::buffer_overflow)}) {
    IoVerdict header = ClassifyReadError(ec, Facts(false, false));
    EXPECT_EQ(header.stage, FailureStage::kTooLarge);
    EXPECT_NE(header.error.find("response header from api.example:443 is larger than 64 bytes"), std::string::npos);
  }
  IoVerdict timeout = ClassifyReadError(beast::error::timeout, Facts(true, true));
  EXPECT_FALSE(timeout.resend);
  EXPECT_EQ(timeout.stage, FailureStage::kTimeout);
  EXPECT_NE(timeout.error.find("within 1.5 s"), std::string::npos) << timeout.error;
  IoVerdict garbage = ClassifyReadError(bhttp::error::bad_version, Facts(true, true));
  EXPECT_EQ(garbage.stage, FailureStage::kProtocol);
  EXPECT_NE(garbage.error.find("malformed HTTP response"), std::string::npos);
  EXPECT_EQ(ClassifyReadError(bhttp::error::partial_message, Facts(false, false)).stage, FailureStage::kRead);
  EXPECT_EQ(ClassifyReadError(asio::error::host_unreachable, Facts(false, false)).stage, FailureStage::kRead);
}

TEST(IoErrors, ATlsAlertAfterTheHandshakeIsATlsFailureNotADrop) {
  error_code alert(static_cast<int>(0x0A000412), asio::error::get_ssl_category());  // e.g. bad certificate alert
  IoVerdict v = ClassifyReadError(alert, Facts(true, true));
  EXPECT_FALSE(v.resend);
  EXPECT_EQ(v.stage, FailureStage::kTlsHandshake);
  EXPECT_NE(v.error.find("TLS session with api.example:443 failed"), std::string::npos) << v.error;
}

TEST(IoErrors, WriteErrorsResendOnAReusedConnectionExceptATimeout) {
  EXPECT_TRUE(ClassifyWriteError(asio::error::broken_pipe, Facts(true, true)).resend);
  IoVerdict fresh = ClassifyWriteError(asio::error::broken_pipe, Facts(false, true));
  EXPECT_EQ(fresh.stage, FailureStage::kWrite);
  EXPECT_NE(fresh.error.find("sending to api.example:443 failed"), std::string::npos);
  IoVerdict timeout = ClassifyWriteError(beast::error::timeout, Facts(true, true));
  EXPECT_FALSE(timeout.resend);
  EXPECT_EQ(timeout.stage, FailureStage::kTimeout);
}

}  // namespace
}  // namespace opescare::http::internal
