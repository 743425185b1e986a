#include "cmop/error.hpp"

namespace cmop {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument: return "InvalidArgument";
    case Errc::not_found: return "NotFound";
    case Errc::conflict: return "Conflict";
    case Errc::unauthorized: return "Unauthorized";
    case Errc::forbidden: return "Forbidden";
    case Errc::invalid_chart: return "InvalidChart";
    case Errc::dependency: return "DependencyFailed";
    case Errc::git: return "GitFailed";
    case Errc::io: return "IOError";
    case Errc::network: return "NetworkError";
    case Errc::upstream: return "UpstreamError";
    case Errc::too_large: return "TooLarge";
    case Errc::internal: return "InternalError";
  }
  return "Unknown";
}

static std::string compose(const std::string& subject, const std::string& reason) {
  if (subject.empty()) return reason;
  return subject + ": " + reason;
}

Error::Error(Errc code, std::string subject, std::string reason)
    : std::runtime_error(compose(subject, reason)),
      code_(code),
      subject_(std::move(subject)),
      reason_(std::move(reason)) {}

}  // namespace cmop
