// known_hosts matching (the SSH host key check libgit2 1.5 lacks).
#include <catch2/catch.hpp>

#include "../../src/git/known_hosts.hpp"

using cmop::git::detail::check_known_host;
using cmop::git::detail::HostKeyCheck;

// base64("key-A") / base64("key-B")
static constexpr const char* kKeyA = "a2V5LUE=";
static constexpr const char* kKeyB = "a2V5LUI=";

TEST_CASE("known_hosts host patterns and ports", "[git][known_hosts]") {
  std::string kh = std::string("# comment\n\n") + "git.example.com,10.0.0.5 ssh-ed25519 " + kKeyA + " ops@x\n" +
                   "[git.example.com]:2222 ssh-ed25519 " + kKeyB + "\n" + "*.corp.example,!bad.corp.example ssh-rsa " +
                   kKeyA + "\r\n";
  REQUIRE(check_known_host(kh, "git.example.com", 22, "key-A") == HostKeyCheck::match);
  REQUIRE(check_known_host(kh, "GIT.example.com", 22, "key-A") == HostKeyCheck::match);
  REQUIRE(check_known_host(kh, "10.0.0.5", 22, "key-A") == HostKeyCheck::match);
  REQUIRE(check_known_host(kh, "git.example.com", 22, "key-B") == HostKeyCheck::mismatch);
  REQUIRE(check_known_host(kh, "git.example.com", 2222, "key-B") == HostKeyCheck::match);
  REQUIRE(check_known_host(kh, "git.example.com", 2222, "key-A") == HostKeyCheck::mismatch);
  REQUIRE(check_known_host(kh, "a.corp.example", 22, "key-A") == HostKeyCheck::match);
  REQUIRE(check_known_host(kh, "bad.corp.example", 22, "key-A") == HostKeyCheck::unknown_host);
  REQUIRE(check_known_host(kh, "other.example", 22, "key-A") == HostKeyCheck::unknown_host);
  REQUIRE(check_known_host("", "git.example.com", 22, "key-A") == HostKeyCheck::unknown_host);
}

TEST_CASE("known_hosts hashed entries and revocation", "[git][known_hosts]") {
  // `ssh-keygen -H` form of "git.example.com": salt and HMAC-SHA1 precomputed with Python hmac.
  std::string hashed = std::string("|1|c2FsdHNhbHRzYWx0c2FsdHNhbHQ=|") + "zn3fCR02QxOQDrePkZhpCkS5BvU=" +
                       " ssh-ed25519 " + kKeyA + "\n";
  REQUIRE(check_known_host(hashed, "git.example.com", 22, "key-A") == HostKeyCheck::match);
  REQUIRE(check_known_host(hashed, "git.example.org", 22, "key-A") == HostKeyCheck::unknown_host);

  std::string revoked = std::string("git.example.com ssh-ed25519 ") + kKeyA + "\n@revoked * ssh-ed25519 " + kKeyA + "\n";
  REQUIRE(check_known_host(revoked, "git.example.com", 22, "key-A") == HostKeyCheck::mismatch);
  std::string ca = std::string("@cert-authority *.example.com ssh-ed25519 ") + kKeyA + "\n";
  REQUIRE(check_known_host(ca, "git.example.com", 22, "key-A") == HostKeyCheck::unknown_host);
}
