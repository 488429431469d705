// A Connection's TLS step: the expected host name, the certificate time floor, the handshake and the
// verification of the peer before any byte of a request is written.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "agent/http/build_time.h"
#include "agent/http/connection.h"
#include "agent/util/clock.h"

namespace opescare::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using boost::system::error_code;

void Connection::Handshake() {
  SSL* native = tls_->native_handle();
  const std::string& host = ctx_->endpoint.host;
  // Hostname verification is ours to ask for: OpenSSL checks only the chain unless told the name.
  bool name_set = IsIpLiteral(host)
                      ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), host.c_str()) == 1
                      : SSL_set1_host(native, host.c_str()) == 1 && SSL_set_tlsext_host_name(native, host.c_str()) == 1;
  if (!name_set) return Fail(FailureStage::kTlsHandshake, "cannot set the expected TLS host name " + host);
  ApplyTimeFloor(native);
  VerifyFailure* record = &verify_failure_;  // the callback runs only inside this connection's handshake
  tls_->set_verify_callback([record](bool preverified, ssl::verify_context& vc) {
    X509_STORE_CTX* store = vc.native_handle();
    if (!preverified && record->error == 0) {
      record->error = X509_STORE_CTX_get_error(store);
      record->depth = X509_STORE_CTX_get_error_depth(store);
      record->cert = DescribeCertificate(X509_STORE_CTX_get_current_cert(store));
    }
    return preverified;
  });
  lowest().expires_at(ex_->connect_deadline);
  tls_->async_handshake(ssl::stream_base::client, [self = shared_from_this()](error_code ec) {
    if (self->stopped_) return;
    self->OnHandshake(ec);
  });
}

// PROTOCOL.md "Clock": a clock years behind (dead CMOS battery) must not make every certificate "not yet
// valid". OpenSSL checks against the real clock, so the comparison is with it, not options.clock.
void Connection::ApplyTimeFloor(SSL* native) {
  auto local = std::chrono::system_clock::now();
  const auto& floor_hook = ctx_->options.verify_time_floor;
  auto server = floor_hook ? floor_hook() : std::chrono::system_clock::time_point{};
  auto floor = std::max(AgentBuildTime(), server);
  verify_failure_.local_now = local;
  verify_failure_.server_time = server;
  verify_failure_.checked_at = local;
  if (floor <= local) return;
  X509_VERIFY_PARAM_set_time(SSL_get0_param(native), std::chrono::system_clock::to_time_t(floor));
  verify_failure_.checked_at = floor;
  if (ctx_->ShouldLog(spdlog::level::debug)) {
    ctx_->Log(spdlog::level::debug, "the local clock is behind the time floor: checking certificates at " +
                                        FormatIso8601Utc(floor) + " (local " + FormatIso8601Utc(local) + ")");
  }
}

void Connection::OnHandshake(const error_code& ec) {
  const std::string where = ctx_->endpoint.HostPort();
  Outcome& outcome = ex_->outcome;
  SSL* native = tls_->native_handle();
  if (verify_failure_.error != 0) {
    outcome.peer_certificate = verify_failure_.cert;
    outcome.clock_suspect = SuspectClock(verify_failure_);
    return Fail(FailureStage::kTlsVerify, "TLS certificate of " + where + " refused: " +
                                              DescribeVerifyFailure(verify_failure_, ctx_->endpoint.host));
  }
  if (ec == beast::error::timeout) {
    return Fail(FailureStage::kTimeout,
                "TLS handshake with " + where + " did not finish within " + Seconds(ctx_->options.connect_timeout));
  }
  if (ec) return Fail(FailureStage::kTlsHandshake, "TLS handshake with " + where + " failed: " + DescribeTlsError(ec));
  // Belt and braces: never write a request to a peer OpenSSL did not verify.
  X509* peer = SSL_get0_peer_certificate(native);
  if (peer == nullptr || SSL_get_verify_result(native) != X509_V_OK) {
    return Fail(FailureStage::kTlsVerify, "TLS peer " + where + " is not verified");
  }
  outcome.peer_certificate = DescribeCertificate(peer);
  outcome.tls_version = SSL_get_version(native);
  if (ctx_->ShouldLog(spdlog::level::debug)) {
    ctx_->Log(spdlog::level::debug, outcome.tls_version + " to " + where + " verified, peer " +
                                        outcome.peer_certificate->subject + " issued by " +
                                        outcome.peer_certificate->issuer + ", notAfter " +
                                        FormatIso8601Utc(outcome.peer_certificate->not_after));
  }
  open_ = true;
  verified_ = true;
  peer_ = outcome.peer_certificate;
  tls_version_ = outcome.tls_version;
  Write();
}

}  // namespace opescare::http::internal
