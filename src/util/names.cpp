#include "cmop/util/names.hpp"

#include <string>

#include "cmop/error.hpp"

namespace cmop::util {

bool is_dns1123_label(std::string_view s) noexcept {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-') return false;
  return true;
}

void require_dns1123_label(std::string_view what, std::string_view s) {
  if (!is_dns1123_label(s))
    throw Error(Errc::invalid_argument, std::string(what) + " \"" + std::string(s) + "\"",
                "must be a DNS-1123 label: lower-case letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters");
}

}  // namespace cmop::util
