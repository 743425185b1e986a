#include "cmop/package/archive.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <optional>

#include "cmop/error.hpp"

// Tar layout and header-format choices follow Go's archive/tar (what Helm uses),
// so a reader that accepts Helm's archives accepts ours:
//  * USTAR whenever the name is ASCII and fits name[100] or prefix[155]+name[100];
//  * otherwise a PAX 'x' record carrying the full path, the ustar name field
//    holding a best-effort ASCII truncation;
//  * numeric fields as zero-padded octal with a NUL terminator, checksum as six
//    octal digits + NUL + space;
//  * data padded to 512 bytes, the archive closed by two zero blocks and no
//    padding to a 10 KiB record (Go writes none).

namespace cmop::package {
namespace {

constexpr std::size_t kBlock = 512;
constexpr std::size_t kNameSize = 100;
constexpr std::size_t kPrefixSize = 155;
// Go's archive/tar refuses PAX/GNU records larger than this; so do we.
constexpr std::uint64_t kMaxSpecialFileSize = 1 << 20;
// Header blocks, padding and PAX/GNU records are not file content; they get their
// own budget so that an archive of millions of empty entries is refused too.
constexpr std::uint64_t kMaxMetadataBytes = 32ull << 20;
// What Helm writes into the gzip header (pkg/chart/v2/util/save.go).
constexpr std::string_view kHelmGzipExtra = "+aHR0cHM6Ly95b3V0dS5iZS96OVV6MWljandyTQo=";
constexpr std::string_view kHelmGzipComment = "Helm";

using Block = std::array<char, kBlock>;

// Field offsets/sizes of the ustar header.
struct Field {
  std::size_t off, len;
};
constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12}, kMtime{136, 12},
    kChksum{148, 8}, kType{156, 1}, kLinkname{157, 100}, kMagic{257, 6}, kVersion{263, 2}, kUname{265, 32},
    kGname{297, 32}, kDevMajor{329, 8}, kDevMinor{337, 8}, kPrefix{345, 155};

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

void put_string(Block& b, Field f, std::string_view s) {
  std::memcpy(b.data() + f.off, s.data(), std::min(s.size(), f.len));
}

// Zero-padded octal filling len-1 digits and a NUL, as Go's formatOctal.
void put_octal(Block& b, Field f, std::uint64_t value) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + (value & 7)));
    value >>= 3;
  } while (value != 0);
  if (digits.size() > f.len - 1) throw Error(Errc::internal, "tar header", "numeric field overflow");
  std::string field(f.len - 1 - digits.size(), '0');
  field += digits;
  std::memcpy(b.data() + f.off, field.data(), field.size());
  b[f.off + f.len - 1] = '\0';
}

std::uint64_t checksum_unsigned(const Block& b) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    bool in_chksum = i >= kChksum.off && i < kChksum.off + kChksum.len;
    sum += in_chksum ? static_cast<unsigned char>(' ') : static_cast<unsigned char>(b[i]);
  }
  return sum;
}

std::int64_t checksum_signed(const Block& b) {
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    bool in_chksum = i >= kChksum.off && i < kChksum.off + kChksum.len;
    sum += in_chksum ? static_cast<signed char>(' ') : static_cast<signed char>(b[i]);
  }
  return sum;
}

void seal(Block& b) {
  put_string(b, kMagic, std::string_view("ustar\0", 6));
  put_string(b, kVersion, "00");
  Block tmp = b;
  put_octal(tmp, Field{kChksum.off, 7}, checksum_unsigned(b));
  std::memcpy(b.data() + kChksum.off, tmp.data() + kChksum.off, 7);
  b[kChksum.off + 7] = ' ';
}

// Go's splitUSTARPath: the longest prefix (<=155) ending at a '/' such that the
// remaining name is non-empty and fits 100 bytes.
std::optional<std::pair<std::string, std::string>> split_ustar_path(std::string_view name) {
  std::size_t length = name.size();
  if (length <= kNameSize || !is_ascii(name)) return std::nullopt;
  if (length > kPrefixSize + 1) {
    length = kPrefixSize + 1;
  } else if (name[length - 1] == '/') {
    --length;
  }
  auto slash = name.substr(0, length).rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  std::size_t suffix_len = name.size() - slash - 1;
  if (suffix_len > kNameSize || suffix_len == 0 || slash > kPrefixSize) return std::nullopt;
  return std::pair{std::string(name.substr(0, slash)), std::string(name.substr(slash + 1))};
}

