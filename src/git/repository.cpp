// Git sync with libgit2.
//
// Layout of a Repository directory (private to this file):
//   repo.git/             bare mirror; branches are fetched to refs/remotes/origin/*
//                         and tags to refs/tags/* (forced, pruned)
//   current               the current commit id (40 hex and a newline)
//   sync.lock             flock(2)-held for the duration of a sync
//
// Nothing is checked out: readers take the current commit's tree from the object
// database (git::Tree), so a new commit costs what the fetch downloads and no
// file is written per chart file.
//
// Crash safety: libgit2 fsyncs what a fetch writes into the mirror (packs, refs),
// and only then is `current` replaced (write_file_atomic: temp file, fsync,
// rename). A crash at any point leaves `current` naming a commit whose objects are
// all on disk; the next sync (holding sync.lock, so no live writer exists) deletes
// pointer temp files and stale libgit2 *.lock files before it starts. Earlier
// versions kept worktrees under checkouts/ and `current` as a symlink to one: both
// are read and cleaned up.
#include "cmop/git/repository.hpp"
#include "cmop/util/time.hpp"

#include <fcntl.h>
#include <git2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 8)
#include <git2/sys/errors.h>  // git_error_set_str moved here in libgit2 1.8
#endif
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <signal.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "cmop/error.hpp"
#include "cmop/net/ca_paths.hpp"
#include "cmop/util/redact.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/lock_file.hpp"
#include "git/known_hosts.hpp"
#include "git/local_copy.hpp"
#include "git/tree_internal.hpp"

namespace cmop::git {
namespace fs = std::filesystem;

namespace {

constexpr const char* kBranchRefspec = "+refs/heads/*:refs/remotes/origin/*";
constexpr const char* kTagRefspec = "+refs/tags/*:refs/tags/*";
constexpr std::string_view kRemoteBranchPrefix = "refs/remotes/origin/";
constexpr std::string_view kPointerTempPrefix = ".current.tmp-";  // left by versions before write_file_atomic

// libgit2 is initialised once and never shut down: shutting down while another
// thread still uses a repository is undefined, and the process lives for the job.
void ensure_libgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (git_libgit2_init() < 0) {
      const git_error* e = git_error_last();
      throw Error(Errc::internal, "libgit2", e ? e->message : "git_libgit2_init failed");
    }
    // The mirror directory is private to cmop; a volume restored under another uid
    // must not make libgit2 refuse our own repository ("not owned by current user").
    git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
    // Packs and refs a fetch writes are flushed before `current` may name them.
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
    // The system CAs as the HTTP client finds them (SSL_CERT_FILE/SSL_CERT_DIR, then
    // the usual paths): a static build's compiled-in OpenSSL directory may not exist.
    net::CaLocations cas = net::system_ca_locations();
    if (!cas.file.empty() || !cas.dir.empty())
      git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, cas.file.empty() ? nullptr : cas.file.c_str(),
                       cas.dir.empty() ? nullptr : cas.dir.c_str());
  });
}

