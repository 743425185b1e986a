#include "cmop/net/ca_paths.hpp"

#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdlib>

namespace cmop::net {
namespace {

bool is_file(const char* path) {
  struct stat st {};
  return path && *path && ::stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const char* path) {
  struct stat st {};
  return path && *path && ::stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

}  // namespace

CaLocations system_ca_locations() {
  CaLocations out;
  const char* file_env = env(X509_get_default_cert_file_env());  // "SSL_CERT_FILE"
  const char* dir_env = env(X509_get_default_cert_dir_env());    // "SSL_CERT_DIR"
  if (file_env || dir_env) {
    // An explicit choice is taken as given, even where it does not exist: the TLS
    // handshake then fails naming the missing trust, rather than silently using others.
    if (file_env) out.file = file_env;
    if (dir_env) out.dir = dir_env;
    return out;
  }
  static const char* const bundles[] = {
      X509_get_default_cert_file(),            // OpenSSL's own (Debian: /usr/lib/ssl/cert.pem)
      "/etc/ssl/certs/ca-certificates.crt",     // Debian, Ubuntu, Alpine, distroless, cmop's image
      "/etc/pki/tls/certs/ca-bundle.crt",       // Fedora, RHEL
      "/etc/ssl/ca-bundle.pem",                 // openSUSE
      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
      "/etc/ssl/cert.pem",                      // Alpine, BSDs
  };
  for (const char* f : bundles) {
    if (is_file(f)) {
      out.file = f;
      break;
    }
  }
  for (const char* d : {X509_get_default_cert_dir(), "/etc/ssl/certs", "/etc/pki/tls/certs"}) {
    if (is_dir(d)) {
      out.dir = d;
      break;
    }
  }
  return out;
}

}  // namespace cmop::net