std::string strip_non_ascii(std::string_view s) {
  std::string out;
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x80) out += c;
  return out;
}

std::string pax_record(std::string_view key, std::string_view value) {
  std::size_t size = key.size() + value.size() + 3;  // ' ', '=', '\n'
  size += std::to_string(size).size();
  std::string record = std::to_string(size) + " " + std::string(key) + "=" + std::string(value) + "\n";
  if (record.size() != size) {  // the length's own digit count grew it by one
    size = record.size();
    record = std::to_string(size) + " " + std::string(key) + "=" + std::string(value) + "\n";
  }
  return record;
}

}  // namespace

// ---------------------------------------------------------------------------
// Writer

struct TarGzWriter::Impl {
  z_stream zs{};
  bool deflate_ready = false;
  bool finished = false;
  std::string out;
  uLong crc = crc32(0L, Z_NULL, 0);
  std::uint64_t input_size = 0;

  void deflate_bytes(const char* data, std::size_t size, int flush) {
    if (size > 0) crc = crc32_z(crc, reinterpret_cast<const Bytef*>(data), size);  // NULL would reset it
    input_size += size;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    zs.avail_in = static_cast<uInt>(size);
    std::array<char, 64 * 1024> chunk;
    int rc;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
      zs.avail_out = static_cast<uInt>(chunk.size());
      rc = deflate(&zs, flush);
      if (rc == Z_STREAM_ERROR) throw Error(Errc::internal, "gzip", "deflate failed");
      out.append(chunk.data(), chunk.size() - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }
  void write(std::string_view bytes) {
    // avail_in is 32-bit: feed large inputs in slices.
    constexpr std::size_t kSlice = 1u << 30;
    while (!bytes.empty()) {
      auto n = std::min(bytes.size(), kSlice);
      deflate_bytes(bytes.data(), n, Z_NO_FLUSH);
      bytes.remove_prefix(n);
    }
  }
  void write_block(const Block& b) { write(std::string_view(b.data(), b.size())); }
  void pad(std::uint64_t size) {
    static const Block zeros{};
    if (size % kBlock != 0) write(std::string_view(zeros.data(), kBlock - size % kBlock));
  }
};

TarGzWriter::TarGzWriter() : impl_(new Impl) {
  // The gzip member header is written by hand: zlib's own gzip wrapper cannot
  // omit the OS byte's platform value and would set XFL from the level, while
  // Go (and so Helm) writes MTIME 0, XFL 0, OS 255 (unknown), FEXTRA, FCOMMENT.
  std::string& o = impl_->out;
  const unsigned char flags = 0x04 /*FEXTRA*/ | 0x10 /*FCOMMENT*/;
  o += '\x1f';
  o += '\x8b';
  o += '\x08';  // deflate
  o += static_cast<char>(flags);
  o.append(4, '\0');  // MTIME
  o += '\0';          // XFL
  o += '\xff';        // OS unknown
  o += static_cast<char>(kHelmGzipExtra.size() & 0xff);
  o += static_cast<char>((kHelmGzipExtra.size() >> 8) & 0xff);
  o += kHelmGzipExtra;
  o += kHelmGzipComment;
  o += '\0';
  // Raw deflate at zlib's default level: a fixed level, window and memLevel give
  // byte-identical output for identical input with a given zlib.
  if (deflateInit2(&impl_->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    delete impl_;
    throw Error(Errc::internal, "gzip", "deflateInit2 failed");
  }
  impl_->deflate_ready = true;
}

TarGzWriter::~TarGzWriter() {
  if (impl_->deflate_ready) deflateEnd(&impl_->zs);
  delete impl_;
}

void TarGzWriter::add_file(std::string_view name, std::string_view content, std::uint32_t mode) {
  if (impl_->finished) throw Error(Errc::internal, std::string(name), "tar writer already finished");
  if (name.empty()) throw Error(Errc::invalid_argument, "tar entry", "empty name");
  if (name.find('\0') != std::string_view::npos)
    throw Error(Errc::invalid_argument, std::string(name), "tar entry name contains NUL");
  if (name.front() == '/') throw Error(Errc::invalid_argument, std::string(name), "tar entry name is absolute");
  if (content.size() >= (1ull << 33))
    throw Error(Errc::too_large, std::string(name), "file too large for a ustar entry");

  auto fill_common = [&](Block& b) {
    put_octal(b, kMode, mode & 07777);
    put_octal(b, kUid, 0);
    put_octal(b, kGid, 0);
    put_octal(b, kSize, content.size());
    put_octal(b, kMtime, static_cast<std::uint64_t>(kArchiveMtime));
    b[kType.off] = '0';
    put_octal(b, kDevMajor, 0);
    put_octal(b, kDevMinor, 0);
  };

  Block header{};
  if (name.size() <= kNameSize && is_ascii(name)) {
    put_string(header, kName, name);
  } else if (auto split = split_ustar_path(name)) {
    put_string(header, kName, split->second);
    put_string(header, kPrefix, split->first);
  } else {
    // PAX extended header "<dir>/PaxHeaders.0/<file>" as Go names it.
    std::string records = pax_record("path", name);
    auto slash = name.rfind('/');
    std::string dir = slash == std::string_view::npos ? "" : std::string(name.substr(0, slash + 1));
    std::string file = std::string(slash == std::string_view::npos ? name : name.substr(slash + 1));
    std::string pax_name = strip_non_ascii(dir + "PaxHeaders.0/" + file);
    if (pax_name.size() > kNameSize) pax_name.resize(kNameSize);
    while (!pax_name.empty() && pax_name.back() == '/') pax_name.pop_back();
    Block pax{};
    put_string(pax, kName, pax_name);
    put_octal(pax, kMode, 0);
    put_octal(pax, kUid, 0);
    put_octal(pax, kGid, 0);
    put_octal(pax, kSize, records.size());
    put_octal(pax, kMtime, 0);
    pax[kType.off] = 'x';
    seal(pax);
    impl_->write_block(pax);
    impl_->write(records);
    impl_->pad(records.size());

    std::string truncated = strip_non_ascii(name);
    if (truncated.size() > kNameSize) {
      truncated.resize(kNameSize);
      // A truncated name ending in '/' would read as a directory to naive readers.
      while (!truncated.empty() && truncated.back() == '/') truncated.pop_back();
    }
    put_string(header, kName, truncated);
  }
  fill_common(header);
  seal(header);
  impl_->write_block(header);
  impl_->write(content);
  impl_->pad(content.size());
}

std::string TarGzWriter::finish() {
  if (impl_->finished) throw Error(Errc::internal, "tar writer", "finish() called twice");
  static const Block zeros{};
  impl_->write_block(zeros);
  impl_->write_block(zeros);
  impl_->deflate_bytes(nullptr, 0, Z_FINISH);
  impl_->finished = true;
  std::string& o = impl_->out;
  auto put_le32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) o += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put_le32(static_cast<std::uint32_t>(impl_->crc));
  put_le32(static_cast<std::uint32_t>(impl_->input_size & 0xffffffffu));
  return std::move(o);
}

// ---------------------------------------------------------------------------
// Reader

namespace {

// Pull-based gunzip over an in-memory buffer, accepting concatenated members.
class Gunzip {
 public:
  explicit Gunzip(std::string_view in) : in_(in) {
    if (in.size() < 2 || static_cast<unsigned char>(in[0]) != 0x1f || static_cast<unsigned char>(in[1]) != 0x8b)
      throw Error(Errc::invalid_chart, "archive", "not a gzip stream");
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) throw Error(Errc::internal, "gunzip", "inflateInit2 failed");
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size(), UINT32_MAX));
  }
  ~Gunzip() { inflateEnd(&zs_); }
  Gunzip(const Gunzip&) = delete;
  Gunzip& operator=(const Gunzip&) = delete;

  // Fills up to n bytes; returns how many (0 only at the end of the last member).
  std::size_t read(char* dst, std::size_t n) {
    std::size_t produced = 0;
    while (produced < n && !done_) {
      refill_input();
      zs_.next_out = reinterpret_cast<Bytef*>(dst + produced);
      zs_.avail_out = static_cast<uInt>(std::min<std::size_t>(n - produced, UINT32_MAX));
      auto before = zs_.avail_out;
      int rc = inflate(&zs_, Z_NO_FLUSH);
      produced += before - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        std::size_t pos = position();
        if (pos >= in_.size()) {
          done_ = true;
        } else if (in_.size() - pos >= 2 && static_cast<unsigned char>(in_[pos]) == 0x1f &&
                   static_cast<unsigned char>(in_[pos + 1]) == 0x8b) {
          inflateReset(&zs_);
        } else {
          throw Error(Errc::invalid_chart, "archive", "garbage after gzip stream");
        }
      } else if (rc == Z_BUF_ERROR) {
        if (zs_.avail_in == 0 && position() >= in_.size())
          throw Error(Errc::invalid_chart, "archive", "truncated gzip stream");
      } else if (rc != Z_OK) {
        throw Error(Errc::invalid_chart, "archive",
                    std::string("corrupt gzip stream: ") + (zs_.msg ? zs_.msg : "inflate error"));
      }
    }
    return produced;
  }

 private:
  std::size_t position() const {
    return static_cast<std::size_t>(reinterpret_cast<const char*>(zs_.next_in) - in_.data());
  }
  void refill_input() {
    if (zs_.avail_in == 0) {
      std::size_t pos = position();
      zs_.avail_in = static_cast<uInt>(std::min<std::size_t>(in_.size() - pos, UINT32_MAX));
    }
  }
  std::string_view in_;
  z_stream zs_{};
  bool done_ = false;
};