// libgit2 writes to its sockets with send(2) without MSG_NOSIGNAL (1.9): a git
// server that hangs up while we send would kill the whole process with SIGPIPE
// instead of failing that one fetch with EPIPE. Checked before every sync; a
// handler the embedding process installed is left alone.
void ignore_sigpipe() {
  struct sigaction action {};
  if (::sigaction(SIGPIPE, nullptr, &action) == 0 && action.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
}

template <typename T, void (*Free)(T*)>
class Owned {
 public:
  Owned() = default;
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  Owned(Owned&& other) noexcept : ptr_(other.ptr_) { other.ptr_ = nullptr; }
  Owned& operator=(Owned&& other) noexcept {
    if (this != &other) {
      reset();
      ptr_ = other.ptr_;
      other.ptr_ = nullptr;
    }
    return *this;
  }
  ~Owned() { reset(); }
  T** out() {
    reset();
    return &ptr_;
  }
  T* get() const { return ptr_; }
  T* release() {
    T* p = ptr_;
    ptr_ = nullptr;
    return p;
  }
  void reset() {
    if (ptr_) Free(ptr_);
    ptr_ = nullptr;
  }

 private:
  T* ptr_ = nullptr;
};

using RepoPtr = Owned<git_repository, git_repository_free>;
using RemotePtr = Owned<git_remote, git_remote_free>;
using ReferencePtr = Owned<git_reference, git_reference_free>;
using ObjectPtr = Owned<git_object, git_object_free>;
using ConfigPtr = Owned<git_config, git_config_free>;
using X509StorePtr = Owned<X509_STORE, X509_STORE_free>;

std::string git_message(int rc) {
  const git_error* e = git_error_last();
  if (e && e->message && *e->message) return e->message;
  return "libgit2 error code " + std::to_string(rc);
}

std::string oid_hex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

bool is_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

bool is_commit_id(std::string_view s) { return s.size() == GIT_OID_HEXSZ && is_hex(s); }

// How much history a fetch asks for. Only the commit a ref points at is ever read,
// so the first fetch of a branch or tag (or the default branch) is shallow, depth 1.
// Once the mirror holds a commit, later fetches ask for no depth at all: like
// `git fetch` in a shallow clone, the server sends only what the new tip adds on
// top of what we have (the "have" negotiation), which is the change and nothing
// more. (Asking for depth 1 again costs a deepen negotiation on every fetch —
// measured 40-50 ms per fetch against git daemon — for no fewer objects.) A ref
// that may be a commit id can name any commit reachable from the remote's refs,
// which needs the full history (a shallow mirror is deepened again). A local
// remote (file://, paths) is not fetched through libgit2's local transport (which
// cannot fetch shallow) but copied (git/local_copy.hpp), as deep as the same rules
// say: its download then finds nothing to fetch, whatever the depth.
bool may_be_commit(std::string_view ref, bool full_history) {
  return full_history || (ref.size() >= GIT_OID_MINPREFIXLEN && ref.size() <= GIT_OID_HEXSZ && is_hex(ref));
}

int fetch_depth(git_repository* repo, std::string_view url, std::string_view ref, bool has_commit,
                bool full_history = false) {
  if (detail::local_repository_path(url)) return GIT_FETCH_DEPTH_FULL;
  if (!may_be_commit(ref, full_history)) return has_commit ? GIT_FETCH_DEPTH_FULL : 1;
  return git_repository_is_shallow(repo) == 1 ? GIT_FETCH_DEPTH_UNSHALLOW : GIT_FETCH_DEPTH_FULL;
}

// The same choice for a local remote, whose objects are copied (git/local_copy.hpp).
detail::LocalDepth local_depth(std::string_view ref, bool has_commit, bool full_history) {
  if (may_be_commit(ref, full_history)) return detail::LocalDepth::everything;
  return has_commit ? detail::LocalDepth::new_commits : detail::LocalDepth::tips;
}

[[noreturn]] void throw_io(const fs::path& path, std::string_view what, int err) {
  throw Error(Errc::io, path.string(), std::string(what) + ": " + std::strerror(err));
}

// --- deadlines -------------------------------------------------------------------
//
// libgit2 1.5 has no network timeouts: a remote that accepts a connection and then
// never answers leaves a fetch blocked in connect() or recv() for as long as the
// kernel keeps the connection open. Two mechanisms bound a transfer here:
// 1. every libgit2 callback (certificate, credentials, sideband and transfer
//    progress) counts as progress, and fails the transfer once the watchdog expired
//    (a remote trickling data past the deadline is stopped this way);
// 2. a transfer blocked in a system call fires no callback at all, so the watchdog
//    then interrupts that thread's system call with a signal whose handler does
//    nothing and is installed without SA_RESTART: connect/recv/poll fail with EINTR,
//    which libgit2's socket stream, OpenSSL and libssh2 all report as an error. This
//    covers every transport (http, https, git://, ssh) without replacing libgit2's
//    streams (its SSH transport requires its own socket stream type).
// With libgit2 >= 1.7 its own server connect/read timeouts are set as well.

int interrupt_signal() { return SIGRTMIN + 6; }

void install_interrupt_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the interrupted call must fail, not resume
    ::sigaction(interrupt_signal(), &sa, nullptr);
  });
}

// The socket that thread `tid` of this process is blocked on (its current system
// call, as /proc shows it: recv/read/connect/send on a descriptor, or poll on one),
// or -1. The calling thread's own address space holds a poll()'s descriptor list,
// read with process_vm_readv so that a list gone meanwhile is an error, not a crash.
int blocked_socket(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string nr_text, arg0_text, arg1_text;
  if (!(in >> nr_text >> arg0_text >> arg1_text)) return -1;  // "running" or unreadable
  char* end = nullptr;
  const long nr = std::strtol(nr_text.c_str(), &end, 10);
  if (*end != '\0') return -1;
  const unsigned long long arg0 = std::strtoull(arg0_text.c_str(), nullptr, 16);
  const unsigned long long arg1 = std::strtoull(arg1_text.c_str(), nullptr, 16);
  long fd = -1;
  switch (nr) {
    case SYS_read:
    case SYS_write:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_connect: fd = static_cast<long>(arg0); break;
#ifdef SYS_poll
    case SYS_poll:
#endif
    case SYS_ppoll: {
      if (arg1 != 1) return -1;  // libgit2 and libssh2 wait on their one socket
      pollfd waited{};
      iovec local{&waited, sizeof waited};
      iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(arg0)), sizeof waited};
      if (::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0) != static_cast<ssize_t>(sizeof waited)) return -1;
      fd = waited.fd;
      break;
    }
    default: return -1;
  }
  struct stat st {};
  if (fd < 0 || fd > INT32_MAX || ::fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) return -1;
  return static_cast<int>(fd);
}

std::string seconds_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// Watches one transfer on the calling thread. Scoped: the destructor ends the
// watch, and no signal is sent to the thread after it returned.
class TransferWatchdog {
 public:
  using Clock = std::chrono::steady_clock;

  TransferWatchdog(std::chrono::milliseconds stall, Clock::time_point deadline)
      : stall_(stall),
        deadline_(deadline),
        worker_(::pthread_self()),
        worker_tid_(static_cast<pid_t>(::syscall(SYS_gettid))),
        last_(Clock::now()) {
    if (stall_.count() <= 0 && deadline_ == Clock::time_point::max()) return;
    install_interrupt_handler();
    thread_ = std::thread([this] { watch(); });
  }
  ~TransferWatchdog() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  TransferWatchdog(const TransferWatchdog&) = delete;
  TransferWatchdog& operator=(const TransferWatchdog&) = delete;

