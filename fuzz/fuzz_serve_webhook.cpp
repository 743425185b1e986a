// A webhook request to `cmop serve` (POST /hooks/{name}) after the transport:
// finding and checking the signature, then classifying the event.
// Input layout (each field up to its '\n'; the body is the rest, newlines and all):
//   HEADER-NAME \n HEADER-VALUE \n CONTENT-TYPE \n TRACKED-REF \n BODY
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cmop/error.hpp"
#include "fuzz_fields.hpp"
#include "cmop/serve/webhooks.hpp"
#include "cmop/util/hash.hpp"

namespace {

using cmop::fuzz::check;
using cmop::fuzz::next_field;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::string name(next_field(rest)), value(next_field(rest));
  std::string content_type(next_field(rest)), tracked(next_field(rest));
  std::string body(rest);
  using namespace cmop::serve;
  HeaderList headers{{name, value}};
  HookSignature signature = find_hook_signature(headers);
  // No secret verifies anything; the body's own HMAC under a secret verifies.
  check(!hook_signature_valid(signature, "", body));
  if (signature.provider == HookProvider::github || signature.provider == HookProvider::generic)
    check(hook_signature_valid({signature.provider, "sha256=" + cmop::util::hmac_sha256_hex("k", body)}, "k", body));
  try {
    HookEvent event = parse_hook_event(headers, content_type, body);
    if (event.kind == HookEvent::Kind::push) {
      bool tracked_ok = hook_ref_tracked(tracked, event.ref, event.default_branch);
      if (event.ref.empty()) check(tracked_ok);
    }
  } catch (const cmop::Error&) {
  }
  return 0;
}