std::uint64_t parse_numeric(const char* p, std::size_t len, const std::string& what) {
  // GNU base-256: high bit of the first byte set.
  if (len > 0 && (static_cast<unsigned char>(p[0]) & 0x80)) {
    if (static_cast<unsigned char>(p[0]) & 0x40) throw Error(Errc::invalid_chart, what, "negative numeric field");
    std::uint64_t v = static_cast<unsigned char>(p[0]) & 0x3f;
    for (std::size_t i = 1; i < len; ++i) {
      if (v >> 56) throw Error(Errc::invalid_chart, what, "numeric field overflow");
      v = (v << 8) | static_cast<unsigned char>(p[i]);
    }
    return v;
  }
  std::size_t i = 0;
  while (i < len && (p[i] == ' ' || p[i] == '\0')) ++i;
  std::uint64_t v = 0;
  for (; i < len && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (v >> 60) throw Error(Errc::invalid_chart, what, "numeric field overflow");
    v = v * 8 + static_cast<std::uint64_t>(p[i] - '0');
  }
  for (; i < len; ++i)
    if (p[i] != ' ' && p[i] != '\0') throw Error(Errc::invalid_chart, what, "malformed numeric field in tar header");
  return v;
}

std::string field_string(const Block& b, Field f) {
  const char* p = b.data() + f.off;
  std::size_t n = 0;
  while (n < f.len && p[n] != '\0') ++n;
  return std::string(p, n);
}

