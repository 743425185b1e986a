#pragma once
// A TCP server on 127.0.0.1 that accepts every connection and then never sends a
// byte nor reads one: the remote that hangs a client without a deadline forever.
// Connections are held until the server is destroyed (or release() is called).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace cmop::test {

class BlackHole {
 public:
  BlackHole() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 128) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("black hole: cannot listen");
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{listener_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard lk(mu_);
        held_.push_back(fd);
      }
    });
  }
  ~BlackHole() {
    stop_ = true;
    thread_.join();
    release();
    ::close(listener_);
  }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& scheme, const std::string& path) const {
    return scheme + "://127.0.0.1:" + std::to_string(port_) + "/" + path;
  }
  std::size_t accepted() {
    std::lock_guard lk(mu_);
    return held_.size() + released_;
  }
  // The connections held now (a peer built on this one may write to them).
  std::vector<int> held() {
    std::lock_guard lk(mu_);
    return held_;
  }
  // Closes the held connections (unblocks a client that has no deadline of its own).
  void release() {
    std::lock_guard lk(mu_);
    for (int fd : held_) ::close(fd);
    released_ += held_.size();
    held_.clear();
  }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<int> held_;
  std::size_t released_ = 0;
};

}  // namespace cmop::test
