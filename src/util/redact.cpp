#include "cmop/util/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace cmop::util {
namespace {

constexpr std::string_view kMask = "***";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// A user name that is really a credential: forge tokens and anything longer than
// a forge allows for user names (GitHub: 39 characters).
bool token_like_user(std::string_view user, std::string_view password) {
  static constexpr std::array<std::string_view, 9> kPrefixes = {"ghp_", "gho_", "ghu_", "ghs_", "ghr_",
                                                                "github_pat_", "glpat-", "gldt-", "glptt-"};
  if (user.size() > 39) return true;
  const std::string u = lower(user);
  for (auto p : kPrefixes)
    if (u.starts_with(p)) return true;
  const std::string p = lower(password);
  return p == "x-oauth-basic" || p == "x-oauth-token";
}

bool secret_query_key(std::string_view key) {
  static constexpr std::array<std::string_view, 12> kWords = {"token", "secret", "pass", "pwd",        "key",  "auth",
                                                              "sig",   "credential", "session", "jwt", "bearer", "code"};
  const std::string k = lower(key);
  for (auto w : kWords)
    if (k.find(w) != std::string::npos) return true;
  return false;
}

// "a=1&access_token=x" -> "a=1&access_token=***"
std::string redact_query(std::string_view query) {
  std::string out;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    std::size_t end = query.find_first_of("&;", pos);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(pos, end - pos);
    std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && secret_query_key(pair.substr(0, eq))) {
      out += pair.substr(0, eq + 1);
      out += kMask;
    } else {
      out += pair;
    }
    if (end == query.size()) break;
    out += query[end];
    pos = end + 1;
  }
  return out;
}

// The userinfo as shown; `keep_user` for ssh.
std::string redact_userinfo(std::string_view userinfo, bool keep_user) {
  std::size_t colon = userinfo.find(':');
  std::string_view user = userinfo.substr(0, colon);
  std::string_view password = colon == std::string_view::npos ? std::string_view{} : userinfo.substr(colon + 1);
  if (colon == std::string_view::npos) return keep_user ? std::string(user) : std::string(kMask);
  if (!keep_user && token_like_user(user, password)) return std::string(kMask);
  return std::string(user) + ":" + std::string(kMask);
}

}  // namespace

std::string redact_url(std::string_view url) {
  std::size_t sep = url.find("://");
  // The query (and fragment) first: their values never name the host.
  std::size_t query_at = url.find('?', sep == std::string_view::npos ? 0 : sep + 3);
  std::size_t fragment_at = url.find('#', sep == std::string_view::npos ? 0 : sep + 3);
  if (fragment_at != std::string_view::npos && query_at != std::string_view::npos && fragment_at < query_at)
    query_at = std::string_view::npos;  // a '?' inside the fragment is not a query
  std::size_t head_end = std::min(query_at, fragment_at);
  std::string_view head = url.substr(0, head_end);
  std::string tail;
  if (query_at != std::string_view::npos) {
    std::size_t q_end = fragment_at != std::string_view::npos && fragment_at > query_at ? fragment_at : url.size();
    tail = "?" + redact_query(url.substr(query_at + 1, q_end - query_at - 1)) + std::string(url.substr(q_end));
  } else if (fragment_at != std::string_view::npos) {
    tail = std::string(url.substr(fragment_at));
  }

  if (sep == std::string_view::npos) {
    // scp-like [user[:password]@]host:path, or not a URL at all.
    std::size_t at = head.rfind('@');
    std::size_t colon = head.find(':');
    std::size_t slash = head.find('/');
    if (at != std::string_view::npos && colon != std::string_view::npos && colon < at &&
        (slash == std::string_view::npos || colon < slash))
      return std::string(head.substr(0, colon + 1)) + std::string(kMask) + std::string(head.substr(at)) + tail;
    return std::string(head) + tail;
  }

  const std::string scheme = lower(head.substr(0, sep));
  const std::size_t start = sep + 3;
  std::string_view rest = head.substr(start);
  std::size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::size_t slash = rest.find('/');
    if (slash != std::string_view::npos && slash < at) {
      // An '@' after a '/': a path (https://h:8443/x@y) unless the first segment
      // is user:password with the password running on past an unencoded '/'.
      std::string_view first = rest.substr(0, slash);
      std::size_t colon = first.find(':');
      // Ambiguous cases (user:pw@host/path@x) are masked up to the last '@': showing
      // too little beats leaking a password.
      if (colon == std::string_view::npos || (all_digits(first.substr(colon + 1)) && first.size() - colon - 1 <= 5))
        at = rest.substr(0, slash).rfind('@');  // the userinfo (if any) ends before the path
    }
  }
  if (at == std::string_view::npos) return std::string(head) + tail;
  return std::string(head.substr(0, start)) + redact_userinfo(rest.substr(0, at), scheme == "ssh") +
         std::string(rest.substr(at)) + tail;
}

std::string redact_text(std::string_view text) {
  std::size_t sep = text.find("://");
  if (sep == std::string_view::npos) return std::string(text);
  std::string out;
  std::size_t copied = 0;
  while (sep != std::string_view::npos) {
    std::size_t begin = sep;
    while (begin > copied && (std::isalnum(static_cast<unsigned char>(text[begin - 1])) || text[begin - 1] == '+' ||
                              text[begin - 1] == '-' || text[begin - 1] == '.'))
      --begin;
    std::size_t end = sep + 3;
    while (end < text.size()) {
      unsigned char c = static_cast<unsigned char>(text[end]);
      if (c <= 0x20 || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' || c == 0x7f) break;
      ++end;
    }
    out += text.substr(copied, begin - copied);
    out += redact_url(text.substr(begin, end - begin));
    copied = end;
    sep = text.find("://", end);
  }
  out += text.substr(copied);
  return out;
}

}  // namespace cmop::util
