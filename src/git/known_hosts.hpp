#pragma once
// OpenSSH known_hosts matching for SSH host key verification (libgit2 1.5 has none).
#include <string_view>

namespace cmop::git::detail {

enum class HostKeyCheck {
  match,         // an entry for the host carries exactly this key
  mismatch,      // the host is listed, but with other keys (or this key is @revoked)
  unknown_host,  // no entry names the host
};

// `known_hosts` is the file's content; `key_blob` the server's raw public key in SSH
// wire format (what the base64 field of a known_hosts line decodes to). Hosts on a
// port other than 22 are matched as "[host]:port", like OpenSSH. Supports plain and
// hashed (|1|salt|hash) host fields, * and ? wildcards, !negation and @revoked;
// @cert-authority lines are ignored.
HostKeyCheck check_known_host(std::string_view known_hosts, std::string_view host, int port,
                              std::string_view key_blob);

}  // namespace cmop::git::detail