bool is_zero_block(const Block& b) {
  return std::all_of(b.begin(), b.end(), [](char c) { return c == '\0'; });
}

// Parses PAX records "<len> key=value\n"...
std::vector<std::pair<std::string, std::string>> parse_pax(std::string_view data) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!data.empty()) {
    auto space = data.find(' ');
    if (space == std::string_view::npos || space == 0) throw Error(Errc::invalid_chart, "archive", "malformed PAX record");
    std::uint64_t len = 0;
    for (std::size_t i = 0; i < space; ++i) {
      if (data[i] < '0' || data[i] > '9' || len > (1u << 30))
        throw Error(Errc::invalid_chart, "archive", "malformed PAX record length");
      len = len * 10 + static_cast<std::uint64_t>(data[i] - '0');
    }
    if (len <= space + 1 || len > data.size() || data[len - 1] != '\n')
      throw Error(Errc::invalid_chart, "archive", "malformed PAX record");
    std::string_view rec = data.substr(space + 1, len - space - 2);
    auto eq = rec.find('=');
    if (eq == std::string_view::npos || eq == 0) throw Error(Errc::invalid_chart, "archive", "malformed PAX record");
    out.emplace_back(std::string(rec.substr(0, eq)), std::string(rec.substr(eq + 1)));
    data.remove_prefix(len);
  }
  return out;
}

