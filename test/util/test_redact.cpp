// Every URL shape a credential can hide in, and the shapes that carry none.
#include <catch2/catch.hpp>

#include <string>

#include "cmop/util/redact.hpp"

using cmop::util::redact_text;
using cmop::util::redact_url;

namespace {
struct Shape {
  const char* what;
  const char* url;
  const char* shown;
  const char* secret;  // must not survive; "" when the URL holds none
};
}  // namespace

TEST_CASE("redact_url: a table of URL shapes", "[redact]") {
  const Shape shapes[] = {
      {"user:pass", "https://alice:s3cret@git.example.com/charts.git", "https://alice:***@git.example.com/charts.git",
       "s3cret"},
      {"token as user name", "https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r.git",
       "https://***@github.com/o/r.git", "ghp_abc"},
      {"any lone user name over https", "https://glpat-XyZ@gitlab.example.com/o/r.git",
       "https://***@gitlab.example.com/o/r.git", "glpat-XyZ"},
      {"token user with x-oauth-basic", "https://tok123:x-oauth-basic@github.com/o/r.git",
       "https://***@github.com/o/r.git", "tok123"},
      {"long token user with password", "https://0123456789012345678901234567890123456789abc:x@h/r.git",
       "https://***@h/r.git", "0123456789012345678901234567890123456789abc"},
      {"password with unencoded '/'", "https://alice:pa/ss@git.example.com/o/r.git",
       "https://alice:***@git.example.com/o/r.git", "pa/ss"},
      {"password with '/' and '@'", "https://alice:p@ss/w@git.example.com/r.git", "https://alice:***@git.example.com/r.git",
       "ss/w"},
      {"http with port", "http://u:pw@127.0.0.1:8080/x.git", "http://u:***@127.0.0.1:8080/x.git", ":pw@"},
      {"git:// user", "git://secret@host/x.git", "git://***@host/x.git", "secret@"},
      {"?access_token=", "https://host/charts?access_token=abc123", "https://host/charts?access_token=***", "abc123"},
      {"?private_token=", "https://gitlab.example.com/api/v4/x/index.yaml?private_token=glp-1&ref=main",
       "https://gitlab.example.com/api/v4/x/index.yaml?private_token=***&ref=main", "glp-1"},
      {"?token=", "https://host/x.git?token=t0k", "https://host/x.git?token=***", "t0k"},
      {"other secret-ish parameters", "https://h/i?X-Amz-Signature=sig1&api_key=k2&client_secret=c3&page=2",
       "https://h/i?X-Amz-Signature=***&api_key=***&client_secret=***&page=2", "sig1"},
      {"query and fragment", "https://h/i?password=pw9#frag", "https://h/i?password=***#frag", "pw9"},
      {"userinfo and query", "https://u:p1@h/i?token=t1", "https://u:***@h/i?token=***", "p1"},
      {"ssh keeps its user", "ssh://git@github.com/foo/bar", "ssh://git@github.com/foo/bar", ""},
      {"ssh masks a password", "ssh://git:hunter2@host:2222/x.git", "ssh://git:***@host:2222/x.git", "hunter2"},
      {"scp-like is no secret", "git@github.com:foo/bar.git", "git@github.com:foo/bar.git", ""},
      {"scp-like-looking with a password", "user:pw42@host:path", "user:***@host:path", "pw42"},
      {"'@' in the path after a port", "https://h:8443/x@y", "https://h:8443/x@y", ""},
      {"'@' in the path", "https://host/org/repo@v1", "https://host/org/repo@v1", ""},
      {"no userinfo", "https://charts.example.com/stable", "https://charts.example.com/stable", ""},
      {"fails validation: bad scheme", "ftp://bob:b0b@host/x", "ftp://bob:***@host/x", "b0b"},
      {"fails validation: no path", "https://ghp_tok@host", "https://***@host", "ghp_tok"},
      {"not a URL", "not a url", "not a url", ""},
  };
  for (const auto& s : shapes) {
    INFO(s.what << ": " << s.url);
    const std::string shown = redact_url(s.url);
    CHECK(shown == s.shown);
    if (*s.secret) CHECK(shown.find(s.secret) == std::string::npos);
    // Free text quoting a scheme://... URL is redacted the same way (scp-like forms
    // are recognised only as a whole value: in prose, "a:b@c" is too common).
    if (std::string(s.url).find("://") == std::string::npos) continue;
    const std::string text = redact_text(std::string("clone \"") + s.url + "\": failed at " + s.url + " now");
    CHECK(text == std::string("clone \"") + s.shown + "\": failed at " + s.shown + " now");
  }
}

TEST_CASE("redact_text: several URLs and none", "[redact]") {
  CHECK(redact_text("fetching https://a:b@h/index.yaml: HTTP 404; retry http://t@x/y") ==
        "fetching https://a:***@h/index.yaml: HTTP 404; retry http://***@x/y");
  CHECK(redact_text("plain text with : and @ and no scheme") == "plain text with : and @ and no scheme");
  CHECK(redact_text("") == "");
  CHECK(redact_text("://") == "://");
}
