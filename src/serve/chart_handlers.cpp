// The embedded local chart repository under /charts/ (index.yaml, packages and
// their provenance files), served when it is the publish target.
#include <cctype>

#include "answers.hpp"
#include "cmop/error.hpp"
#include "cmop/util/time.hpp"
#include "server_impl.hpp"

namespace cmop::serve {
namespace fs = std::filesystem;
namespace {

// File names a Helm chart repository holds: <name>-<version>.tgz. No separators,
// no leading dot, so nothing outside the repo dir can be named.
bool is_chart_file_name(const std::string& f) {
  if (f.size() < 5 || f.size() > 255 || f.compare(f.size() - 4, 4, ".tgz") != 0) return false;
  if (!std::isalnum(static_cast<unsigned char>(f.front()))) return false;
  if (f.find("..") != std::string::npos) return false;
  for (unsigned char c : f)
    if (!std::isalnum(c) && c != '.' && c != '-' && c != '_' && c != '+') return false;
  return true;
}

}  // namespace

HttpResponse Server::Impl::chart_file(const std::string& file, const std::string& method) const {
  HttpResponse r;
  if (file == "index.yaml") {
    publisher->flush();  // what every finished sync published, no older
    r.content_type = "application/x-yaml";
    fs::path p = local_repo_dir / "index.yaml";
    std::error_code ec;
    if (fs::exists(p, ec))
      r.file = p.string();  // streamed: with thousands of charts it runs to megabytes
    else  // nothing published yet: still a valid, empty repository for `helm repo add`
      r.body = "apiVersion: v1\nentries: {}\ngenerated: \"" + util::now_rfc3339() + "\"\n";
    return r;
  }
  // <chart>.tgz.prov: the provenance beside a signed package (--signing-key).
  const bool prov = file.size() > 5 && file.compare(file.size() - 5, 5, ".prov") == 0;
  if (!is_chart_file_name(prov ? file.substr(0, file.size() - 5) : file))
    throw Error(Errc::invalid_argument, "chart file \"" + file + "\"",
                "not a chart archive name (<name>-<version>.tgz, or .tgz.prov)");
  fs::path p = local_repo_dir / file;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) throw Error(Errc::not_found, "chart file \"" + file + "\"", "not in the repository");
  r.content_type = prov ? "application/pgp-signature" : "application/gzip";
  r.file = p.string();  // streamed by the HTTP layer, never read whole
  return r;
}

}  // namespace cmop::serve
