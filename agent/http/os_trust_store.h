// The operating system's trust store (agent/env/os_trust.h: Windows' ROOT store) imported into an
// OpenSSL context beside the CA bundle and http.ca_file. Off Windows there is no such store.
#pragma once

#include <string>
#include <vector>

struct ssl_ctx_st;

namespace opescare::http {

struct OsTrust {
  std::string name;      // "Windows ROOT store"; "" when there is no store (POSIX) or it could not be read
  int certificates = 0;  // imported into the context
  std::string problem;   // why the store could not be read ("" when it was)
};

// Decodes each DER certificate (d2i_X509) into ctx's X509_STORE; returns how many were added.
// Undecodable blobs are skipped, so one odd entry of the store cannot cost the rest.
int AddDerCertificates(ssl_ctx_st* ctx, const std::vector<std::string>& der);

// Imports env::OsRootCertificates() into ctx. Never fails the context: the bundle and http.ca_file
// may be trust enough; OsTrust says what happened.
OsTrust LoadOsTrustStore(ssl_ctx_st* ctx);

// "Windows ROOT store (132 certificates)", or the store's name with its problem; "" without a store.
std::string DescribeOsTrust(const OsTrust& trust);

}  // namespace opescare::http