  // A new step of the transfer ("connect", "download"); restarts the stall clock.
  void step(std::string what) {
    std::lock_guard lk(mu_);
    step_ = std::move(what);
    last_ = Clock::now();
  }
  void progress() {
    std::lock_guard lk(mu_);
    last_ = Clock::now();
  }
  // Why the transfer was stopped; empty while it may go on.
  std::string expired() const {
    std::lock_guard lk(mu_);
    return reason_;
  }
  // Why the transfer is over its stall limit or deadline as of now, even before
  // the watching thread noticed (libgit2's own socket timeout, set to the same
  // stall limit, can fire first); empty when it is not.
  std::string overdue() const {
    std::lock_guard lk(mu_);
    if (!reason_.empty()) return reason_;
    const auto now = Clock::now();
    if (now >= deadline_) return "the sync deadline passed during " + step_;
    if (stall_.count() > 0 && now >= last_ + stall_)
      return "no answer from the remote for " + seconds_text(stall_) + " during " + step_;
    return "";
  }
  // For libgit2 callbacks: progress, or an error once expired.
  int callback_verdict() {
    std::string why;
    {
      std::lock_guard lk(mu_);
      if (reason_.empty()) {
        last_ = Clock::now();
        return 0;
      }
      why = reason_;
    }
    git_error_set_str(GIT_ERROR_NET, why.c_str());
    return GIT_EUSER;
  }

 private:
  void watch() {
    std::unique_lock lk(mu_);
    while (!done_) {
      const auto now = Clock::now();
      if (reason_.empty()) {
        const auto stall_end = stall_.count() > 0 ? last_ + stall_ : Clock::time_point::max();
        if (now >= deadline_) {
          reason_ = "the sync deadline passed during " + step_;
        } else if (now >= stall_end) {
          reason_ = "no answer from the remote for " + seconds_text(stall_) + " during " + step_;
        } else {
          cv_.wait_until(lk, std::min({stall_end, deadline_, now + std::chrono::seconds(1)}));
          continue;
        }
      }
      // Expired: interrupt whatever system call the transfer is blocked in, again
      // and again (a call begun after one signal would block anew), until the
      // transfer has returned and the destructor ends the watch.
      ::pthread_kill(worker_, interrupt_signal());
      // Some callers retry an interrupted wait: libgit2's SSH handshake loops on
      // libssh2's "timeout" error, which is what an interrupted poll() becomes. So
      // the socket that thread is still blocked on is shut down (not closed: the
      // descriptor stays libgit2's): its reads see end-of-stream and fail.
      if (++interrupts_ > 1)
        if (int fd = blocked_socket(worker_tid_); fd >= 0) ::shutdown(fd, SHUT_RDWR);
      cv_.wait_for(lk, std::chrono::milliseconds(100));
    }
  }

  const std::chrono::milliseconds stall_;
  const Clock::time_point deadline_;
  const pthread_t worker_;
  const pid_t worker_tid_;
  int interrupts_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Clock::time_point last_;
  std::string step_ = "connect";
  std::string reason_;
  bool done_ = false;
  std::thread thread_;
};

// State shared with libgit2's transport callbacks for one sync.
struct TransportState {
  TransferWatchdog* watchdog = nullptr;  // set while a transfer runs
  const Credentials* credentials = nullptr;
  X509_STORE* extra_cas = nullptr;  // from SyncOptions::ca_file; null when unset
  std::string ca_file;
  std::string_view known_hosts;  // SyncOptions::ssh_known_hosts
  int ssh_port = 22;
  bool offered_userpass = false;
  bool offered_ssh_key = false;
  bool offered_username = false;
  std::string auth_failure;  // set when we stopped libgit2's credential retry loop
  std::string cert_failure;

  int reject(std::string why) {
    auth_failure = std::move(why);
    git_error_set_str(GIT_ERROR_NET, auth_failure.c_str());
    return GIT_EUSER;
  }
};

std::string describe_allowed(unsigned allowed) {
  std::vector<std::string> kinds;
  if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) kinds.push_back("username/password");
  if (allowed & (GIT_CREDENTIAL_SSH_KEY | GIT_CREDENTIAL_SSH_MEMORY | GIT_CREDENTIAL_SSH_CUSTOM))
    kinds.push_back("SSH key");
  if (allowed & GIT_CREDENTIAL_SSH_INTERACTIVE) kinds.push_back("keyboard-interactive");
  if (allowed & GIT_CREDENTIAL_DEFAULT) kinds.push_back("Negotiate/NTLM");
  if (allowed & GIT_CREDENTIAL_USERNAME) kinds.push_back("username");
  std::string out;
  for (const auto& k : kinds) out += (out.empty() ? "" : ", ") + k;
  return out.empty() ? "unknown" : out;
}

// libgit2 calls this again after every rejected attempt and would loop forever if we
// kept offering the same secret; each kind of credential is therefore offered once.
int acquire_credentials(git_credential** out, const char* /*url*/, const char* username_from_url,
                        unsigned int allowed, void* payload) {
  auto* state = static_cast<TransportState*>(payload);
  if (state->watchdog)
    if (int verdict = state->watchdog->callback_verdict(); verdict != 0) return verdict;
  const Credentials& creds = *state->credentials;
  std::string user = (username_from_url && *username_from_url) ? username_from_url : creds.username;

  if ((allowed & GIT_CREDENTIAL_SSH_KEY) && !creds.ssh_private_key_file.empty()) {
    if (state->offered_ssh_key)
      return state->reject("the SSH server rejected key " + creds.ssh_private_key_file + " for user '" +
                           (user.empty() ? "git" : user) + "'");
    state->offered_ssh_key = true;
    return git_credential_ssh_key_new(out, user.empty() ? "git" : user.c_str(),
                                      creds.ssh_public_key_file.empty() ? nullptr : creds.ssh_public_key_file.c_str(),
                                      creds.ssh_private_key_file.c_str(),
                                      creds.ssh_passphrase.empty() ? nullptr : creds.ssh_passphrase.c_str());
  }
  if (allowed & GIT_CREDENTIAL_USERNAME) {
    if (state->offered_username)
      return state->reject("the SSH server rejected user name '" + (user.empty() ? "git" : user) + "'");
    state->offered_username = true;
    return git_credential_username_new(out, user.empty() ? "git" : user.c_str());
  }
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && (!creds.password.empty() || !creds.username.empty())) {
    if (state->offered_userpass)
      return state->reject("the server rejected the configured " +
                           std::string(creds.username.empty() ? "token" : "username/password"));
    state->offered_userpass = true;
    if (user.empty()) user = "x-access-token";
    return git_credential_userpass_plaintext_new(out, user.c_str(), creds.password.c_str());
  }
  return state->reject("the server requires authentication (" + describe_allowed(allowed) +
                       ") but no matching credentials are configured");
}

