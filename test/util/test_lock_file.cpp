#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "cmop/util/fs.hpp"
#include "cmop/util/lock_file.hpp"
#include "support/error_of.hpp"

using namespace cmop;

TEST_CASE("a lock file admits one holder at a time, also within one process") {
  util::TempDir dir;
  const auto file = dir.path() / "x.lock";
  {
    auto held = util::LockFile::try_acquire(file, 0600);
    REQUIRE(held);
    CHECK_FALSE(util::LockFile::try_acquire(file));  // a second open file description is refused

    std::atomic<bool> got{false};
    std::thread waiter([&] {
      auto lock = util::LockFile::acquire(file);
      got = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK_FALSE(got.load());  // acquire() waits while the lock is held
    held.reset();
    waiter.join();
    CHECK(got.load());
  }
  CHECK(util::LockFile::try_acquire(file));  // released with its holder
}

TEST_CASE("a lock file that cannot be created is an io error naming it") {
  util::TempDir dir;
  auto e = test::error_of([&] { util::LockFile::acquire(dir.path() / "missing" / "x.lock"); });
  CHECK(e.code() == Errc::io);
  CHECK(e.subject() == (dir.path() / "missing" / "x.lock").string());
}

TEST_CASE("fsync_dir syncs a directory and names one it cannot open") {
  util::TempDir dir;
  util::fsync_dir(dir.path());
  auto e = test::error_of([&] { util::fsync_dir(dir.path() / "missing"); });
  CHECK(e.code() == Errc::io);
  CHECK(e.subject() == (dir.path() / "missing").string());
}
