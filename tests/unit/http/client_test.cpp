// The HTTPS client against real TLS on loopback: verification failures send zero request bytes,
// custom CA, mTLS, keep-alive and stale reconnects, proxies, hostile servers, timeouts, gzip, logs.
#include "agent/http/client.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <sstream>

#include "agent/http/gzip.h"
#include "agent/http/tls_context.h"
#include "test_pki.h"
#include "test_server.h"

namespace opescare::http {
namespace {

using namespace std::chrono_literals;
using opescare::testing::CertSpec;
using opescare::testing::HttpResponse;
using opescare::testing::Pem;
using opescare::testing::ReceivedRequest;
using opescare::testing::Reply;
using opescare::testing::ServerTls;
using opescare::testing::TempDir;
using opescare::testing::TestPki;
using opescare::testing::TestServer;
using opescare::testing::Tinyproxy;

constexpr char kKey[] = "sk_live_TOPSECRET_0123456789";

const TestPki& Pki() {
  static const TestPki* pki = new TestPki();  // made once: key generation is the slow part
  return *pki;
}

ServerTls TlsWith(const Pem& pem, const std::string& chain_extra = "") {
  ServerTls tls;
  tls.cert_chain_pem = pem.cert + chain_extra;
  tls.key_pem = pem.key;
  return tls;
}

TestServer::Handler Ok(std::string body = R"({"ok":true})") {
  return [body](const ReceivedRequest&) { return Reply{HttpResponse(200, body)}; };
}

Request Heartbeat() {
  Request r;
  r.method = "POST";
  r.target = "/api/v1/bridge/heartbeat";
  r.headers = {{"X-Bridge-Agent-ID", "agt_1"}, {"X-Bridge-Agent-Key", kKey}, {"Content-Type", "application/json"}};
  r.body = R"({"agent_id":"agt_1","facility_id":"f","version":"0.1.0"})";
  return r;
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() {
    ca_file_ = TestPki::WriteFile(dir_.path(), "ca.pem", Pki().trusted_root().cert);
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_);
    log_ = std::make_shared<spdlog::logger>("http-test", sink);
    log_->set_level(spdlog::level::trace);
  }

  ClientOptions Options(uint16_t port, const std::string& host = "127.0.0.1", const std::string& scheme = "https") {
    ClientOptions o;
    o.base_url = scheme + "://" + host + ":" + std::to_string(port);
    o.ca_file = ca_file_;
    o.connect_timeout = 3s;
    o.request_timeout = 5s;
    o.user_agent = "opescare-bridge/test";
    return o;
  }

  std::unique_ptr<Client> Make(ClientOptions options) {
    auto client = Client::Create(io_, std::move(options), log_);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Runs io_ until pred holds (true) or limit passes (false): a state reached at any machine speed, where
  // a fixed run_for would reach a different one on a slow machine.
  template <typename Pred>
  bool RunUntil(Pred pred, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.restart();
      io_.run_for(10ms);
    }
    return true;
  }

  Outcome SendAndWait(Client& client, Request request, std::chrono::seconds limit = 10s) {
    std::optional<Outcome> result;
    client.Send(std::move(request), [&](Outcome o) {
      result = std::move(o);
      io_.stop();
    });
    io_.restart();
    io_.run_for(limit);
    if (!result) {
      ADD_FAILURE() << "no completion within " << limit.count() << " s";
      Outcome none;
      none.stage = FailureStage::kClosed;
      return none;
    }
    return *result;
  }

  std::string Logs() {
    log_->flush();
    return log_text_.str();
  }