// Verifies a TLS leaf certificate against the CA bundle of this repository only.
// GIT_OPT_SET_SSL_CERT_LOCATIONS would be process-global (and with the mbedTLS
// backend it replaces the system CAs for every other repository), so extra CAs are
// applied here, per sync, and only when libgit2's own verification failed.
// PARTIAL_CHAIN lets the bundle hold the issuing intermediate or the server's own
// self-signed certificate, since libgit2 only hands us the leaf.
bool verify_with_extra_cas(X509_STORE* store, const git_cert_x509& cert, const char* host) {
  const unsigned char* der = static_cast<const unsigned char*>(cert.data);
  X509* leaf = d2i_X509(nullptr, &der, static_cast<long>(cert.len));
  if (!leaf) return false;
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  bool ok = false;
  if (ctx && X509_STORE_CTX_init(ctx, store, leaf, nullptr) == 1) {
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    std::string_view h = host ? host : "";
    bool host_ok = !h.empty() && (X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ||
                                  X509_VERIFY_PARAM_set1_host(param, host, 0) == 1);
    ok = host_ok && X509_verify_cert(ctx) == 1;
  }
  X509_STORE_CTX_free(ctx);
  X509_free(leaf);
  return ok;
}

int check_certificate(git_cert* cert, int valid, const char* host, void* payload) {
  auto* state = static_cast<TransportState*>(payload);
  if (state->watchdog)
    if (int verdict = state->watchdog->callback_verdict(); verdict != 0) return verdict;
  if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
    // `valid` only says whether the key is in the process user's ~/.ssh/known_hosts.
    // Without configured known_hosts the key is accepted; with them, it must match
    // them, whatever ~/.ssh says.
    if (state->known_hosts.empty()) return 0;
    const auto* hostkey = reinterpret_cast<const git_cert_hostkey*>(cert);
    std::string shown = std::string(host ? host : "?") +
                        (state->ssh_port == 22 ? "" : ":" + std::to_string(state->ssh_port));
    if (!(hostkey->type & GIT_CERT_SSH_RAW)) {
      state->cert_failure = "cannot verify the SSH host key of " + shown + ": libgit2 did not provide the raw key";
    } else {
      auto check = detail::check_known_host(state->known_hosts, host ? host : "", state->ssh_port,
                                            std::string_view(hostkey->hostkey, hostkey->hostkey_len));
      if (check == detail::HostKeyCheck::match) return 0;
      state->cert_failure = check == detail::HostKeyCheck::unknown_host
                                ? "SSH host " + shown + " is not listed in the configured known_hosts"
                                : "SSH host key of " + shown +
                                      " does not match the configured known_hosts (possible man-in-the-middle)";
    }
    git_error_set_str(GIT_ERROR_SSH, state->cert_failure.c_str());
    return GIT_ECERTIFICATE;
  }
  if (valid) return 0;
  if (cert->cert_type == GIT_CERT_X509 && state->extra_cas &&
      verify_with_extra_cas(state->extra_cas, *reinterpret_cast<const git_cert_x509*>(cert), host))
    return 0;
  state->cert_failure = std::string("TLS certificate of ") + (host ? host : "the server") +
                        " is not trusted by the system CAs" +
                        (state->ca_file.empty() ? "" : " nor by " + state->ca_file) +
                        " (or does not match the host name)";
  git_error_set_str(GIT_ERROR_SSL, state->cert_failure.c_str());
  return GIT_ECERTIFICATE;
}

// Data from the remote: progress for the watchdog, or the end of the transfer.
int on_transfer_progress(const git_indexer_progress*, void* payload) {
  auto* state = static_cast<TransportState*>(payload);
  return state->watchdog ? state->watchdog->callback_verdict() : 0;
}
int on_sideband(const char*, int, void* payload) {
  auto* state = static_cast<TransportState*>(payload);
  return state->watchdog ? state->watchdog->callback_verdict() : 0;
}

// The port libgit2 connects to for ssh:// and scp-like URLs (for "[host]:port"
// known_hosts entries).
int ssh_port_of(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return 22;
  std::string_view authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find('/'));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  size_t colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket)) return 22;
  int port = 0;
  for (char c : authority.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) return 22;
    port = port * 10 + (c - '0');
  }
  return port > 0 && port <= 65535 ? port : 22;
}

X509StorePtr load_ca_file(const std::string& ca_file) {
  X509StorePtr store;
  if (ca_file.empty()) return store;
  std::error_code ec;
  if (!fs::is_regular_file(ca_file, ec)) throw Error(Errc::io, ca_file, "CA bundle does not exist or is not a file");
  *store.out() = X509_STORE_new();
  if (!store.get() || X509_STORE_load_file(store.get(), ca_file.c_str()) != 1)
    throw Error(Errc::invalid_argument, ca_file, "cannot load CA bundle: not a PEM file of certificates");
  return store;
}

