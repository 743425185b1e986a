// URL policy for git remotes: which transports cmop talks to, and when a local
// repository may be read (only with --allow-local-git, since a local path lets a
// ChartRepository author read any repository on the operator's filesystem).
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "cmop/error.hpp"
#include "cmop/git/repository.hpp"
#include "cmop/util/redact.hpp"

namespace cmop::git {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

[[noreturn]] void invalid(std::string_view url, std::string reason) {
  throw Error(Errc::invalid_argument, util::redact_url(url), std::move(reason));
}

[[noreturn]] void local_forbidden(std::string_view url) {
  throw Error(Errc::forbidden, util::redact_url(url),
              "local git repositories (file:// URLs and filesystem paths) are disabled; "
              "start cmop with --allow-local-git to enable them");
}

// scp-like syntax as git understands it: [user@]host:path, where the colon comes
// before any slash (otherwise git treats the string as a local path).
bool is_scp_like(std::string_view url) {
  size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  size_t slash = url.find('/');
  if (slash != std::string_view::npos && slash < colon) return false;
  std::string_view user_host = url.substr(0, colon);
  size_t at = user_host.rfind('@');
  std::string_view host = at == std::string_view::npos ? user_host : user_host.substr(at + 1);
  if (host.empty() || (at != std::string_view::npos && at == 0)) return false;
  return url.size() > colon + 1;
}

}  // namespace

void validate_url(std::string_view url, bool allow_local) {
  if (url.empty()) invalid(url, "git URL is empty");
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) invalid(url, "git URL contains whitespace or control characters");
  }
  if (url.front() == '-') invalid(url, "git URL must not start with '-'");

  size_t sep = url.find("://");
  if (sep != std::string_view::npos) {
    std::string scheme = lower(url.substr(0, sep));
    std::string_view rest = url.substr(sep + 3);
    if (scheme == "file") {
      if (!allow_local) local_forbidden(url);
      if (rest.empty()) invalid(url, "file:// URL has no path");
      return;
    }
    if (scheme != "https" && scheme != "http" && scheme != "git" && scheme != "ssh") {
      invalid(url, "unsupported git URL scheme '" + scheme +
                       "': use https://, http://, git://, ssh:// or user@host:path");
    }
    std::string_view authority = rest.substr(0, rest.find('/'));
    std::string_view host = authority.substr(authority.rfind('@') == std::string_view::npos
                                                 ? 0
                                                 : authority.rfind('@') + 1);
    if (host.empty() || host.front() == ':') invalid(url, "git URL has no host");
    if (rest.size() <= authority.size() + 1) invalid(url, "git URL has no repository path");
    return;
  }

  if (url.front() == '/' || url.starts_with("./") || url.starts_with("../") || url == "." || url == "..") {
    if (!allow_local) local_forbidden(url);
    return;
  }
  if (is_scp_like(url)) return;
  invalid(url,
          "not a git URL: expected https://, http://, git://, ssh://, user@host:path, "
          "or (with --allow-local-git) file:// or an absolute path");
}

}  // namespace cmop::git