  TempDir dir_;
  std::string ca_file_;
  boost::asio::io_context io_;
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
};

TEST_F(ClientTest, ValidChainFromCustomCaFile) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  auto client = Make(Options(server.port()));
  auto before = std::chrono::system_clock::now();
  Outcome o = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.stage, FailureStage::kNone);
  EXPECT_EQ(o.response->status, 200);
  EXPECT_EQ(o.response->body, R"({"ok":true})");
  EXPECT_TRUE(o.response->Header("date").has_value());
  EXPECT_EQ(o.response->Header("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(o.tls_version.rfind("TLSv1.", 0), 0u);
  ASSERT_TRUE(o.peer_certificate.has_value());
  EXPECT_NE(o.peer_certificate->subject.find("CN=localhost"), std::string::npos);
  EXPECT_NE(o.peer_certificate->issuer.find("CN=OB Test Root CA"), std::string::npos);
  EXPECT_GT(o.peer_certificate->not_after, before);
  EXPECT_GE(o.sent_at, before - 1s);
  EXPECT_GE(o.received_at, o.sent_at);
  EXPECT_FALSE(o.reused_connection);

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/api/v1/bridge/heartbeat");
  EXPECT_EQ(requests[0].Header("X-Bridge-Agent-Key"), kKey);
  EXPECT_EQ(requests[0].Header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(requests[0].Header("User-Agent"), "opescare-bridge/test");
  EXPECT_EQ(requests[0].body, Heartbeat().body);
}

TEST_F(ClientTest, HostNameSendsSniAndMatchesDnsName) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  auto client = Make(Options(server.port(), "localhost"));
  Outcome o = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(server.last_sni(), "localhost");
}

TEST_F(ClientTest, BasePathIsPrefixed) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  ClientOptions options = Options(server.port());
  options.base_url += "/gateway/";
  auto client = Make(options);
  ASSERT_TRUE(SendAndWait(*client, Heartbeat()).ok());
  EXPECT_EQ(server.requests().at(0).target, "/gateway/api/v1/bridge/heartbeat");
}

struct BadCertCase {
  const char* name;
  std::function<ServerTls()> make;
  std::string host;
  FailureStage stage;
  std::vector<std::string> error_has;
};

void PrintTo(const BadCertCase& c, std::ostream* os) { *os << c.name; }

class BadCertificateTest : public ClientTest, public ::testing::WithParamInterface<BadCertCase> {};

TEST_P(BadCertificateTest, RefusedBeforeAnyRequestByteIsSent) {
  const BadCertCase& c = GetParam();
  TestServer server(c.make(), Ok());
  auto client = Make(Options(server.port(), c.host));
  Outcome o = SendAndWait(*client, Heartbeat());
  EXPECT_FALSE(o.ok());
  EXPECT_EQ(o.stage, c.stage) << FailureStageName(o.stage) << ": " << o.error;
  for (const auto& part : c.error_has) EXPECT_NE(o.error.find(part), std::string::npos) << o.error;
  EXPECT_NE(o.error.find(std::to_string(server.port())), std::string::npos) << "names the server: " << o.error;
  // The heart of it: the server never received one byte of the request.
  EXPECT_EQ(server.application_bytes(), 0u);
  EXPECT_EQ(server.handshakes(), 0);
  EXPECT_TRUE(server.requests().empty());
  if (c.stage == FailureStage::kTlsVerify) {
    EXPECT_TRUE(o.peer_certificate.has_value());
  }
}

CertSpec Spec(std::chrono::seconds from, std::chrono::seconds until, std::vector<std::string> dns = {"localhost"},
              std::vector<std::string> ips = {"127.0.0.1"}) {
  CertSpec s;
  s.valid_from = from;
  s.valid_until = until;
  s.dns = std::move(dns);
  s.ips = std::move(ips);
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Tls, BadCertificateTest,
    ::testing::Values(BadCertCase{"Expired",
                                  [] { return TlsWith(Pki().Issue(Spec(-48h, -24h))); },
                                  "127.0.0.1",
                                  FailureStage::kTlsVerify,
                                  {"certificate has expired", "notAfter="}},
                      BadCertCase{"NotYetValid",
                                  [] { return TlsWith(Pki().Issue(Spec(24h, 48h))); },
                                  "127.0.0.1",
                                  FailureStage::kTlsVerify,
                                  {"not yet valid", "notBefore="}},
                      BadCertCase{"WrongIp",
                                  [] { return TlsWith(Pki().Issue(Spec(-1h, 24h, {"other.example"}, {}))); },
                                  "127.0.0.1",
                                  FailureStage::kTlsVerify,
                                  {"hostname mismatch: certificate is for other.example, not 127.0.0.1"}},
                      BadCertCase{
                          "WrongName",
                          [] { return TlsWith(Pki().Issue(Spec(-1h, 24h, {"api.opescare.com"}, {"127.0.0.1"}))); },
                          "localhost",
                          FailureStage::kTlsVerify,
                          {"hostname mismatch: certificate is for api.opescare.com, 127.0.0.1, not localhost"}},
                      BadCertCase{"SelfSigned",
                                  [] { return TlsWith(Pki().SelfSigned(CertSpec{})); },
                                  "127.0.0.1",
                                  FailureStage::kTlsVerify,
                                  {"self-signed certificate", "http.ca_file"}},
                      BadCertCase{"UntrustedIssuer",
                                  [] { return TlsWith(Pki().Issue(CertSpec{}, /*by_untrusted_root=*/true)); },
                                  "127.0.0.1",
                                  FailureStage::kTlsVerify,
                                  {"OB Untrusted Root CA", "not a trusted CA"}},
                      BadCertCase{"UntrustedRootInChain",
                                  [] { return TlsWith(Pki().Issue(CertSpec{}, true), Pki().untrusted_root().cert); },
                                  "127.0.0.1",
                                  FailureStage::kTlsVerify,
                                  {"untrusted root", "OB Untrusted Root CA"}},
                      BadCertCase{"OnlyTls10And11",
                                  [] {
                                    ServerTls t = TlsWith(Pki().Issue(CertSpec{}));
                                    t.min_version = TLS1_VERSION;
                                    t.max_version = TLS1_1_VERSION;
                                    t.legacy_seclevel = true;
                                    return t;
                                  },
                                  "127.0.0.1",
                                  FailureStage::kTlsHandshake,
                                  {"no TLS version 1.2 or newer"}}),
    [](const ::testing::TestParamInfo<BadCertCase>& info) { return std::string(info.param.name); });

