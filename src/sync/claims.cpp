// The ledger of who publishes what: read from the repos' publications (a running
// sync's working copy for its repo), changed only through record_publication and
// forget_publication, and made durable between state files by the claims journal.
#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "cmop/error.hpp"
#include "cmop/util/fs.hpp"
#include "sync/workspace_impl.hpp"

namespace cmop::sync {
namespace fs = std::filesystem;

const RepoState& Workspace::Impl::current(const std::string& name, const RepoState& stored) const {
  auto it = in_flight.find(name);
  return it == in_flight.end() ? stored : *it->second;
}

std::optional<publish::Publication> Workspace::Impl::owner_of(const std::string& name,
                                                              const std::string& version) const {
  for (const auto& [repo, stored] : repos)
    for (const auto& p : current(repo, stored).published)
      if (p.name == name && p.version == version) return p;
  return std::nullopt;
}

std::vector<publish::Publication> Workspace::Impl::all_publications() const {
  std::vector<publish::Publication> out;
  for (const auto& [repo, stored] : repos) {
    const auto& published = current(repo, stored).published;
    out.insert(out.end(), published.begin(), published.end());
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return std::tie(a.name, a.version) < std::tie(b.name, b.version); });
  return out;
}

void Workspace::Impl::check_claim(const publish::Publication& p, const std::optional<publish::Publication>& owner) {
  if (p.repo.empty() || p.name.empty() || p.version.empty())
    throw Error(Errc::invalid_argument, p.name + "-" + p.version,
                "a publication needs a repo, a chart name and a version");
  if (owner && owner->repo != p.repo)
    throw Error(Errc::conflict, p.name + "-" + p.version,
                "already published by repo \"" + owner->repo + "\" from " + owner->chart_path);
}

void Workspace::Impl::record_publication(RepoState& state, const publish::Publication& pub) {
  check_claim(pub, owner_of(pub.name, pub.version));
  auto it = std::find_if(state.published.begin(), state.published.end(),
                         [&](auto& p) { return p.name == pub.name && p.version == pub.version; });
  if (it == state.published.end())
    state.published.push_back(pub);
  else
    *it = pub;
}

void Workspace::Impl::forget_publication(RepoState& state, const std::string& name, const std::string& version) {
  auto& v = state.published;
  v.erase(std::remove_if(v.begin(), v.end(), [&](auto& p) { return p.name == name && p.version == version; }),
          v.end());
}

Workspace::Impl::InFlight::InFlight(Impl& i, std::string n, const RepoState& working) : impl(i), name(std::move(n)) {
  std::lock_guard lk(impl.mu);
  impl.in_flight[name] = &working;
}

Workspace::Impl::InFlight::~InFlight() {
  std::lock_guard lk(impl.mu);
  auto it = impl.in_flight.find(name);
  if (it == impl.in_flight.end()) return;
  if (auto stored = impl.repos.find(name); stored != impl.repos.end())
    stored->second.published = it->second->published;
  impl.in_flight.erase(it);
}

void Workspace::Impl::journal_claim(const std::string& repo, char op, const publish::Publication& pub) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("op");
  w.String(op == '+' ? "claim" : "release");
  w.Key("name");
  w.String(pub.name.c_str(), static_cast<rapidjson::SizeType>(pub.name.size()));
  w.Key("version");
  w.String(pub.version.c_str(), static_cast<rapidjson::SizeType>(pub.version.size()));
  w.Key("digest");
  w.String(pub.digest.c_str(), static_cast<rapidjson::SizeType>(pub.digest.size()));
  w.Key("path");
  w.String(pub.chart_path.c_str(), static_cast<rapidjson::SizeType>(pub.chart_path.size()));
  w.EndObject();
  std::string line(buf.GetString(), buf.GetSize());
  line += '\n';
  const fs::path file = claims_file(repo);
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(Errc::io, file.string(), std::string("open: ") + std::strerror(errno));
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      throw Error(Errc::io, file.string(), std::string("write: ") + std::strerror(err));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    throw Error(Errc::io, file.string(), std::string("fsync: ") + std::strerror(err));
  }
  ::close(fd);
  // The journal may have just been created: make its directory entry durable too.
  util::fsync_dir(repos_dir());
}

void Workspace::Impl::replay_claims(RepoState& s) const {
  const fs::path file = claims_file(s.spec.name);
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  std::string text = util::read_file(file);
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) break;  // torn last line: its upload never started
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data() + start, end - start);
    start = end + 1;
    auto field = [&](const char* key) -> std::string {
      if (!doc.IsObject() || !doc.HasMember(key) || !doc[key].IsString()) return {};
      return {doc[key].GetString(), doc[key].GetStringLength()};
    };
    if (doc.HasParseError()) continue;
    publish::Publication pub{s.spec.name, field("name"), field("version"), field("digest"), field("path"), "", ""};
    if (pub.name.empty() || pub.version.empty()) continue;
    auto& v = s.published;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](auto& p) { return p.name == pub.name && p.version == pub.version; }),
            v.end());
    if (field("op") == "claim") v.push_back(pub);
  }
}

}  // namespace cmop::sync