// Cleans an entry name and refuses anything that could land outside the
// extraction directory.
std::string clean_entry_name(const std::string& raw) {
  if (raw.empty()) throw Error(Errc::invalid_chart, "archive", "entry with an empty name");
  if (raw.find('\0') != std::string::npos) throw Error(Errc::invalid_chart, raw, "entry name contains NUL");
  std::string name = raw;
  std::replace(name.begin(), name.end(), '\\', '/');
  if (name.front() == '/') throw Error(Errc::invalid_chart, raw, "absolute path in archive");
  if (name.size() >= 2 && std::isalpha(static_cast<unsigned char>(name[0])) && name[1] == ':')
    throw Error(Errc::invalid_chart, raw, "drive-qualified path in archive");
  std::string cleaned;
  std::size_t start = 0;
  while (start <= name.size()) {
    auto end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string_view part(name.data() + start, end - start);
    if (part == "..") throw Error(Errc::invalid_chart, raw, "path in archive references a parent directory");
    if (!part.empty() && part != ".") {
      if (!cleaned.empty()) cleaned += '/';
      cleaned += part;
    }
    start = end + 1;
  }
  if (cleaned.empty()) throw Error(Errc::invalid_chart, raw, "entry name resolves to the archive root");
  return cleaned;
}

class TarStream {
 public:
  TarStream(Gunzip& gz, std::uint64_t max_stream) : gz_(gz), max_stream_(max_stream) {}

  // Reads exactly n bytes or returns false at a clean end of stream (0 bytes read).
  bool read_exact(char* dst, std::size_t n, bool eof_ok) {
    std::size_t got = 0;
    while (got < n) {
      std::size_t r = gz_.read(dst + got, n - got);
      if (r == 0) {
        if (got == 0 && eof_ok) return false;
        throw Error(Errc::invalid_chart, "archive", "truncated tar stream");
      }
      got += r;
    }
    return true;
  }
  void skip(std::uint64_t n) {
    std::array<char, 16 * 1024> buf;
    while (n > 0) {
      auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(n, buf.size()));
      read_exact(buf.data(), chunk, false);
      n -= chunk;
    }
  }
  void charge_metadata(std::uint64_t n) {
    metadata_ += n;
    if (metadata_ > max_stream_)
      throw Error(Errc::too_large, "archive", "tar headers and padding exceed " + std::to_string(max_stream_) + " bytes");
  }
  Gunzip& gz() { return gz_; }

 private:
  Gunzip& gz_;
  std::uint64_t max_stream_;
  std::uint64_t metadata_ = 0;
};

std::uint64_t padded(std::uint64_t size) { return (size + kBlock - 1) / kBlock * kBlock; }

// What GNU 'L'/'K' and PAX 'x' records say of the entry that follows them.
struct Overrides {
  std::optional<std::string> name, link;
  std::optional<std::uint64_t> size;  // PAX 'size'
};

// Reads the next header into `b`: false at the end of the archive (one zero block
// is enough for Go's reader, a second is optional; `saw_end` then says so) or of
// a stream that ends without zero blocks (accepted, like Go). Throws
// Error(invalid_chart) for a header whose checksum does not match.
bool read_header(TarStream& tar, Block& b, bool& saw_end) {
  if (!tar.read_exact(b.data(), kBlock, true)) return false;
  tar.charge_metadata(kBlock);
  if (is_zero_block(b)) {
    saw_end = true;
    return false;
  }
  std::uint64_t stored = parse_numeric(b.data() + kChksum.off, kChksum.len, "archive");
  if (stored != checksum_unsigned(b) && static_cast<std::int64_t>(stored) != checksum_signed(b))
    throw Error(Errc::invalid_chart, "archive", "tar header checksum mismatch");
  return true;
}

// A PAX or GNU long-name record's content (bounded), its padding skipped.
std::string read_special(TarStream& tar, std::uint64_t size, const char* kind) {
  if (size > kMaxSpecialFileSize)
    throw Error(Errc::too_large, "archive", std::string(kind) + " record of " + std::to_string(size) + " bytes");
  std::string data(static_cast<std::size_t>(size), '\0');
  tar.read_exact(data.data(), data.size(), false);
  tar.skip(padded(size) - size);
  tar.charge_metadata(padded(size));
  return data;
}