TEST_F(ClientTest, TimeFloorLaterThanTheLocalClockRescuesANotYetValidCertificate) {
  // The local clock a day before the certificate's notBefore (a dead CMOS battery, in small): with the
  // last verified server time after it, the check runs at that time and the request goes out.
  TestServer server(TlsWith(Pki().Issue(Spec(24h, 30 * 24h))), Ok());
  auto now = std::chrono::system_clock::now();
  ClientOptions options = Options(server.port());
  options.verify_time_floor = [now] { return now + 25h; };
  auto client = Make(options);
  Outcome o = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_TRUE(o.verified_tls);
  EXPECT_EQ(server.requests().size(), 1u);
  // The same server without the floor: not yet valid, the clock named, and not one byte sent.
  TestServer strict(TlsWith(Pki().Issue(Spec(24h, 30 * 24h))), Ok());
  auto plain = Make(Options(strict.port()));
  Outcome refused = SendAndWait(*plain, Heartbeat());
  EXPECT_EQ(refused.stage, FailureStage::kTlsVerify) << refused.error;
  EXPECT_EQ(refused.clock_suspect, ClockSuspect::kBehind);
  EXPECT_NE(refused.error.find("clock is behind"), std::string::npos) << refused.error;
  EXPECT_FALSE(refused.verified_tls);
  EXPECT_EQ(strict.application_bytes(), 0u);
}

TEST_F(ClientTest, TimeFloorEarlierThanTheLocalClockChangesNothing) {
  TestServer server(TlsWith(Pki().Issue(Spec(-50 * 24h, -24h))), Ok());  // expired yesterday
  ClientOptions options = Options(server.port());
  auto now = std::chrono::system_clock::now();
  options.verify_time_floor = [now] { return now - 40 * 24h; };  // long before it expired
  auto client = Make(options);
  Outcome o = SendAndWait(*client, Heartbeat());
  EXPECT_EQ(o.stage, FailureStage::kTlsVerify) << o.error;
  EXPECT_NE(o.error.find("certificate has expired"), std::string::npos) << o.error;
  // Valid at the last known server time 40 days ago, and the clock more than 30 days past it: named.
  EXPECT_EQ(o.clock_suspect, ClockSuspect::kAhead);
  EXPECT_NE(o.error.find("ahead of the last known server time"), std::string::npos) << o.error;
  EXPECT_EQ(server.application_bytes(), 0u);
}

TEST_F(ClientTest, VerifiedTlsOnFreshAndReusedConnectionsNotOnPlainHttp) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  auto client = Make(Options(server.port()));
  Outcome first = SendAndWait(*client, Heartbeat());
  Outcome second = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(first.ok() && second.ok()) << first.error << second.error;
  EXPECT_TRUE(first.verified_tls);
  EXPECT_TRUE(second.reused_connection);
  EXPECT_TRUE(second.verified_tls);
  ASSERT_TRUE(second.peer_certificate.has_value());
  EXPECT_NE(second.peer_certificate->subject.find("CN=localhost"), std::string::npos);
  TestServer plain(std::nullopt, Ok());
  auto http = Make(Options(plain.port(), "127.0.0.1", "http"));
  Outcome o = SendAndWait(*http, Heartbeat());
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_FALSE(o.verified_tls);
}

