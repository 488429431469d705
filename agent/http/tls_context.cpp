// Client TLS context construction (see tls_context.h).
#include "agent/http/tls_context.h"
#include "agent/http/os_trust_store.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>

namespace opescare::http {
namespace ssl = boost::asio::ssl;

namespace {

int StoreSize(SSL_CTX* ctx) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  return store ? sk_X509_OBJECT_num(X509_STORE_get0_objects(store)) : 0;
}

// The system CAs: a missing store is not fatal, ca_file may be all the trust there is. A hashed directory is
// a lookup OpenSSL reads a certificate from when a handshake needs it; the bundle file is parsed whole only
// when LoadCaFileWhole says so (its ~100 ms were most of the start to the first heartbeat).
void LoadSystemCas(SSL_CTX* ctx, const CaBundle& bundle, int* loaded) {
  if (LoadCaFileWhole(bundle)) {
    int before = StoreSize(ctx);
    if (SSL_CTX_load_verify_file(ctx, bundle.file.c_str()) == 1) *loaded = StoreSize(ctx) - before;
  }
  for (const auto& dir : bundle.dirs) SSL_CTX_load_verify_dir(ctx, dir.c_str());
  // Nothing found where Go looks: OpenSSL's own default (its OPENSSLDIR) is the last resort.
  if (bundle.file.empty() && bundle.dirs.empty()) SSL_CTX_set_default_verify_paths(ctx);
  ERR_clear_error();
}

}  // namespace

TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::Create(const ClientOptions& options) {
  std::shared_ptr<TlsContext> out(new TlsContext());
  out->ctx_ = std::make_unique<ssl::context>(ssl::context::tls_client);
  ssl::context& ctx = *out->ctx_;
  SSL_CTX* native = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) return Internal("cannot require TLS 1.2");
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
  out->system_ca_ = FindSystemCaBundle();
  LoadSystemCas(native, out->system_ca_, &out->system_ca_certificates_);
  out->os_trust_ = LoadOsTrustStore(native);  // Windows' ROOT store; nothing elsewhere
  boost::system::error_code ec;
  if (!options.ca_file.empty()) {
    ctx.load_verify_file(options.ca_file, ec);
    if (ec) return InvalidArgument("cannot load CA file " + options.ca_file + ": " + ec.message());
  }
  ctx.set_verify_mode(ssl::verify_peer, ec);
  if (ec) return Internal("cannot enable peer verification: " + ec.message());
  if (!options.client_cert.empty() || !options.client_key.empty()) {
    if (options.client_cert.empty() || options.client_key.empty()) {
      return InvalidArgument("client_cert and client_key must be given together");
    }
    ctx.use_certificate_chain_file(options.client_cert, ec);
    if (ec) return InvalidArgument("cannot load client certificate " + options.client_cert + ": " + ec.message());
    ctx.use_private_key_file(options.client_key, ssl::context::pem, ec);
    if (ec) return InvalidArgument("cannot load client key " + options.client_key + ": " + ec.message());
    if (SSL_CTX_check_private_key(native) != 1) {
      ERR_clear_error();
      return InvalidArgument("client key " + options.client_key + " does not match " + options.client_cert);
    }
  }
  ERR_clear_error();
  out->ca_file_ = options.ca_file;
  out->client_cert_ = options.client_cert;
  out->client_key_ = options.client_key;
  return out;
}

std::string TlsContext::TrustDescription() const {
  std::string text = "system CAs: ";
  if (!os_trust_.name.empty() && system_ca_.file.empty() && system_ca_.dirs.empty())
    return text + DescribeOsTrust(os_trust_) + (ca_file_.empty() ? "" : "; http.ca_file: " + ca_file_);
  if (system_ca_.file.empty() && system_ca_.dirs.empty()) {
    text += "none found (OpenSSL's built-in default tried)";
  } else if (!system_ca_.file.empty() && !LoadCaFileWhole(system_ca_)) {
    // "/etc/ssl/certs (known path, 146 certificates, read on demand; /etc/ssl/certs/ca-certificates.crt not loaded)"
    for (const auto& d : system_ca_.dirs) text += (&d == &system_ca_.dirs[0] ? "" : ", ") + d;
    text += " (" + system_ca_.dirs_source + ", " + std::to_string(system_ca_.hashed_certificates) +
            " certificates, read on demand; " + system_ca_.file + " not loaded)";
  } else {
    if (!system_ca_.file.empty()) {
      text += system_ca_.file + " (" + system_ca_.source + ", " + std::to_string(system_ca_certificates_) +
              " certificates)";
    }
    for (const auto& d : system_ca_.dirs)
      text += (system_ca_.file.empty() && &d == &system_ca_.dirs[0] ? "" : ", ") + d;
  }
  if (!ca_file_.empty()) text += "; http.ca_file: " + ca_file_;
  return text;
}

bool TlsContext::Matches(const ClientOptions& options) const {
  return options.ca_file == ca_file_ && options.client_cert == client_cert_ && options.client_key == client_key_;
}

}  // namespace opescare::http
