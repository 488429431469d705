// gzip-encoded responses: DecodeContentEncoding as a pure function, and the client asking for gzip
// (Accept-Encoding) and inflating a gzip answer within max_response_bytes, against a loopback server.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>

#include "agent/http/client.h"
#include "agent/http/content_coding.h"
#include "agent/http/gzip.h"
#include "test_server.h"

namespace opescare::http {
namespace {

using namespace std::chrono_literals;
using opescare::testing::HttpResponse;
using opescare::testing::ReceivedRequest;
using opescare::testing::Reply;
using opescare::testing::TestServer;

const std::string kReceipt =
    R"({"batch_id":"0193c7a2-6a1e-7cc4-9d1e-4f3b2a1c0d9e","accepted":["r_1","r_2"],"rejected":[]})";

Response GzipResponse(const std::string& body, const std::string& coding = "gzip") {
  Response r;
  r.status = 200;
  r.headers = {{"Content-Type", "application/json"}, {"Content-Encoding", coding}, {"Content-Length", "99"}};
  r.body = GzipCompress(body).value();
  return r;
}

TEST(DecodeContentEncoding, InflatesGzipAndDropsTheHeadersThatDescribedTheWireBody) {
  for (std::string coding : {"gzip", "GZIP", " x-gzip "}) {
    Response r = GzipResponse(kReceipt, coding);
    ASSERT_TRUE(DecodeContentEncoding(r, 1 << 20).ok()) << coding;
    EXPECT_EQ(r.body, kReceipt) << coding;
    EXPECT_FALSE(r.Header("Content-Encoding").has_value());
    EXPECT_FALSE(r.Header("Content-Length").has_value());
    EXPECT_EQ(r.Header("Content-Type").value_or(""), "application/json");
  }
}

TEST(DecodeContentEncoding, LeavesOtherCodingsAndEmptyBodiesAlone) {
  Response plain;
  plain.body = kReceipt;
  ASSERT_TRUE(DecodeContentEncoding(plain, 1 << 20).ok());
  EXPECT_EQ(plain.body, kReceipt);

  Response identity = plain;
  identity.headers = {{"Content-Encoding", "identity"}};
  ASSERT_TRUE(DecodeContentEncoding(identity, 1 << 20).ok());
  EXPECT_EQ(identity.body, kReceipt);

  // Never asked for: kept as bytes, so that it is not a receipt (and the status still counts).
  Response brotli = GzipResponse(kReceipt, "br");
  const std::string wire = brotli.body;
  ASSERT_TRUE(DecodeContentEncoding(brotli, 1 << 20).ok());
  EXPECT_EQ(brotli.body, wire);

  Response empty;  // a 204 or HEAD answer that names a coding
  empty.headers = {{"Content-Encoding", "gzip"}};
  ASSERT_TRUE(DecodeContentEncoding(empty, 1 << 20).ok());
  EXPECT_EQ(empty.body, "");
}

TEST(DecodeContentEncoding, RefusesToInflateBeyondTheLimit) {
  Response r = GzipResponse(std::string(200000, 'x'));
  ASSERT_LT(r.body.size(), 4096u);  // small on the wire
  Status s = DecodeContentEncoding(r, 65536);
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_EQ(s.message(), "is larger than 65536 bytes after gzip decoding");

  Response exact = GzipResponse(std::string(65536, 'x'));
  ASSERT_TRUE(DecodeContentEncoding(exact, 65536).ok());  // the limit itself is allowed
  EXPECT_EQ(exact.body.size(), 65536u);
}

TEST(DecodeContentEncoding, InvalidGzipIsAProtocolError) {
  Response r;
  r.headers = {{"Content-Encoding", "gzip"}};
  r.body = "{\"accepted\":[]}";
  Status s = DecodeContentEncoding(r, 1 << 20);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("not valid gzip"), std::string::npos) << s.message();

  Response truncated = GzipResponse(kReceipt);
  truncated.body.resize(truncated.body.size() - 5);
  EXPECT_EQ(DecodeContentEncoding(truncated, 1 << 20).code(), Code::kInvalidArgument);
}

class GzipResponseClientTest : public ::testing::Test {
 protected:
  Outcome Send(uint16_t port, bool accept_gzip, uint64_t max_response_bytes = 8u << 20) {
    ClientOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(port);
    o.connect_timeout = 3s;
    o.request_timeout = 5s;
    o.max_response_bytes = max_response_bytes;
    auto client = Client::Create(io_, o, nullptr);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    Request r;
    r.target = "/api/v1/bridge/sync";
    r.body = "{}";
    r.accept_gzip = accept_gzip;
    Outcome result;
    result.stage = FailureStage::kClosed;
    result.error = "no answer";
    (*client)->Send(std::move(r), [&](Outcome out) {
      result = std::move(out);
      io_.stop();
    });
    io_.restart();
    io_.run_for(10s);
    return result;
  }

  boost::asio::io_context io_;
};

// Answers gzip only when asked, as a server should.
Reply GzipWhenAsked(const ReceivedRequest& req, const std::string& body) {
  if (req.Header("Accept-Encoding").find("gzip") == std::string::npos) return Reply{HttpResponse(200, body)};
  return Reply{HttpResponse(200, GzipCompress(body).value(), "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n")};
}

TEST_F(GzipResponseClientTest, AsksForGzipAndHandsBackTheInflatedReceipt) {
  TestServer server(std::nullopt, [](const ReceivedRequest& req) { return GzipWhenAsked(req, kReceipt); });
  Outcome o = Send(server.port(), /*accept_gzip=*/true);
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.response->body, kReceipt);
  EXPECT_FALSE(o.response->Header("Content-Encoding").has_value());
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].Header("Accept-Encoding"), "gzip");
}

TEST_F(GzipResponseClientTest, DoesNotAskUnlessTold) {
  TestServer server(std::nullopt, [](const ReceivedRequest& req) { return GzipWhenAsked(req, kReceipt); });
  Outcome o = Send(server.port(), /*accept_gzip=*/false);
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.response->body, kReceipt);
  EXPECT_EQ(server.requests().at(0).Header("Accept-Encoding"), "");
}

TEST_F(GzipResponseClientTest, AGzipBodyOverTheLimitAfterInflatingIsTooLarge) {
  const std::string padded = "{\"padding\":\"" + std::string(300000, 'x') + "\"}";
  const size_t wire = GzipCompress(padded).value().size();
  const uint64_t limit = 64 * 1024;
  ASSERT_LT(wire, limit);  // the wire body alone passes the parser's limit
  TestServer server(std::nullopt, [&](const ReceivedRequest& req) { return GzipWhenAsked(req, padded); });
  Outcome o = Send(server.port(), /*accept_gzip=*/true, limit);
  EXPECT_FALSE(o.ok());
  EXPECT_EQ(o.stage, FailureStage::kTooLarge) << o.error;
  EXPECT_EQ(o.error, "response from 127.0.0.1:" + std::to_string(server.port()) +
                         " is larger than 65536 bytes after gzip decoding");
}

TEST_F(GzipResponseClientTest, InvalidGzipIsAProtocolFailure) {
  TestServer server(std::nullopt, [](const ReceivedRequest&) {
    return Reply{HttpResponse(200, kReceipt, "Content-Encoding: gzip\r\n")};
  });
  Outcome o = Send(server.port(), /*accept_gzip=*/true);
  EXPECT_EQ(o.stage, FailureStage::kProtocol) << o.error;
  EXPECT_NE(o.error.find("not valid gzip"), std::string::npos) << o.error;
}

}  // namespace
}  // namespace opescare::http
