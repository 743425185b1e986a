#pragma once
// Where the system's trusted CA certificates are, for every TLS client in cmop
// (the HTTP client and libgit2's HTTPS transport).
#include <string>

namespace cmop::net {

struct CaLocations {
  std::string file;  // a PEM bundle; empty when none was found
  std::string dir;   // an OpenSSL hashed certificate directory; empty when none
};

// SSL_CERT_FILE and SSL_CERT_DIR when set (as OpenSSL itself honours them);
// otherwise OpenSSL's compiled-in defaults when they exist; otherwise the usual
// bundle locations of Linux distributions (/etc/ssl/certs/ca-certificates.crt,
// /etc/pki/tls/certs/ca-bundle.crt, ...) and /etc/ssl/certs. A statically linked
// cmop carries the build machine's OpenSSL directory (Debian: /usr/lib/ssl), which
// a scratch or distroless image does not have; the fallbacks find its bundle.
CaLocations system_ca_locations();

}  // namespace cmop::net