TEST_F(ClientTest, OneTlsContextSharedByTwoClients) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  auto context = TlsContext::Create(Options(server.port()));
  ASSERT_TRUE(context.ok()) << context.status().ToString();
  auto a = Client::Create(io_, Options(server.port()), *context, log_);
  auto b = Client::Create(io_, Options(server.port()), *context, log_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(SendAndWait(**a, Heartbeat()).ok());
  EXPECT_TRUE(SendAndWait(**b, Heartbeat()).ok());
  EXPECT_EQ(context->use_count(), 3);  // here and in both clients: one store in memory
  EXPECT_NE((*context)->TrustDescription().find("http.ca_file: " + ca_file_), std::string::npos)
      << (*context)->TrustDescription();
  // Options asking for another CA file must not silently get this context's trust.
  ClientOptions other = Options(server.port());
  other.ca_file = dir_.path() + "/other.pem";
  auto refused = Client::Create(io_, other, *context, log_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  auto none = Client::Create(io_, Options(server.port()), nullptr, log_);
  EXPECT_FALSE(none.ok());
}

TEST_F(ClientTest, TestCaIsNotTrustedWithoutCaFile) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  ClientOptions options = Options(server.port());
  options.ca_file.clear();  // the system store alone
  auto client = Make(options);
  Outcome o = SendAndWait(*client, Heartbeat());
  EXPECT_EQ(o.stage, FailureStage::kTlsVerify) << o.error;
  EXPECT_EQ(server.application_bytes(), 0u);
}

TEST_F(ClientTest, ClientCertificateForMutualTls) {
  ServerTls tls = TlsWith(Pki().Issue(CertSpec{}));
  tls.client_ca_pem = Pki().trusted_root().cert;
  TestServer server(tls, Ok());

  auto without = Make(Options(server.port()));
  Outcome refused = SendAndWait(*without, Heartbeat());
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(server.application_bytes(), 0u);  // the server never accepted the session

  CertSpec client_spec;
  client_spec.common_name = "agt_1";
  client_spec.dns.clear();
  client_spec.ips.clear();
  client_spec.client = true;
  Pem client_pem = Pki().Issue(client_spec);
  ClientOptions options = Options(server.port());
  options.client_cert = TestPki::WriteFile(dir_.path(), "client.pem", client_pem.cert);
  options.client_key = TestPki::WriteFile(dir_.path(), "client.key", client_pem.key);
  auto with = Make(options);
  Outcome o = SendAndWait(*with, Heartbeat());
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_NE(server.last_client_subject().find("CN=agt_1"), std::string::npos);
}

TEST_F(ClientTest, CreateRefusesBadOptions) {
  auto bad = [&](ClientOptions o) { return !Client::Create(io_, std::move(o), log_).ok(); };
  ClientOptions o = Options(443, "api.opescare.com", "http");
  EXPECT_TRUE(bad(o));  // plain http beyond loopback
  o.allow_insecure_http = true;
  EXPECT_FALSE(bad(o));
  ClientOptions missing_ca = Options(443);
  missing_ca.ca_file = dir_.path() + "/nope.pem";
  EXPECT_TRUE(bad(missing_ca));
  ClientOptions half_mtls = Options(443);
  half_mtls.client_cert = ca_file_;
  EXPECT_TRUE(bad(half_mtls));
  ClientOptions mismatched = Options(443);
  Pem a = Pki().Issue(CertSpec{}), b = Pki().Issue(CertSpec{});
  mismatched.client_cert = TestPki::WriteFile(dir_.path(), "a.pem", a.cert);
  mismatched.client_key = TestPki::WriteFile(dir_.path(), "b.key", b.key);
  EXPECT_TRUE(bad(mismatched));
  ClientOptions bad_proxy = Options(443);
  bad_proxy.proxy = "socks5://127.0.0.1:1080";
  EXPECT_TRUE(bad(bad_proxy));
  EXPECT_TRUE(bad(Options(0)));
}

TEST_F(ClientTest, SecretRefusedOverPlainHttpBeyondLoopback) {
  ClientOptions o = Options(80, "opescare.test", "http");
  o.allow_insecure_http = true;
  auto client = Make(o);
  Outcome refused = SendAndWait(*client, Heartbeat());  // refused before any DNS or connect
  EXPECT_EQ(refused.stage, FailureStage::kInsecure);
  EXPECT_NE(refused.error.find("opescare.test"), std::string::npos);
}

