#pragma once
// Reproducible tar+gzip (ustar/PAX) written and read with zlib only.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cmop::package {

// Every entry gets the same fixed mtime, uid/gid 0, empty user/group names, mode
// 0644 (files) — so the same entries in the same order give byte-identical output.
// The gzip header has mtime 0, no file name, OS=255, and Helm's Extra/Comment
// fields so the archive is recognisably a Helm chart.
class TarGzWriter {
 public:
  TarGzWriter();
  ~TarGzWriter();
  TarGzWriter(const TarGzWriter&) = delete;
  TarGzWriter& operator=(const TarGzWriter&) = delete;

  // Adds a regular file. Names longer than ustar allows use a PAX header.
  void add_file(std::string_view name, std::string_view content, std::uint32_t mode = 0644);
  // Finishes the archive and returns the .tgz bytes. The writer is then spent.
  std::string finish();

 private:
  struct Impl;
  Impl* impl_;
};

struct TarEntry {
  std::string name;
  char type = '0';  // '0' file, '5' dir, '2' symlink, ...
  std::string content;
  std::uint32_t mode = 0644;
};

// Reads a .tgz (e.g. a downloaded dependency). Throws Error(invalid_chart) on
// corrupt input, absolute or '..' names, or when limits are exceeded.
std::vector<TarEntry> read_tgz(std::string_view tgz, std::uint64_t max_file_bytes, std::uint64_t max_total_bytes);

}  // namespace cmop::package
