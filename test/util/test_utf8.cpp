#include <catch2/catch.hpp>
#include <string>

#include "cmop/util/utf8.hpp"

using cmop::util::to_valid_utf8;

namespace {
const std::string kReplacement = "\xEF\xBF\xBD";
}

TEST_CASE("well-formed UTF-8 is returned unchanged") {
  for (std::string s : {std::string(""), std::string("plain ascii"), std::string("caf\xC3\xA9"),
                        std::string("\xE2\x82\xAC \xF0\x9F\x98\x80"), std::string("\xF4\x8F\xBF\xBF"),
                        std::string("nul\0inside", 10)})
    CHECK(to_valid_utf8(s) == s);
}

TEST_CASE("ill-formed bytes become U+FFFD, one per maximal ill-formed subpart") {
  CHECK(to_valid_utf8("caf\xE9") == "caf" + kReplacement);
  CHECK(to_valid_utf8("\xFF\xFE") == kReplacement + kReplacement);
  CHECK(to_valid_utf8("a\x80z") == "a" + kReplacement + "z");                  // lone continuation byte
  CHECK(to_valid_utf8("\xC0\xAF") == kReplacement + kReplacement);             // overlong '/'
  CHECK(to_valid_utf8("\xE0\x80\x80") == kReplacement + kReplacement + kReplacement);  // overlong
  CHECK(to_valid_utf8("\xED\xA0\x80") == kReplacement + kReplacement + kReplacement);  // surrogate
  CHECK(to_valid_utf8("\xF4\x90\x80\x80") == kReplacement + kReplacement + kReplacement + kReplacement);  // > U+10FFFF
  CHECK(to_valid_utf8("\xE2\x82") == kReplacement);        // truncated at the end: one subpart
  CHECK(to_valid_utf8("\xE2\x82z") == kReplacement + "z");  // truncated before ASCII
  CHECK(to_valid_utf8("ok\xF0\x9F\x98") == "ok" + kReplacement);
  CHECK(to_valid_utf8("\xC3\xA9\xE9\xC3\xA9") == "\xC3\xA9" + kReplacement + "\xC3\xA9");
}
