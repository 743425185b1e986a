#pragma once
// The one error type of cmop. Every failure carries *what* failed (the subject:
// a chart path, a URL, a repo name) and *why* (the reason), plus a category that
// the outer layers map to an HTTP status, a CR condition reason or an exit code.
#include <stdexcept>
#include <string>
#include <string_view>

namespace cmop {

enum class Errc {
  invalid_argument,  // the caller's input is wrong (bad name, bad spec, bad URL)
  not_found,         // the thing named does not exist
  conflict,          // it exists and clashes (same chart+version from another repo)
  unauthorized,      // credentials missing or refused
  forbidden,         // refused by policy (file:// without permission, symlink escape)
  invalid_chart,     // a chart fails validation or packaging rules
  dependency,        // a chart dependency cannot be resolved or fetched
  git,               // clone/fetch/checkout failed
  io,                // local filesystem failure
  network,           // connect/TLS/timeout talking to a peer
  upstream,          // a peer answered with an error status
  too_large,         // size limits exceeded
  internal,          // a bug: an invariant did not hold
};

std::string_view to_string(Errc code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(Errc code, std::string subject, std::string reason);

  Errc code() const noexcept { return code_; }
  const std::string& subject() const noexcept { return subject_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  Errc code_;
  std::string subject_;
  std::string reason_;
};

}  // namespace cmop
