#pragma once
#include <string>
#include <string_view>

namespace cmop::util {

// Lower-case hex SHA-256 of the bytes (the digest format of index.yaml and ChartMuseum).
std::string sha256_hex(std::string_view data);

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