TEST_F(ClientTest, PlainHttpToLoopback) {
  TestServer server(std::nullopt, Ok());
  auto client = Make(Options(server.port(), "127.0.0.1", "http"));
  Outcome o = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_FALSE(o.peer_certificate.has_value());
  EXPECT_EQ(server.requests().at(0).Header("X-Bridge-Agent-Key"), kKey);
}

TEST_F(ClientTest, KeepAliveReusesOneConnection) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  auto client = Make(Options(server.port()));
  Outcome first = SendAndWait(*client, Heartbeat());
  Outcome second = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(first.ok() && second.ok()) << first.error << second.error;
  EXPECT_FALSE(first.reused_connection);
  EXPECT_TRUE(second.reused_connection);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.handshakes(), 1);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(ClientTest, ConnectionCloseIsHonoured) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), [](const ReceivedRequest&) {
    return Reply{HttpResponse(200, "{}", "Connection: close\r\n")};  // the server keeps its side open
  });
  auto client = Make(Options(server.port()));
  ASSERT_TRUE(SendAndWait(*client, Heartbeat()).ok());
  Outcome second = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(second.ok()) << second.error;
  EXPECT_FALSE(second.reused_connection);
  EXPECT_EQ(server.connections(), 2);
}

TEST_F(ClientTest, ServerClosedIdleConnectionIsReplacedTransparently) {
  // The server closes after each response without saying so: the idle connection is dead on reuse.
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), [](const ReceivedRequest&) {
    return Reply{HttpResponse(200, "{}"), /*close_after=*/true};
  });
  auto client = Make(Options(server.port()));
  ASSERT_TRUE(SendAndWait(*client, Heartbeat()).ok());
  std::this_thread::sleep_for(100ms);  // let the FIN arrive
  Outcome second = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(second.ok()) << second.error;
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.requests().size(), 2u);  // nothing sent twice
}

TEST_F(ClientTest, StaleReusedConnectionIsRetriedOnceWhenNothingWasRead) {
  // The second request arrives just as the server gives up on the idle connection: it reads the
  // request and closes without a byte of answer. The client sends it again on a new connection.
  std::atomic<int> n{0};
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), [&](const ReceivedRequest&) {
    int i = ++n;
    if (i == 2) return Reply{"", /*close_after=*/true};
    return Reply{HttpResponse(200, "{\"n\":" + std::to_string(i) + "}")};
  });
  auto client = Make(Options(server.port()));
  ASSERT_TRUE(SendAndWait(*client, Heartbeat()).ok());
  Outcome second = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(second.ok()) << second.error;
  EXPECT_EQ(second.response->body, "{\"n\":3}");
  EXPECT_FALSE(second.reused_connection);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_NE(Logs().find("sending again on a new connection"), std::string::npos);
}

TEST_F(ClientTest, NoResendOnceResponseBytesArrived) {
  std::atomic<int> n{0};
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), [&](const ReceivedRequest&) {
    if (++n == 2) return Reply{"HTTP/1.1 200 OK\r\nContent-Le", /*close_after=*/true};
    return Reply{HttpResponse(200, "{}")};
  });
  auto client = Make(Options(server.port()));
  ASSERT_TRUE(SendAndWait(*client, Heartbeat()).ok());
  Outcome second = SendAndWait(*client, Heartbeat());
  EXPECT_FALSE(second.ok());
  EXPECT_EQ(second.stage, FailureStage::kRead) << second.error;
  EXPECT_EQ(server.requests().size(), 2u);  // not resent
}

TEST_F(ClientTest, FreshConnectionDroppedWithoutAnswerIsNotRetried) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), [](const ReceivedRequest&) { return Reply{"", true}; });
  auto client = Make(Options(server.port()));
  Outcome o = SendAndWait(*client, Heartbeat());
  EXPECT_EQ(o.stage, FailureStage::kRead) << o.error;
  EXPECT_NE(o.error.find("closed the connection"), std::string::npos) << o.error;
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(ClientTest, GarbageResponseIsAProtocolError) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), [](const ReceivedRequest&) {
    return Reply{"SSH-2.0-OpenSSH_9.2\r\n\r\n\x01\x02garbage", true};
  });
  auto client = Make(Options(server.port()));
  Outcome o = SendAndWait(*client, Heartbeat());
  EXPECT_EQ(o.stage, FailureStage::kProtocol) << o.error;
  EXPECT_NE(o.error.find("malformed HTTP response"), std::string::npos) << o.error;
}