// The current commit: the content of `current`, or (written by earlier versions)
// the name of the checkout it links to.
std::optional<std::string> read_pointer(const fs::path& dir) {
  const fs::path pointer = dir / "current";
  std::error_code ec;
  std::string commit;
  if (fs::is_symlink(pointer, ec)) {
    commit = fs::read_symlink(pointer, ec).filename().string();
  } else {
    std::ifstream in(pointer);
    if (!in || !std::getline(in, commit)) return std::nullopt;
  }
  if (ec || !is_commit_id(commit)) return std::nullopt;
  return commit;
}

RepoPtr open_repository(const fs::path& git_dir) {
  RepoPtr repo;
  int rc = git_repository_open_ext(repo.out(), git_dir.c_str(),
                                   GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, nullptr);
  if (rc < 0) throw Error(Errc::git, git_dir.string(), "open mirror: " + git_message(rc));
  return repo;
}

}  // namespace

struct Repository::Impl {
  fs::path dir;
  std::mutex sync_mutex;

  fs::path git_dir() const { return dir / "repo.git"; }
  fs::path pointer() const { return dir / "current"; }

  void recover_leftovers() const;
  RepoPtr open_or_init(const std::string& subject) const;
  // `depth` for libgit2's download, `local_depth` for a local remote's copy.
  std::string fetch(git_repository* repo, const SyncOptions& options, int depth, detail::LocalDepth local_depth,
                    TransportState& state,
                    const std::string& subject, std::string_view step, std::uint64_t& received,
                    std::uint64_t* received_bytes = nullptr) const;
  // What sync() and fetch() share: checks, locks, leftovers, the fetch itself.
  // Calls `then` with the open mirror while the locks are still held.
  template <typename Then>
  auto locked_fetch(const SyncOptions& options, bool has_commit, FetchResult& out, Then&& then);
  git_oid resolve(git_repository* repo, const std::string& ref, const std::string& default_branch,
                  const std::string& subject) const;
};

void Repository::Impl::recover_leftovers() const {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().starts_with(kPointerTempPrefix)) fs::remove(entry.path(), ec);
  }
  util::remove_stale_temp_files(dir);
  // Worktrees of earlier versions: nothing reads them any more.
  fs::remove_all(dir / "checkouts", ec);
  if (ec) throw Error(Errc::io, (dir / "checkouts").string(), "remove old checkouts: " + ec.message());
  // A crash inside libgit2 can leave ref/config lock files that would make every
  // later fetch fail with "failed to lock file". We hold sync.lock, so none is live.
  fs::path gd = git_dir();
  if (!fs::is_directory(gd, ec)) return;
  for (auto it = fs::recursive_directory_iterator(gd, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().filename() == "objects" && it.depth() == 0) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->path().extension() == ".lock" && it->is_regular_file(ec)) fs::remove(it->path(), ec);
  }
}

RepoPtr Repository::Impl::open_or_init(const std::string& subject) const {
  RepoPtr repo;
  fs::path gd = git_dir();
  std::error_code ec;
  if (fs::exists(gd, ec)) {
    int rc = git_repository_open_ext(repo.out(), gd.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE,
                                     nullptr);
    if (rc == 0 && git_repository_is_bare(repo.get())) return repo;
    // Unusable leftover (a crash during the very first clone, or a damaged
    // directory): objects can always be fetched again, so start over.
    repo.reset();
    fs::remove_all(gd, ec);
    if (ec) throw Error(Errc::io, gd.string(), "remove damaged mirror: " + ec.message());
  }
  int rc = git_repository_init(repo.out(), gd.c_str(), /*is_bare=*/1);
  if (rc < 0) throw Error(Errc::git, subject, "clone: create mirror " + gd.string() + ": " + git_message(rc));
  ConfigPtr config;
  rc = git_repository_config(config.out(), repo.get());
  if (rc == 0) rc = git_config_set_bool(config.get(), "core.symlinks", 1);
  if (rc < 0) throw Error(Errc::git, subject, "clone: configure mirror: " + git_message(rc));
  return repo;
}

