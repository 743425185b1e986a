#include <catch2/catch.hpp>

#include "cmop/util/url.hpp"

using namespace cmop;

TEST_CASE("an http(s) URL is one with a lower-case http:// or https:// scheme") {
  CHECK(util::is_http_url("http://example.com"));
  CHECK(util::is_http_url("https://example.com/charts"));
  CHECK(util::is_http_url("https://"));
  CHECK_FALSE(util::is_http_url("HTTP://example.com"));  // the HTTP client takes the scheme as written
  CHECK_FALSE(util::is_http_url("oci://example.com"));
  CHECK_FALSE(util::is_http_url("http:/example.com"));
  CHECK_FALSE(util::is_http_url("ftp://example.com"));
  CHECK_FALSE(util::is_http_url(""));
}
