#pragma once
// The cmop::Error a call throws; fails the test when it throws none.
#include <catch2/catch.hpp>

#include <functional>

#include "cmop/error.hpp"

namespace cmop::test {

inline Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("expected a cmop::Error");
  return Error(Errc::internal, "", "");
}

}  // namespace cmop::test
