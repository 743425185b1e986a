#pragma once
// An std::istream over bytes the caller keeps alive, without copying them
// (std::istringstream copies its string: twice the memory for a large document).
#include <istream>
#include <streambuf>
#include <string_view>

namespace cmop::util {

class ViewStream : private std::streambuf, public std::istream {
 public:
  explicit ViewStream(std::string_view bytes) : std::istream(static_cast<std::streambuf*>(this)) {
    char* begin = const_cast<char*>(bytes.data());  // read-only: the get area is never written
    setg(begin, begin, begin + bytes.size());
  }
};

}  // namespace cmop::util
