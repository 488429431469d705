// Client TLS context construction and descriptions of certificates and TLS errors (see tls.h).
#include "agent/http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <ctime>

#include "agent/util/clock.h"

namespace opescare::http::internal {
namespace ssl = boost::asio::ssl;

namespace {

std::string NameToString(const X509_NAME* name) {
  if (name == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len > 0 ? len : 0));
  BIO_free(bio);
  return out;
}

std::chrono::system_clock::time_point AsnTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string Iso(std::chrono::system_clock::time_point t) { return FormatIso8601Utc(t); }

std::string JoinNames(const PeerCertificate& cert) {
  std::string out;
  for (const auto& n : cert.names) out += (out.empty() ? "" : ", ") + n;
  if (out.empty()) out = cert.subject.empty() ? "(no names)" : cert.subject;
  return out;
}

}  // namespace

Result<std::unique_ptr<ssl::context>> MakeTlsContext(const ClientOptions& options) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) return Internal("cannot require TLS 1.2");
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
  boost::system::error_code ec;
  // A missing system store is not fatal: ca_file may be all the trust there is.
  ctx->set_default_verify_paths(ec);
  if (!options.ca_file.empty()) {
    ctx->load_verify_file(options.ca_file, ec);
    if (ec) return InvalidArgument("cannot load CA file " + options.ca_file + ": " + ec.message());
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return Internal("cannot enable peer verification: " + ec.message());
  if (!options.client_cert.empty() || !options.client_key.empty()) {
    if (options.client_cert.empty() || options.client_key.empty()) {
      return InvalidArgument("client_cert and client_key must be given together");
    }
    ctx->use_certificate_chain_file(options.client_cert, ec);
    if (ec) return InvalidArgument("cannot load client certificate " + options.client_cert + ": " + ec.message());
    ctx->use_private_key_file(options.client_key, ssl::context::pem, ec);
    if (ec) return InvalidArgument("cannot load client key " + options.client_key + ": " + ec.message());
    if (SSL_CTX_check_private_key(native) != 1) {
      ERR_clear_error();
      return InvalidArgument("client key " + options.client_key + " does not match " + options.client_cert);
    }
  }
  ERR_clear_error();
  return ctx;
}

PeerCertificate DescribeCertificate(X509* cert) {
  PeerCertificate out;
  if (cert == nullptr) return out;
  out.subject = NameToString(X509_get_subject_name(cert));
  out.issuer = NameToString(X509_get_issuer_name(cert));
  out.not_before = AsnTime(X509_get0_notBefore(cert));
  out.not_after = AsnTime(X509_get0_notAfter(cert));
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && i < 64; ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type == GEN_DNS) {
        const auto* s = n->d.dNSName;
        out.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<size_t>(ASN1_STRING_length(s)));
      } else if (n->type == GEN_IPADD) {
        const auto* s = n->d.iPAddress;
        const unsigned char* p = ASN1_STRING_get0_data(s);
        if (ASN1_STRING_length(s) == 4) {
          boost::asio::ip::address_v4::bytes_type b;
          std::copy(p, p + 4, b.begin());
          out.names.push_back(boost::asio::ip::address_v4(b).to_string());
        } else if (ASN1_STRING_length(s) == 16) {
          boost::asio::ip::address_v6::bytes_type b;
          std::copy(p, p + 16, b.begin());
          out.names.push_back(boost::asio::ip::address_v6(b).to_string());
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  return out;
}

std::string DescribeVerifyFailure(const VerifyFailure& f, std::string_view host) {
  const PeerCertificate& c = f.cert;
  std::string which = f.depth == 0 ? "certificate" : "issuing certificate (" + c.subject + ")";
  switch (f.error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return which + " has expired (notAfter=" + Iso(c.not_after) + (f.depth == 0 ? ", subject " + c.subject : "") +
             ")";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return which + " is not yet valid (notBefore=" + Iso(c.not_before) +
             "); if it should be, check this machine's clock";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "hostname mismatch: certificate is for " + JoinNames(c) + ", not " + std::string(host);
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "self-signed certificate (" + c.subject + ") is not trusted; add it to http.ca_file if it is expected";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "certificate chain ends in an untrusted root (" + c.subject + "); add that CA to http.ca_file";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      return "certificate issuer (" + c.issuer + ") is not a trusted CA; add it to http.ca_file";
    default:
      return std::string(X509_verify_cert_error_string(f.error)) + " (depth " + std::to_string(f.depth) + ", subject " +
             c.subject + ")";
  }
}

std::string DescribeTlsError(const boost::system::error_code& ec) {
  if (ec == ssl::error::stream_truncated) return "the server closed the connection during the TLS handshake";
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      case SSL_R_NO_PROTOCOLS_AVAILABLE:
      case SSL_R_VERSION_TOO_LOW:
        return "the server offers no TLS version 1.2 or newer (" + ec.message() + ")";
      case SSL_R_WRONG_VERSION_NUMBER:
      case SSL_R_PACKET_LENGTH_TOO_LONG:
        return "the server did not answer with TLS; is it plain HTTP? (" + ec.message() + ")";
      case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
        return "the server refused the handshake; does it require a client certificate? (" + ec.message() + ")";
      default:
        break;
    }
  }
  return ec.message();
}

}  // namespace opescare::http::internal