TEST_F(ClientTest, OversizedBodyIsCutOffAtTheLimit) {
  const std::string big(10 << 20, 'x');
  TestServer server(TlsWith(Pki().Issue(CertSpec{})),
                    [&](const ReceivedRequest&) { return Reply{HttpResponse(200, big)}; });
  ClientOptions options = Options(server.port());
  options.max_response_bytes = 1 << 20;
  auto client = Make(options);
  Outcome o = SendAndWait(*client, Heartbeat());
  EXPECT_EQ(o.stage, FailureStage::kTooLarge) << o.error;
  EXPECT_NE(o.error.find("larger than 1048576 bytes"), std::string::npos) << o.error;
}

TEST_F(ClientTest, OversizedChunkedBodyAndHeaderAreCutOff) {
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 40; ++i) chunked += "10000\r\n" + std::string(0x10000, 'y') + "\r\n";
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), [&](const ReceivedRequest& r) {
    if (r.target.find("header") != std::string::npos) {
      return Reply{"HTTP/1.1 200 OK\r\nX-Big: " + std::string(200000, 'h') + "\r\nContent-Length: 0\r\n\r\n", true};
    }
    return Reply{chunked, true};
  });
  ClientOptions options = Options(server.port());
  options.max_response_bytes = 1 << 20;
  auto client = Make(options);
  Outcome body = SendAndWait(*client, Heartbeat());
  EXPECT_EQ(body.stage, FailureStage::kTooLarge) << body.error;
  Request header_request = Heartbeat();
  header_request.target = "/header";
  Outcome header = SendAndWait(*client, header_request);
  EXPECT_EQ(header.stage, FailureStage::kTooLarge) << header.error;
  EXPECT_NE(header.error.find("header"), std::string::npos) << header.error;
}

TEST_F(ClientTest, SilentServerTimesOutOnTime) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), [](const ReceivedRequest&) { return Reply{"", false, true}; });
  ClientOptions options = Options(server.port());
  options.request_timeout = 1s;
  auto client = Make(options);
  auto start = std::chrono::steady_clock::now();
  Outcome o = SendAndWait(*client, Heartbeat());
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(o.stage, FailureStage::kTimeout) << o.error;
  EXPECT_NE(o.error.find("within 1 s"), std::string::npos) << o.error;
  EXPECT_GE(elapsed, 900ms);  // not before the timeout (timers never fire early); SendAndWait bounds it above
}

TEST_F(ClientTest, HandshakeThatNeverCompletesHitsTheConnectTimeout) {
  // A plain TCP server that reads the ClientHello and never answers it.
  TestServer server(std::nullopt, [](const ReceivedRequest&) { return Reply{"", false, true}; });
  ClientOptions options = Options(server.port());
  options.connect_timeout = 1s;
  options.request_timeout = 10s;
  auto client = Make(options);
  auto start = std::chrono::steady_clock::now();
  Outcome o = SendAndWait(*client, Heartbeat());
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(o.stage, FailureStage::kTimeout) << o.error;
  // The connect timeout fired, not the 10 s request timeout: the message says which, at any machine speed.
  EXPECT_NE(o.error.find("TLS handshake with 127.0.0.1:" + std::to_string(server.port()) + " did not finish within 1 s"),
            std::string::npos)
      << o.error;
  EXPECT_GE(elapsed, 900ms);
}

