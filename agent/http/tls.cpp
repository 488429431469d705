// Descriptions of certificates and TLS errors, and the clock as their likely cause (see tls.h).
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
  return FromUtcTm(tm);
}

std::string Iso(std::chrono::system_clock::time_point t) { return FormatIso8601Utc(t); }

constexpr auto kDay = std::chrono::hours(24);

int64_t Days(std::chrono::system_clock::duration d) {
  return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::hours>(d).count() / 24);
}

std::string DaysText(std::chrono::system_clock::duration d) {
  int64_t n = Days(d);
  return n < 1 ? "less than a day" : n == 1 ? "1 day" : std::to_string(n) + " days";
}

bool Known(std::chrono::system_clock::time_point t) { return t.time_since_epoch().count() != 0; }

// The clause that names the clock, or "" when SuspectClock does not.
std::string ClockClause(const VerifyFailure& f) {
  const PeerCertificate& c = f.cert;
  switch (SuspectClock(f)) {
    case ClockSuspect::kAhead:
      if (Known(f.server_time) && f.server_time <= c.not_after) {
        return "; this machine's clock (" + Iso(f.local_now) + ") is " + DaysText(f.local_now - f.server_time) +
               " ahead of the last known server time (" + Iso(f.server_time) +
               "): the clock is the likely cause, set the correct time (enable NTP)";
      }
      return "; it expired " + DaysText(f.local_now - c.not_after) + " ago by this machine's clock (" +
             Iso(f.local_now) + "), longer than it was ever valid (" + DaysText(c.not_after - c.not_before) +
             "): the clock is likely ahead, set the correct time (enable NTP)";
    case ClockSuspect::kBehind: {
      std::string at = f.checked_at > f.local_now + std::chrono::seconds(1)
                           ? " (checked at " + Iso(f.checked_at) + ", the last known server time or build time)"
                           : "";
      return "; this machine's clock (" + Iso(f.local_now) + ")" + at + " is " +
             std::to_string(Days(c.not_before - std::max(f.checked_at, f.local_now))) +
             " days before it: if the certificate should be valid, the clock is behind (CMOS battery?), set the "
             "correct time";
    }
    case ClockSuspect::kNone:
      break;
  }
  return "";
}

std::string JoinNames(const PeerCertificate& cert) {
  std::string out;
  for (const auto& n : cert.names) out += (out.empty() ? "" : ", ") + n;
  if (out.empty()) out = cert.subject.empty() ? "(no names)" : cert.subject;
  return out;
}

}  // namespace

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

ClockSuspect SuspectClock(const VerifyFailure& f) {
  const PeerCertificate& c = f.cert;
  if (f.error == X509_V_ERR_CERT_NOT_YET_VALID) return ClockSuspect::kBehind;
  if (f.error != X509_V_ERR_CERT_HAS_EXPIRED || !Known(f.local_now) || f.local_now <= c.not_after) {
    return ClockSuspect::kNone;
  }
  if (Known(f.server_time)) {
    // Valid at the last time the server told us, and the local clock is well past that time.
    bool valid_then = f.server_time <= c.not_after;
    return valid_then && f.local_now - f.server_time > 30 * kDay ? ClockSuspect::kAhead : ClockSuspect::kNone;
  }
  auto expired_for = f.local_now - c.not_after;
  auto lifetime = c.not_after - c.not_before;
  return expired_for > 30 * kDay && expired_for > lifetime ? ClockSuspect::kAhead : ClockSuspect::kNone;
}

std::string DescribeVerifyFailure(const VerifyFailure& f, std::string_view host) {
  const PeerCertificate& c = f.cert;
  std::string which = f.depth == 0 ? "certificate" : "issuing certificate (" + c.subject + ")";
  switch (f.error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return which + " has expired (notAfter=" + Iso(c.not_after) + (f.depth == 0 ? ", subject " + c.subject : "") +
             ")" + ClockClause(f);
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return which + " is not yet valid (notBefore=" + Iso(c.not_before) + ")" + ClockClause(f);
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
