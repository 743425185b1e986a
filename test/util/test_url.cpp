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

TEST_CASE("a URL's origin is its scheme and host:port, lower-cased, without userinfo, path or query") {
  CHECK(cmop::util::url_origin("https://Charts.Example.com:8443/stable/index.yaml?x=1") ==
        "https://charts.example.com:8443");
  CHECK(cmop::util::url_origin("HTTP://user:p@ss@host/a") == "http://host");
  CHECK(cmop::util::url_origin("https://host#frag") == "https://host");
  CHECK(cmop::util::url_origin("https://host") == "https://host");
  CHECK(cmop::util::url_origin("charts/web-1.0.0.tgz").empty());  // a relative URL has no origin of its own
}
