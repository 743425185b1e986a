#pragma once
// Text that leaves cmop as JSON must be UTF-8 (RFC 8259), but names from git
// repositories are bytes: a folder or file name may be Latin-1 or plain garbage.
#include <string>
#include <string_view>

namespace cmop::util {

// `s` with every byte that does not start a well-formed UTF-8 sequence (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF, no truncated sequence)
// replaced by U+FFFD, one per maximal ill-formed subpart as the Unicode standard
// recommends. Valid input is returned unchanged.
std::string to_valid_utf8(std::string_view s);

}  // namespace cmop::util