TEST_F(ClientTest, ServerSpeakingPlainHttpOnTheTlsPort) {
  TestServer server(std::nullopt, Ok());
  ClientOptions options = Options(server.port());
  options.connect_timeout = 1s;
  auto client = Make(options);
  Outcome o = SendAndWait(*client, Heartbeat());
  EXPECT_FALSE(o.ok());
  EXPECT_TRUE(o.stage == FailureStage::kTlsHandshake || o.stage == FailureStage::kTimeout) << o.error;
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ClientTest, ConnectionRefusedNamesTheServer) {
  uint16_t port = opescare::testing::UnusedLoopbackPort();
  auto client = Make(Options(port));
  Outcome o = SendAndWait(*client, Heartbeat());
  EXPECT_EQ(o.stage, FailureStage::kConnect) << o.error;
  EXPECT_NE(o.error.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << o.error;
}

// The caller compresses (the delivery loop, as a batch arrives); the client sends the bytes as they are,
// under Content-Encoding: gzip.
TEST_F(ClientTest, GzipBodyRoundTrips) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  auto client = Make(Options(server.port()));
  Request r = Heartbeat();
  std::string original;
  for (int i = 0; i < 2000; ++i) original += R"({"id":"r_)" + std::to_string(i) + R"(","type":"patient"})";
  auto compressed = GzipCompress(original);
  ASSERT_TRUE(compressed.ok()) << compressed.status().ToString();
  r.body = *compressed;
  r.gzip_body = true;
  ASSERT_TRUE(SendAndWait(*client, r).ok());
  const ReceivedRequest got = server.requests().at(0);
  EXPECT_EQ(got.Header("Content-Encoding"), "gzip");
  EXPECT_EQ(got.body, *compressed) << "sent as it is, not compressed a second time";
  EXPECT_LT(got.body.size(), original.size() / 4);
  auto inflated = GzipDecompress(got.body, 1 << 20);
  ASSERT_TRUE(inflated.ok()) << inflated.status().ToString();
  EXPECT_EQ(*inflated, original);
}

TEST_F(ClientTest, RequestsQueueInOrderAndTheQueueIsBounded) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})),
                    [](const ReceivedRequest& r) { return Reply{HttpResponse(200, r.target)}; });
  ClientOptions options = Options(server.port());
  options.max_queued = 2;
  auto client = Make(options);
  std::vector<Outcome> done;
  for (int i = 0; i < 4; ++i) {
    Request r = Heartbeat();
    r.target = "/r" + std::to_string(i);
    client->Send(r, [&](Outcome o) {
      done.push_back(std::move(o));
      if (done.size() == 4) io_.stop();
    });
  }
  io_.run_for(10s);
  ASSERT_EQ(done.size(), 4u);
  EXPECT_EQ(done[0].stage, FailureStage::kQueueFull);  // the 4th: one in flight + two waiting already
  EXPECT_EQ(done[1].response->body, "/r0");
  EXPECT_EQ(done[2].response->body, "/r1");
  EXPECT_EQ(done[3].response->body, "/r2");
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(ClientTest, CloseFailsThePendingRequests) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), [](const ReceivedRequest&) { return Reply{"", false, true}; });
  auto client = Make(Options(server.port()));
  std::vector<FailureStage> stages;
  for (int i = 0; i < 2; ++i) client->Send(Heartbeat(), [&](Outcome o) { stages.push_back(o.stage); });
  ASSERT_TRUE(RunUntil([&] { return server.requests().size() == 1; })) << "the first waits for its answer";
  client->Close();
  io_.restart();
  io_.run_for(1s);
  EXPECT_EQ(stages, (std::vector<FailureStage>{FailureStage::kClosed, FailureStage::kClosed}));
  client->Send(Heartbeat(), [&](Outcome o) { stages.push_back(o.stage); });
  io_.restart();
  io_.run_for(1s);
  EXPECT_EQ(stages.size(), 3u);
  EXPECT_EQ(stages.back(), FailureStage::kClosed);
}

TEST_F(ClientTest, NoCompletionAfterDestruction) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), [](const ReceivedRequest&) { return Reply{"", false, true}; });
  bool called = false;
  {
    auto client = Make(Options(server.port()));
    client->Send(Heartbeat(), [&](Outcome) { called = true; });
    ASSERT_TRUE(RunUntil([&] { return server.requests().size() == 1; })) << "destroyed while it waits";
  }
  io_.restart();
  io_.run_for(500ms);
  EXPECT_FALSE(called);
}

TEST_F(ClientTest, SendBlockingForCommandLineUse) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  // It returns with the answer: the kept-alive connection and its idle timer do not hold it. With a day's
  // idle_timeout, a SendBlocking that waited for the timer would never return (ctest's timeout fails it).
  ClientOptions options = Options(server.port());
  options.idle_timeout = 24h;
  auto o = SendBlocking(options, Heartbeat(), log_);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_TRUE(o->ok()) << o->error;
  EXPECT_EQ(o->response->status, 200);
  EXPECT_FALSE(SendBlocking(Options(0), Heartbeat(), log_).ok());
}

