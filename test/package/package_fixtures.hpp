#pragma once
// Shared by the packaging suites: chart folders written file by file.
#include <filesystem>
#include <fstream>
#include <string>

namespace cmop::test {

// Writes `content` to root/rel byte for byte, creating the folders on the way.
inline void put(const std::filesystem::path& root, const std::string& rel, const std::string& content) {
  const std::filesystem::path p = root / rel;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << content;
}

}  // namespace cmop::test
