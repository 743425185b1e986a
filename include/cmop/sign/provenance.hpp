#pragma once
// Helm provenance files (<chart>.tgz.prov), signed as `helm package --sign`
// signs them: an OpenPGP (RFC 4880) clear-signed message whose text is the
// chart's metadata as packaged, "...", and the archive's sha256. The key is
// parsed and the signature made here on OpenSSL's libcrypto; no gpg process, no keyring.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "cmop/package/packager.hpp"

namespace cmop::sign {

// An unprotected RSA OpenPGP secret key, ready to sign. Its secret material
// stays inside (an OpenSSL key object) and is never printed: describe() names
// the key by fingerprint and user ID only.
class SigningKey {
 public:
  // Parses a transferable secret key (`gpg --export-secret-keys`, ASCII-armored
  // or binary) and picks the key gpg would sign with: the newest valid
  // signing-capable subkey, else the primary key when it may sign. Throws
  // Error(invalid_argument) naming `origin` (never the key's bytes) when the
  // text is not such a key, when the key is protected by a passphrase, when no
  // (sub)key may sign, or when the signing key is not RSA (Helm 3 verifies RSA signatures only).
  static std::shared_ptr<const SigningKey> parse(std::string_view key, std::string_view origin);
  // parse() of a file's content; Error(invalid_argument) when unreadable.
  static std::shared_ptr<const SigningKey> load(const std::filesystem::path& file);

  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  // The signing (sub)key's v4 fingerprint, 40 upper-case hex digits.
  const std::string& fingerprint() const { return fingerprint_; }
  // The primary key's first user ID ("Name <email>"), "" when none.
  const std::string& user_id() const { return user_id_; }
  std::string describe() const;

  // The clear-signed message x/crypto/openpgp/clearsign (what Helm 3 signs
  // with) writes for `text` with SHA-512: dash-escaped, trailing blanks
  // dropped, the signature (type 0x01, canonical text) carrying a hashed
  // creation time `created` (seconds since the epoch) and issuer key ID. RSA
  // PKCS#1 v1.5 is deterministic: the same text and time give the same bytes.
  std::string clearsign(std::string_view text, std::int64_t created) const;

 private:
  SigningKey() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string fingerprint_;
  std::string user_id_;
  friend struct KeyParser;
};

// The text Helm signs for a package (pkg/provenance messageBlock): the metadata
// marshalled as Chart.yaml, "\n...\n", then `files:` with the archive's sha256.
std::string provenance_message(const package::Package& pkg);

// The .prov file for `pkg`, signed at the time the content is from
// (pkg.created, the commit's; the epoch's 1980-01-01 when unknown), so an
// unchanged chart always gets the same bytes.
std::string provenance(const SigningKey& key, const package::Package& pkg);

struct ProvenanceCheck {
  std::string fingerprint;  // of the (sub)key that signed
  std::string user_id;      // its primary key's first user ID
  std::string file_hash;    // "sha256:<hex>" of the package, as signed
};

// Checks a .prov as `helm verify` does: the clear-signed text's RSA signature by a
// key of `keyring` (binary `gpg --export`, or armored), then the signed sha256 of
// `filename` against `chart`. Throws Error(invalid_chart) saying what failed
// (unknown key, bad signature, another sha256), Error(invalid_argument) for an
// unreadable keyring.
ProvenanceCheck verify_provenance(std::string_view prov, std::string_view keyring, std::string_view filename,
                                  std::string_view chart);

}  // namespace cmop::sign