// Connects once, reads the remote's default branch from the advertisement, downloads
// branches and tags, updates and prunes local refs. Returns the default branch
// ("refs/heads/x") or "" when the remote advertises none.
//
// The remote is in-memory (nothing in the mirror's config), built from the URL of
// this sync, so a changed URL simply takes effect; refs/remotes/origin/* is our
// namespace regardless. url.<base>.insteadOf rewriting is skipped on purpose: the
// URL configured for cmop is the one fetched, and libgit2 1.5.1 leaks PCRE2 match
// data (~20 KiB) for every config entry it scans while applying insteadOf, which a
// long-running operator syncing on a timer cannot afford.
std::string Repository::Impl::fetch(git_repository* repo, const SyncOptions& sync_options, int depth,
                                    detail::LocalDepth local_depth, TransportState& state, const std::string& subject, std::string_view step,
                                    std::uint64_t& received, std::uint64_t* received_bytes) const {
  const std::string& url = sync_options.url;
  RemotePtr remote;
  TransferWatchdog watchdog(sync_options.stall_timeout, sync_options.deadline);
  state.watchdog = &watchdog;
  struct Unwatch {
    TransportState& s;
    ~Unwatch() { s.watchdog = nullptr; }
  } unwatch{state};
  auto fail = [&](int rc) -> void {
    std::string message = git_message(rc);
    // libgit2's socket timeout (the same stall limit) may beat the watchdog to it,
    // and says so in words of its transport ("timed out", an SSL read's EAGAIN):
    // a failure after the stall limit or the deadline passed without progress is
    // the timeout either way.
    std::string why = watchdog.overdue();
    if (!why.empty()) throw Error(Errc::network, subject, std::string(step) + ": timed out: " + why);
    if (remote.get()) git_remote_disconnect(remote.get());
    if (!state.auth_failure.empty()) throw Error(Errc::unauthorized, subject, std::string(step) + ": " + state.auth_failure);
    if (rc == GIT_EAUTH) throw Error(Errc::unauthorized, subject, std::string(step) + ": " + message);
    // libgit2 >= 1.7 replaces the message the certificate callback set with a generic one.
    if (!state.cert_failure.empty()) throw Error(Errc::git, subject, std::string(step) + ": " + state.cert_failure);
    throw Error(Errc::git, subject, std::string(step) + ": " + message);
  };
  git_remote_create_options create = GIT_REMOTE_CREATE_OPTIONS_INIT;
  create.repository = repo;
  create.name = nullptr;
  create.fetchspec = kBranchRefspec;
  create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  // libgit2 takes a path that does not exist for a URL and answers "unsupported URL
  // protocol"; the user gave a folder, so say that it is missing.
  if (auto source = detail::local_repository_path(url); source && !fs::exists(*source))
    throw Error(Errc::git, subject, std::string(step) + ": no such folder: " + source->string());
  int rc = git_remote_create_with_opts(remote.out(), url.c_str(), &create);
  if (rc < 0) fail(rc);
  const char* refspec_list[] = {kBranchRefspec, kTagRefspec};
  git_strarray refspecs{const_cast<char**>(refspec_list), 2};

  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  callbacks.credentials = acquire_credentials;
  callbacks.certificate_check = check_certificate;
  callbacks.transfer_progress = on_transfer_progress;
  callbacks.sideband_progress = on_sideband;
  callbacks.payload = &state;
  git_proxy_options proxy = GIT_PROXY_OPTIONS_INIT;
  proxy.type = GIT_PROXY_AUTO;  // http.proxy / https_proxy like the git CLI

  watchdog.step("connect (and reading the remote's refs)");
  if ((rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, &proxy, nullptr)) < 0) fail(rc);

  std::string default_branch;
  git_buf head = GIT_BUF_INIT;
  rc = git_remote_default_branch(&head, remote.get());
  if (rc == 0) {
    default_branch.assign(head.ptr, head.size);
    git_buf_dispose(&head);
  } else if (rc != GIT_ENOTFOUND) {
    fail(rc);
  }

  git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
  options.callbacks = callbacks;
  options.proxy_opts = proxy;
  options.prune = GIT_FETCH_PRUNE;
  options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;  // the explicit forced tag refspec fetches them all
  // A local remote's objects are copied as they are (see git/local_copy.hpp): the
  // download then finds the tips present and leaves only the refs to update.
  detail::LocalCopy copied;
  if (auto source = detail::local_repository_path(url)) {
    watchdog.step("copy from the local repository");
    // The copy reports progress: a large one outlasting the stall limit is not a
    // remote that stopped answering; the deadline still ends it.
    copied = detail::copy_local_objects(repo, *source, local_depth, subject, [&watchdog] {
      return watchdog.callback_verdict() == 0 ? std::string() : watchdog.expired();
    });
  }
  watchdog.step("download");
  options.depth = depth;
  if ((rc = git_remote_download(remote.get(), &refspecs, &options)) < 0) fail(rc);
  received = copied.objects + git_remote_stats(remote.get())->received_objects;
  if (received_bytes) *received_bytes = copied.bytes + git_remote_stats(remote.get())->received_bytes;
  if ((rc = git_remote_update_tips(remote.get(), &callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, "cmop: fetch")) < 0)
    fail(rc);
  if ((rc = git_remote_prune(remote.get(), &callbacks)) < 0) fail(rc);
  git_remote_disconnect(remote.get());
  return default_branch;
}

namespace {

// Peels a local ref to a commit; nullopt when the ref does not exist.
std::optional<git_oid> peel_ref(git_repository* repo, const std::string& name, const std::string& shown_ref,
                                const std::string& subject) {
  ReferencePtr ref;
  int rc = git_reference_lookup(ref.out(), repo, name.c_str());
  if (rc == GIT_ENOTFOUND) return std::nullopt;
  if (rc == GIT_EINVALIDSPEC) throw Error(Errc::invalid_argument, subject, "ref '" + shown_ref + "' is not a valid git ref name");
  if (rc < 0) throw Error(Errc::git, subject, "resolve ref '" + shown_ref + "': " + git_message(rc));
  ObjectPtr commit;
  rc = git_reference_peel(commit.out(), ref.get(), GIT_OBJECT_COMMIT);
  if (rc < 0)
    throw Error(Errc::invalid_argument, subject, "ref '" + shown_ref + "' does not point to a commit: " + git_message(rc));
  return *git_object_id(commit.get());
}

}  // namespace

