#include "git/known_hosts.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "cmop/util/base64.hpp"

namespace cmop::git::detail {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern.front() == '*') {
    for (size_t skip = 0; skip <= text.size(); ++skip) {
      if (glob_match(pattern.substr(1), text.substr(skip))) return true;
    }
    return false;
  }
  if (text.empty()) return false;
  if (pattern.front() != '?' && pattern.front() != text.front()) return false;
  return glob_match(pattern.substr(1), text.substr(1));
}

// |1|base64(salt)|base64(HMAC-SHA1(salt, host))
bool hashed_match(std::string_view field, const std::string& host) {
  field.remove_prefix(3);
  size_t bar = field.find('|');
  if (bar == std::string_view::npos) return false;
  auto salt = util::base64_decode(field.substr(0, bar));
  auto expected = util::base64_decode(field.substr(bar + 1));
  if (!salt || !expected) return false;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (!HMAC(EVP_sha1(), salt->data(), static_cast<int>(salt->size()),
            reinterpret_cast<const unsigned char*>(host.data()), host.size(), digest, &digest_len))
    return false;
  return std::string_view(reinterpret_cast<const char*>(digest), digest_len) == *expected;
}

// OpenSSH semantics: any matching negated pattern vetoes the line.
bool hosts_field_matches(std::string_view field, const std::string& host) {
  if (field.starts_with("|1|")) return hashed_match(field, host);
  bool matched = false;
  size_t pos = 0;
  while (pos <= field.size()) {
    size_t comma = field.find(',', pos);
    std::string_view pattern = field.substr(pos, comma == std::string_view::npos ? field.npos : comma - pos);
    bool negated = pattern.starts_with("!");
    if (negated) pattern.remove_prefix(1);
    if (!pattern.empty() && glob_match(lower(pattern), host)) {
      if (negated) return false;
      matched = true;
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return matched;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    size_t end = pos;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    if (end > pos) fields.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  return fields;
}

}  // namespace

HostKeyCheck check_known_host(std::string_view known_hosts, std::string_view host, int port,
                              std::string_view key_blob) {
  const std::string name = port == 22 || port <= 0 ? lower(host) : "[" + lower(host) + "]:" + std::to_string(port);
  bool listed = false;
  bool key_matched = false;
  size_t pos = 0;
  while (pos < known_hosts.size()) {
    size_t eol = known_hosts.find('\n', pos);
    std::string_view line = known_hosts.substr(pos, eol == std::string_view::npos ? known_hosts.npos : eol - pos);
    pos = eol == std::string_view::npos ? known_hosts.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::vector<std::string_view> fields = split_fields(line);
    if (fields.empty() || fields[0].starts_with("#")) continue;
    bool revoked = false;
    if (fields[0].starts_with("@")) {
      if (fields[0] == "@revoked") {
        revoked = true;
      } else {
        continue;  // @cert-authority: host certificates are not supported
      }
      fields.erase(fields.begin());
    }
    if (fields.size() < 3 || !hosts_field_matches(fields[0], name)) continue;
    auto blob = util::base64_decode(fields[2]);
    bool same_key = blob && *blob == key_blob;
    if (revoked) {
      if (same_key) return HostKeyCheck::mismatch;
      continue;
    }
    listed = true;
    if (same_key) key_matched = true;
  }
  if (key_matched) return HostKeyCheck::match;
  return listed ? HostKeyCheck::mismatch : HostKeyCheck::unknown_host;
}

}  // namespace cmop::git::detail
