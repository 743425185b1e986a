#pragma once
#include <string>
#include <string_view>

namespace cmop::util {

// Lower-case hex SHA-256 of the bytes (the digest format of index.yaml and ChartMuseum).
std::string sha256_hex(std::string_view data);

// Lower-case hex HMAC-SHA256 of `message` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// Whether two secrets (tokens, signatures) are equal, in time that reveals neither
// where they differ nor their lengths: their SHA-256 digests are compared with
// CRYPTO_memcmp.
bool secrets_equal(std::string_view a, std::string_view b);

// The token that lets its holder trigger updates of one repo and nothing else,
// derived from the sidecar's token (HMAC, so the sidecar checks it without
// storing it). The operator writes it into each repo's CronJob, which then
// needs no copy of the sidecar's token in the repo's namespace.
std::string repo_trigger_token(std::string_view sidecar_token, std::string_view repo);

// Incremental SHA-256 for large inputs.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  std::string hex();  // finalizes

 private:
  void* ctx_;
};

}  // namespace cmop::util
