#pragma once
// Reproducible tar+gzip (ustar/PAX) written and read with zlib only.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cmop::package {

// The mtime stamped on every entry: 1980-01-01T00:00:00Z, the conventional
// reproducible-build epoch (the ZIP/DOS epoch; also what many SOURCE_DATE_EPOCH
// defaults use). Helm stamps time.Now(), which makes its archives unreproducible.
inline constexpr std::int64_t kArchiveMtime = 315532800;

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
  std::string raw_name;  // the name as the archive writes it (before cleaning)
  char type = '0';  // '0' file, '5' dir, '2' symlink, ...
  std::string content;
  std::uint32_t mode = 0644;
  std::string link_target;  // for '1' (hard link) and '2' (symlink) entries
};

// Reads a .tgz (e.g. a downloaded dependency). Throws Error(invalid_chart) on
// corrupt input, absolute or '..' names, and Error(too_large) when an entry is
// larger than max_file_bytes or all entries together exceed max_total_bytes.
// Sizes are checked from the headers before anything is allocated, and the
// decompressed stream as a whole is bounded, so a gzip bomb cannot exhaust
// memory. Names are returned cleaned ('/'-separated, no "." components, no
// trailing '/'); a directory entry naming the root itself ("./") is skipped. Concatenated gzip members are read as one stream, like Go does.
std::vector<TarEntry> read_tgz(std::string_view tgz, std::uint64_t max_file_bytes, std::uint64_t max_total_bytes);

}  // namespace cmop::package
