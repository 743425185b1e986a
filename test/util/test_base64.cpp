#include <catch2/catch.hpp>

#include "cmop/util/base64.hpp"

using namespace cmop;

TEST_CASE("base64 encodes and decodes the RFC 4648 test vectors") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    CHECK(util::base64_encode(plain) == encoded);
    CHECK(util::base64_decode(encoded) == std::optional<std::string>(plain));
    CHECK(util::base64_decode(encoded, true) == std::optional<std::string>(plain));
  }
  CHECK(util::base64_encode(std::string("\xff\xfe\x00", 3)) == "//4A");
}

TEST_CASE("strict base64 refuses what lenient base64 accepts") {
  // Line-wrapped, URL-safe data as kubeconfigs and Secrets hold it.
  CHECK_FALSE(util::base64_decode("Zm9v\nYmFy"));
  CHECK(util::base64_decode("Zm9v\nYmFy", true) == std::optional<std::string>("foobar"));
  CHECK_FALSE(util::base64_decode("__4A"));
  CHECK(util::base64_decode("__4A", true) == std::optional<std::string>(std::string("\xff\xfe\x00", 3)));
  CHECK_FALSE(util::base64_decode("Zm9v!"));
  CHECK_FALSE(util::base64_decode("Zm9v!", true));
}