git_oid Repository::Impl::resolve(git_repository* repo, const std::string& ref, const std::string& default_branch,
                                  const std::string& subject) const {
  auto remote_branch = [](std::string_view heads_ref) {
    return std::string(kRemoteBranchPrefix) + std::string(heads_ref.substr(std::string_view("refs/heads/").size()));
  };
  if (ref.empty()) {
    if (default_branch.empty() || !default_branch.starts_with("refs/heads/"))
      throw Error(Errc::not_found, subject, "resolve ref: the remote advertises no default branch (empty repository?); set a ref");
    if (auto oid = peel_ref(repo, remote_branch(default_branch), default_branch, subject)) return *oid;
    throw Error(Errc::not_found, subject, "resolve ref: default branch " + default_branch + " was not fetched");
  }
  for (unsigned char c : ref) {
    if (c <= 0x20 || c == 0x7f) throw Error(Errc::invalid_argument, subject, "ref contains whitespace or control characters");
  }

  std::vector<std::string> candidates;
  if (ref.starts_with("refs/heads/")) {
    candidates.push_back(remote_branch(ref));
  } else if (ref.starts_with("refs/")) {
    candidates.push_back(ref);
  } else {
    candidates.push_back(std::string(kRemoteBranchPrefix) + ref);
    candidates.push_back("refs/tags/" + ref);
  }
  for (const auto& name : candidates) {
    if (auto oid = peel_ref(repo, name, ref, subject)) return *oid;
  }

  if (ref.size() >= GIT_OID_MINPREFIXLEN && ref.size() <= GIT_OID_HEXSZ && is_hex(ref)) {
    git_oid prefix;
    int rc = git_oid_fromstrn(&prefix, ref.c_str(), ref.size());
    ObjectPtr object;
    if (rc == 0) rc = git_object_lookup_prefix(object.out(), repo, &prefix, ref.size(), GIT_OBJECT_ANY);
    if (rc == GIT_EAMBIGUOUS)
      throw Error(Errc::invalid_argument, subject, "ref '" + ref + "' is an ambiguous abbreviated commit id; use more digits");
    if (rc == 0) {
      ObjectPtr commit;
      rc = git_object_peel(commit.out(), object.get(), GIT_OBJECT_COMMIT);
      if (rc < 0) throw Error(Errc::invalid_argument, subject, "ref '" + ref + "' does not name a commit: " + git_message(rc));
      return *git_object_id(commit.get());
    }
    if (rc != GIT_ENOTFOUND) throw Error(Errc::git, subject, "resolve ref '" + ref + "': " + git_message(rc));
  }
  throw Error(Errc::not_found, subject,
              "resolve ref: '" + ref + "' is neither a branch nor a tag of the remote, nor a commit reachable from them");
}

Repository::Repository(fs::path dir) : impl_(new Impl{}) {
  impl_->dir = std::move(dir);
}

Repository::~Repository() { delete impl_; }

template <typename Then>
auto Repository::Impl::locked_fetch(const SyncOptions& options, bool has_commit, FetchResult& out, Then&& then) {
  validate_url(options.url, options.allow_local);
  const std::string subject = util::redact_url(options.url);
  const Credentials& creds = options.credentials;
  if (!creds.ssh_private_key_file.empty() && ::access(creds.ssh_private_key_file.c_str(), R_OK) != 0)
    throw_io(creds.ssh_private_key_file, "SSH private key", errno);
  if (!creds.ssh_public_key_file.empty() && ::access(creds.ssh_public_key_file.c_str(), R_OK) != 0)
    throw_io(creds.ssh_public_key_file, "SSH public key", errno);
  X509StorePtr extra_cas = load_ca_file(options.ca_file);
  ensure_libgit2();
  ignore_sigpipe();

  std::lock_guard guard(sync_mutex);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(Errc::io, dir.string(), "create mirror directory: " + ec.message());
  // Serialises syncs of one mirror across threads and processes (see LockFile).
  auto lock = util::LockFile::acquire(dir / "sync.lock");

  const std::optional<std::string> current = read_pointer(dir);
  has_commit = has_commit || current.has_value() || fs::exists(dir / "fetched", ec);
  recover_leftovers();

  RepoPtr repo = open_or_init(subject);

  TransportState state;
  state.credentials = &creds;
  state.extra_cas = extra_cas.get();
  state.ca_file = options.ca_file;
  state.known_hosts = options.ssh_known_hosts;
  state.ssh_port = ssh_port_of(options.url);
#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 7)
  // libgit2's own socket timeouts (process-wide; every sync uses the same value).
  // The watchdog stays in charge of the overall deadline.
  if (options.stall_timeout.count() > 0) {
    const int ms = static_cast<int>(std::min<std::int64_t>(options.stall_timeout.count(), INT32_MAX));
    git_libgit2_opts(GIT_OPT_SET_SERVER_CONNECT_TIMEOUT, ms);
    git_libgit2_opts(GIT_OPT_SET_SERVER_TIMEOUT, ms);
  }
#endif
  const int depth = fetch_depth(repo.get(), options.url, options.ref, has_commit, options.full_history);
  out.default_branch = fetch(repo.get(), options, depth, local_depth(options.ref, has_commit, options.full_history),
                             state, subject, has_commit ? "fetch" : "clone",
                             out.received_objects, &out.received_bytes);
  return then(repo.get(), subject, current);
}

SyncResult Repository::sync(const SyncOptions& options) {
  FetchResult fetched;
  return impl_->locked_fetch(
      options, false, fetched,
      [&](git_repository* repo, const std::string& subject, const std::optional<std::string>& current) {
        git_oid commit = impl_->resolve(repo, options.ref, fetched.default_branch, subject);
        std::string hex = oid_hex(commit);
        std::error_code ec;
        if (current && *current == hex && !fs::is_symlink(impl_->pointer(), ec))
          return SyncResult{hex, false, fetched.received_objects};
        util::write_file_atomic(impl_->pointer(), hex + "\n");
        return SyncResult{hex, !current || *current != hex, fetched.received_objects};
      });
}