TEST_F(ClientTest, TraceLogsNeverContainSecrets) {
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  auto client = Make(Options(server.port()));
  ASSERT_TRUE(SendAndWait(*client, Heartbeat()).ok());
  TestServer expired(TlsWith(Pki().Issue(Spec(-48h, -24h))), Ok());
  auto failing = Make(Options(expired.port()));
  EXPECT_FALSE(SendAndWait(*failing, Heartbeat()).ok());
  std::string logs = Logs();
  EXPECT_NE(logs.find("X-Bridge-Agent-Key: ***"), std::string::npos) << logs;
  EXPECT_NE(logs.find("verified"), std::string::npos);
  EXPECT_EQ(logs.find(kKey), std::string::npos) << logs;
}

class ProxyTest : public ClientTest {
 protected:
  void SetUp() override {
    if (!Tinyproxy::Available()) GTEST_SKIP() << "tinyproxy is not installed";
  }
};

TEST_F(ProxyTest, TunnelsThroughConnect) {
  Tinyproxy proxy(dir_.path());
  ASSERT_TRUE(proxy.ready());
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  ClientOptions options = Options(server.port());
  options.proxy = "http://127.0.0.1:" + std::to_string(proxy.port());
  auto client = Make(options);
  Outcome o = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(o.ok()) << o.error;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].Header("X-Bridge-Agent-Key"), kKey);  // end to end, encrypted past the proxy
  Outcome again = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(again.ok()) << again.error;
  EXPECT_TRUE(again.reused_connection);
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(ProxyTest, VerificationStillAppliesThroughTheProxy) {
  Tinyproxy proxy(dir_.path());
  ASSERT_TRUE(proxy.ready());
  TestServer server(TlsWith(Pki().SelfSigned(CertSpec{})), Ok());
  ClientOptions options = Options(server.port());
  options.proxy = "127.0.0.1:" + std::to_string(proxy.port());
  auto client = Make(options);
  Outcome o = SendAndWait(*client, Heartbeat());
  EXPECT_EQ(o.stage, FailureStage::kTlsVerify) << o.error;
  EXPECT_EQ(server.application_bytes(), 0u);
}

TEST_F(ProxyTest, BasicAuth) {
  Tinyproxy proxy(dir_.path(), "bridge", "pr0xy-pass");
  ASSERT_TRUE(proxy.ready());
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  ClientOptions options = Options(server.port());
  options.proxy = "http://bridge:wrong@127.0.0.1:" + std::to_string(proxy.port());
  auto refused = Make(options);
  Outcome no = SendAndWait(*refused, Heartbeat());
  EXPECT_EQ(no.stage, FailureStage::kProxy) << no.error;
  EXPECT_NE(no.error.find("refused the user:password"), std::string::npos) << no.error;
  EXPECT_NE(no.error.find("proxy 127.0.0.1:" + std::to_string(proxy.port())), std::string::npos) << no.error;

  options.proxy = "http://bridge:pr0xy-pass@127.0.0.1:" + std::to_string(proxy.port());
  auto client = Make(options);
  Outcome yes = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(yes.ok()) << yes.error;
  std::string logs = Logs();
  EXPECT_NE(logs.find("Proxy-Authorization: ***"), std::string::npos);
  EXPECT_EQ(logs.find("pr0xy-pass"), std::string::npos);
  EXPECT_EQ(logs.find("YnJpZGdlOnByMHh5LXBhc3M="), std::string::npos);  // base64 of the credentials
}

TEST_F(ProxyTest, WrongProxyAddressNamesTheProxy) {
  uint16_t dead = opescare::testing::UnusedLoopbackPort();
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  ClientOptions options = Options(server.port());
  options.proxy = "http://127.0.0.1:" + std::to_string(dead);
  auto client = Make(options);
  Outcome o = SendAndWait(*client, Heartbeat());
  EXPECT_EQ(o.stage, FailureStage::kProxy) << o.error;
  EXPECT_EQ(o.error, "proxy 127.0.0.1:" + std::to_string(dead) + " refused the connection");
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ProxyTest, NoProxyGoesDirect) {
  uint16_t dead = opescare::testing::UnusedLoopbackPort();
  TestServer server(TlsWith(Pki().Issue(CertSpec{})), Ok());
  ClientOptions options = Options(server.port());
  options.proxy = "http://127.0.0.1:" + std::to_string(dead);
  options.no_proxy = "example.com,127.0.0.1";
  auto client = Make(options);
  Outcome o = SendAndWait(*client, Heartbeat());
  ASSERT_TRUE(o.ok()) << o.error;
}

}  // namespace
}  // namespace opescare::http