std::uint64_t parse_pax_size(const std::string& value) {
  std::uint64_t v = 0;
  for (char c : value) {
    if (c < '0' || c > '9' || v > (1ull << 60)) throw Error(Errc::invalid_chart, "archive", "malformed PAX size");
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// Reads a header of type `type` that describes the next entry rather than being
// one (PAX 'x' and 'g', GNU 'L' and 'K') into `next`; false for any other type.
bool read_extension(TarStream& tar, char type, std::uint64_t size, Overrides& next) {
  if (type == 'x' || type == 'g') {
    auto records = parse_pax(read_special(tar, size, "PAX"));
    if (type == 'g') return true;  // global defaults: nothing we use
    for (auto& [key, value] : records) {
      if (key == "path") next.name = value;
      else if (key == "linkpath") next.link = value;
      else if (key == "size") next.size = parse_pax_size(value);
    }
    return true;
  }
  if (type == 'L' || type == 'K') {
    std::string data = read_special(tar, size, "GNU long name");
    auto nul = data.find('\0');
    if (nul != std::string::npos) data.resize(nul);
    (type == 'L' ? next.name : next.link) = data;
    return true;
  }
  return false;
}

// The entry's name as the archive spells it: a long name, or the header's.
std::string raw_entry_name(const Block& b, const Overrides& next) {
  if (next.name) return *next.name;
  std::string raw_name = field_string(b, kName);
  std::string magic(b.data() + kMagic.off, kMagic.len);
  // POSIX ustar uses prefix; GNU's "ustar  " reuses those bytes for times.
  if (magic == std::string("ustar\0", 6)) {
    std::string prefix = field_string(b, kPrefix);
    if (!prefix.empty()) raw_name = prefix + "/" + raw_name;
  }
  return raw_name;
}

char entry_type(char type, const std::string& raw_name) {
  // Pre-POSIX archives mark directories only by a trailing '/' (Go does the same).
  if (type == '\0' && !raw_name.empty() && raw_name.back() == '/') return '5';
  if (type == '\0' || type == '7') return '0';  // contiguous file: a regular file
  return type;
}

// Only regular files carry data (bounded per file and in all, counted in
// `total`); other types' sizes are skipped as metadata.
void read_content(TarStream& tar, TarEntry& entry, std::uint64_t size, std::uint64_t max_file_bytes,
                  std::uint64_t max_total_bytes, std::uint64_t& total) {
  if (entry.type != '0') {
    tar.charge_metadata(padded(size));
    tar.skip(padded(size));
    return;
  }
  if (size > max_file_bytes)
    throw Error(Errc::too_large, entry.name,
                "file of " + std::to_string(size) + " bytes exceeds the limit of " + std::to_string(max_file_bytes));
  if (size > max_total_bytes - std::min(total, max_total_bytes))
    throw Error(Errc::too_large, entry.name,
                "archive content exceeds the limit of " + std::to_string(max_total_bytes) + " bytes");
  total += size;
  entry.content.assign(static_cast<std::size_t>(size), '\0');
  tar.read_exact(entry.content.data(), entry.content.size(), false);
  tar.skip(padded(size) - size);
  tar.charge_metadata(padded(size) - size);
}

}  // namespace

std::vector<TarEntry> read_tgz(std::string_view tgz, std::uint64_t max_file_bytes, std::uint64_t max_total_bytes) {
  Gunzip gz(tgz);
  TarStream tar(gz, kMaxMetadataBytes);
  std::vector<TarEntry> entries;
  std::uint64_t total = 0;
  Overrides next;
  bool saw_end = false;
  Block b;
  while (read_header(tar, b, saw_end)) {
    const char type = b[kType.off];
    const std::uint64_t size = next.size ? *next.size : parse_numeric(b.data() + kSize.off, kSize.len, "archive");
    if (read_extension(tar, type, size, next)) continue;
    const std::string raw_name = raw_entry_name(b, next);
    TarEntry entry;
    entry.type = entry_type(type, raw_name);
    // "./" (tar -C dir .): the root itself; a directory entry that carries nothing.
    if (entry.type == '5' && raw_name.find_first_not_of("./") == std::string::npos) {
      next = {};
      tar.charge_metadata(padded(size));
      tar.skip(padded(size));
      continue;
    }
    entry.name = clean_entry_name(raw_name);
    entry.raw_name = raw_name;
    entry.mode = static_cast<std::uint32_t>(parse_numeric(b.data() + kMode.off, kMode.len, entry.name) & 07777);
    if (entry.type == '1' || entry.type == '2') entry.link_target = next.link ? *next.link : field_string(b, kLinkname);
    next = {};
    read_content(tar, entry, size, max_file_bytes, max_total_bytes, total);
    entries.push_back(std::move(entry));
  }
  // Drain the rest (second zero block, trailing padding) so the gzip CRC and
  // length are verified; the metadata budget bounds how much we inflate.
  if (saw_end) {
    std::array<char, 16 * 1024> buf;
    while (std::size_t n = gz.read(buf.data(), buf.size())) tar.charge_metadata(n);
  }
  return entries;
}

}  // namespace cmop::package