FetchResult Repository::fetch(const SyncOptions& options) {
  FetchResult fetched;
  impl_->locked_fetch(options, false, fetched,
                      [&](git_repository*, const std::string&, const std::optional<std::string>&) {
                        // Later fetches of this mirror ask for what is new, not for depth 1 again.
                        std::error_code ec;
                        if (!fs::exists(impl_->dir / "fetched", ec)) util::write_file_atomic(impl_->dir / "fetched", "1\n");
                        return 0;
                      });
  return fetched;
}

std::string Repository::resolve(const std::string& url, const std::string& ref,
                                const std::string& default_branch) const {
  ensure_libgit2();
  RepoPtr repo = open_repository(impl_->git_dir());
  return oid_hex(impl_->resolve(repo.get(), ref, default_branch, util::redact_url(url)));
}

Tree Repository::tree_at(const std::string& commit) const {
  ensure_libgit2();
  RepoPtr repo = open_repository(impl_->git_dir());
  git_oid oid;
  int rc = git_oid_fromstr(&oid, commit.c_str());
  if (rc < 0 || !is_commit_id(commit))
    throw Error(Errc::git, impl_->git_dir().string(), "commit " + commit + ": not a commit id");
  return make_tree(repo.release(), oid, impl_->git_dir().string());
}

GcResult Repository::gc() {
  ensure_libgit2();
  std::lock_guard guard(impl_->sync_mutex);
  auto lock = util::LockFile::acquire(impl_->dir / "sync.lock");
  impl_->recover_leftovers();
  const fs::path gd = impl_->git_dir();
  RepoPtr repo = open_repository(gd);
  const std::string subject = gd.string();
  auto check = [&](int rc, const char* what) {
    if (rc < 0) throw Error(Errc::git, subject, std::string("gc: ") + what + ": " + git_message(rc));
  };
  // Loose refs into packed-refs (a fetch of a remote with many tags leaves one file each).
  {
    git_refdb* db = nullptr;
    check(git_repository_refdb(&db, repo.get()), "open refdb");
    int rc = git_refdb_compress(db);
    git_refdb_free(db);
    check(rc, "pack refs");
  }
  Owned<git_packbuilder, git_packbuilder_free> builder;
  check(git_packbuilder_new(builder.out(), repo.get()), "packbuilder");
  git_packbuilder* pb = builder.get();
  git_packbuilder_set_threads(pb, 1);
  // Every commit the refs reach with its trees and blobs (a shallow mirror's
  // history ends at its shallow commits), plus annotated tag objects.
  Owned<git_revwalk, git_revwalk_free> walker;
  check(git_revwalk_new(walker.out(), repo.get()), "revwalk");
  git_revwalk* walk = walker.get();
  check(git_revwalk_push_glob(walk, "refs/*"), "walk refs");
  check(git_packbuilder_insert_walk(pb, walk), "collect objects");
  git_reference_iterator* refs = nullptr;
  check(git_reference_iterator_new(&refs, repo.get()), "list refs");
  git_reference* ref = nullptr;
  while (git_reference_next(&ref, refs) == 0) {
    ReferencePtr owned;
    *owned.out() = ref;
    if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) continue;
    const git_oid* target = git_reference_target(ref);
    git_object_t type = GIT_OBJECT_INVALID;
    ObjectPtr object;
    if (git_object_lookup(object.out(), repo.get(), target, GIT_OBJECT_ANY) == 0) type = git_object_type(object.get());
    if (type == GIT_OBJECT_TAG || type == GIT_OBJECT_TREE || type == GIT_OBJECT_BLOB)
      check(git_packbuilder_insert_recur(pb, target, nullptr), "collect tagged objects");
  }
  git_reference_iterator_free(refs);
  GcResult result;
  result.objects = git_packbuilder_object_count(pb);
  const fs::path pack_dir = gd / "objects" / "pack";
  check(git_packbuilder_write(pb, pack_dir.c_str(), 0, nullptr, nullptr), "write pack");
  const std::string keep = std::string("pack-") + git_packbuilder_name(pb) + ".";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(pack_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("pack-") || name.starts_with(keep)) continue;
    if (name.ends_with(".pack")) ++result.packs_removed;
    fs::remove(entry.path(), ec);
  }
  for (const auto& entry : fs::directory_iterator(gd / "objects", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 2 || !is_hex(name) || !entry.is_directory()) continue;
    for (const auto& object : fs::directory_iterator(entry.path(), ec)) {
      (void)object;
      ++result.loose_removed;
    }
    fs::remove_all(entry.path(), ec);
  }
  return result;
}

std::optional<std::string> Repository::current_commit() const { return read_pointer(impl_->dir); }

std::string Repository::current_commit_time() const {
  if (!read_pointer(impl_->dir)) return "";
  return tree().commit_time();
}

Tree Repository::tree() const {
  auto commit_hex = read_pointer(impl_->dir);
  if (!commit_hex) throw Error(Errc::not_found, impl_->dir.string(), "no commit synced yet");
  ensure_libgit2();
  RepoPtr repo = open_repository(impl_->git_dir());
  git_oid oid;
  int rc = git_oid_fromstr(&oid, commit_hex->c_str());
  if (rc < 0) throw Error(Errc::git, impl_->git_dir().string(), "commit " + *commit_hex + ": " + git_message(rc));
  return make_tree(repo.release(), oid, impl_->git_dir().string());
}

}  // namespace cmop::git
