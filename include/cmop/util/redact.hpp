#pragma once
// Secrets that must never reach logs, errors or unauthenticated API responses.
//
// One rule, applied at every boundary where text leaves the process (HTTP answers,
// log lines, Kubernetes status and events): the state dir keeps URLs verbatim,
// everything shown goes through redact_url / redact_text.
#include <string>
#include <string_view>

namespace cmop::util {

// The URL as it may be shown:
// - userinfo of http(s)://, git:// and unknown schemes: a lone user name is a
//   token in practice (https://ghp_xxx@host/...) and becomes "***"; with a password,
//   the password becomes "***" and the user name is kept unless it looks like a
//   token itself (long, a known token prefix, or paired with x-oauth-basic);
// - ssh:// keeps its user name (git@...), masks a password;
// - a password holding an unencoded '/' (https://u:pa/ss@host/...) is still
//   recognised as userinfo (authority up to the last '@' before '?'/'#' when the
//   first segment is not host:port);
// - values of secret-looking query parameters (access_token, private_token, token,
//   password, secret, key, signature, ...) become "***";
// - scp-like "git@host:path" is kept (no secret in it); "user:pw@host:path" masks pw.
std::string redact_url(std::string_view url);

// Free text (an error reason quoting a URL, a libgit2 message) with every
// scheme://... run in it passed through redact_url.
std::string redact_text(std::string_view text);

}  // namespace cmop::util
