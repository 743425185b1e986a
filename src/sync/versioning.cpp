#include "cmop/sync/versioning.hpp"

#include "cmop/error.hpp"

namespace cmop::sync {

std::string to_string(Versioning v) {
  switch (v) {
    case Versioning::immutable: return "immutable";
    case Versioning::revision: return "revision";
    case Versioning::overwrite: return "overwrite";
  }
  return "immutable";
}

Versioning parse_versioning(const std::string& text) {
  if (text == "immutable") return Versioning::immutable;
  if (text == "revision") return Versioning::revision;
  if (text == "overwrite") return Versioning::overwrite;
  throw Error(Errc::invalid_argument, "versioning \"" + text + "\"", "must be immutable, revision or overwrite");
}

}  // namespace cmop::sync
