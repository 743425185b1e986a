// `cmop package [DIR...] [-d OUT]`: the charts of a working tree packaged as a sync
// packages them (src/sync/folder_packaging.cpp), written as <name>-<version>.tgz.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cmop/error.hpp"
#include "cmop/oneshot/commands.hpp"
#include "cmop/sync/folder_packaging.hpp"
#include "cmop/util/file_tree.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/log.hpp"
#include "common.hpp"

namespace cmop::oneshot {
namespace {
namespace fs = std::filesystem;

struct PackageFlags {
  std::vector<std::string> dirs;
  std::string out = ".";
  std::string root;
  long timeout_seconds = 600;
  NetworkFlags network;
};

// The git work tree enclosing `from` (the nearest folder holding .git), else `from`.
fs::path default_root(const fs::path& from) {
  for (fs::path p = fs::weakly_canonical(from); !p.empty(); p = p.parent_path()) {
    std::error_code ec;
    if (fs::exists(p / ".git", ec)) return p;
    if (p == p.root_path()) break;
  }
  return from;
}

// Written under a temporary name and renamed, so OUT never shows half a package;
// not fsync'd: a build output is made again after a crash, and 2 fsyncs a chart
// were most of the run's time.
void write_package(const fs::path& out, const package::Package& pkg) {
  const fs::path file = out / pkg.filename;
  const fs::path temp = out / ("." + pkg.filename + ".tmp-" + std::to_string(::getpid()));
  {
    std::ofstream f(temp, std::ios::binary | std::ios::trunc);
    f.write(pkg.bytes.data(), static_cast<std::streamsize>(pkg.bytes.size()));
    f.close();
    if (!f) {
      std::error_code ec;
      fs::remove(temp, ec);
      throw Error(Errc::io, temp.string(), "cannot write the package");
    }
  }
  std::error_code ec;
  fs::rename(temp, file, ec);
  if (ec) {
    fs::remove(temp, ec);
    throw Error(Errc::io, file.string(), "cannot rename into place: " + ec.message());
  }
}

std::string json_chart(const sync::FolderChart& c, const fs::path& file) {
  std::string j = "{\"path\":" + json_string(c.path);
  if (c.package) {
    const auto& p = *c.package;
    j += ",\"status\":\"packaged\",\"name\":" + json_string(p.metadata.name) + ",\"version\":" +
         json_string(p.metadata.version) + ",\"digest\":\"sha256:" + p.digest + "\",\"file\":" +
         json_string(file.string());
  } else {
    j += ",\"status\":\"failed\",\"error\":" + json_string(c.error);
  }
  return j + "}";
}

int run(const PackageFlags& f) {
  util::log::set_level(util::log::Level::warn);
  const Progress progress;
  sync::FolderPackagingOptions o;
  fs::path out;
  try {
    const auto dirs = f.dirs.empty() ? std::vector<std::string>{"."} : f.dirs;
    o.root = f.root.empty() ? default_root(fs::absolute(dirs.front())) : fs::absolute(f.root).lexically_normal();
    const util::DirectoryTree tree(o.root);
    for (const auto& dir : dirs) {
      auto rel = tree.relative_path(fs::absolute(dir));
      if (!rel)
        throw Error(Errc::forbidden, dir,
                    "is outside " + tree.root().string() + " (the git work tree of the first folder, or --root)");
      o.search_paths.push_back(*rel);
    }
    const Network network = make_network(f.network);
    o.dependencies = network.dependencies;
    o.tls = network.tls;
    o.dependency_peers = network.dependency_peers;
    o.registry = network.dependency_registry;
    o.timeout = std::chrono::seconds(f.timeout_seconds);
    out = fs::absolute(f.out).lexically_normal();
    fs::create_directories(out);
  } catch (const Error& e) {
    report_error("package", e.what());
    return run_failed;
  } catch (const fs::filesystem_error& e) {
    report_error("package", e.path1().string() + ": " + e.code().message());
    return run_failed;
  }

  util::TempDir cache("cmop-package-cache-");
  o.cache_dir = cache.path();
  std::vector<sync::FolderChart> charts;
  std::size_t failed = 0;
  try {
    charts = sync::package_folder(o, [&](const sync::FolderChart& c, std::size_t at, std::size_t total) {
      const std::string head = "[" + std::to_string(at) + "/" + std::to_string(total) + "] " + c.path + ": ";
      if (c.package) {
        // Written as each is done, so a long run leaves what it finished.
        write_package(out, *c.package);
        progress.line(head + "packaged " + c.package->filename);
      } else {
        progress.line(head + "refused");
      }
    });
  } catch (const Error& e) {
    report_error("package", e.what());
    return run_failed;
  }
  if (charts.empty()) {
    report_error("package", "no chart (no folder with a Chart.yaml) under " + o.root.string());
    return run_failed;
  }
  std::string json;
  for (const auto& c : charts) {
    const fs::path file = c.package ? out / c.package->filename : fs::path();
    if (!c.package) {
      ++failed;
      report_error("package", c.path + ": refused: " + c.error);
    } else if (f.network.output == "text") {
      std::cout << c.package->metadata.name << " " << c.package->metadata.version << " sha256:" << c.package->digest
                << " " << file.string() << "\n";
    }
    json += (json.empty() ? "" : ",") + json_chart(c, file);
  }
  if (f.network.output == "json") std::cout << "{\"charts\":[" << json << "]}\n";
  return failed ? chart_failed : ok;
}

constexpr const char* kExample = R"(Exit codes: 0 every chart packaged, 1 some chart refused (each named with why on
stderr), 2 nothing packaged (bad flags, no chart, a folder outside the root).

Example (GitHub Actions step; GitLab CI: the same command under `script:`):
  - run: |
      cmop package charts/ -d dist/ --dependency bitnami=https://charts.bitnami.com/bitnami
      helm lint dist/*.tgz
)";

}  // namespace

void add_package_command(CLI::App& app) {
  auto f = std::make_shared<PackageFlags>();
  auto* cmd = app.add_subcommand(
      "package",
      "Package the charts in DIR (default: every chart under the current folder) exactly as a sync would: "
      "reproducible bytes, Helm's validation, dependencies resolved like `helm dependency update`");
  cmd->add_option("dir", f->dirs, "folders to find charts in (a chart folder is that one chart); default .");
  cmd->add_option("-d,--destination", f->out, "folder the <name>-<version>.tgz files are written to")
      ->capture_default_str();
  cmd->add_option("--root", f->root,
                  "nothing outside this folder is read (file:// dependencies, symlinks); default the git work tree "
                  "holding the first DIR, else that DIR");
  cmd->add_option("--timeout", f->timeout_seconds, "seconds the whole run may take, 0 = no limit")
      ->check(CLI::Range(0L, 86400L * 7))
      ->capture_default_str();
  complete_command(*cmd, f->network, kExample, [f] { return run(*f); });
}

}  // namespace cmop::oneshot
