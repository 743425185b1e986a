#include "cmop/util/utf8.hpp"

namespace cmop::util {

namespace {

// Length of the well-formed sequence starting at s[i], or 0 when it is ill-formed;
// in that case *bad is how many bytes make up the maximal ill-formed subpart.
std::size_t sequence_length(std::string_view s, std::size_t i, std::size_t* bad) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  *bad = 1;
  if (lead < 0x80) return 1;
  std::size_t length;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) lo = 0xA0;  // overlong
    if (lead == 0xED) hi = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) lo = 0x90;  // overlong
    if (lead == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if (i + k >= s.size()) return 0;
    const unsigned char c = byte(i + k);
    if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return 0;
    *bad = k + 1;
  }
  return length;
}

}  // namespace

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t bad = 1;
    std::size_t n = sequence_length(s, i, &bad);
    if (n > 0) {
      if (out.empty() && i == 0) {
        // Fast path: find the first ill-formed byte before copying anything.
        std::size_t j = i;
        while (j < s.size() && (n = sequence_length(s, j, &bad)) > 0) j += n;
        if (j == s.size()) return std::string(s);
        out.assign(s.substr(0, j));
        i = j;
        continue;
      }
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      i += bad;
    }
  }
  return out;
}

}  // namespace cmop::util
