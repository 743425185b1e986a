// `cmop publish --once`: one sync of a git repo into a publish target, then exit.
// The sync runs in a Workspace over a throw-away state dir: what was published
// before is read from the target itself (a package already there with the same
// bytes is adopted, not uploaded; other bytes under the same version are refused
// under `immutable`), so a CI job needs no disk that outlives it.
#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>

#include "cmop/error.hpp"
#include "cmop/oneshot/commands.hpp"
#include "cmop/publish/target.hpp"
#include "cmop/sign/provenance.hpp"
#include "cmop/sign/signing_publisher.hpp"
#include "cmop/sync/workspace.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/log.hpp"
#include "cmop/util/redact.hpp"
#include "common.hpp"

namespace cmop::oneshot {
namespace {
namespace fs = std::filesystem;

struct PublishFlags {
  bool once = false;
  std::string git, ref, path, name = "ci";
  std::string git_username, git_password, ssh_key_file, ssh_known_hosts;
  std::string versioning = "immutable";
  publish::TargetOptions target;
  std::string local_repo_dir, oci_username, oci_password, signing_key;
  long sync_timeout_seconds = 600;
  NetworkFlags network;
};

// The target as the sync sees it: a package the target already holds is not
// uploaded again (and remembered, to be reported unchanged); under `overwrite`
// every upload may replace (a fresh state dir knows of no earlier upload to
// replace); on a terminal each chart is announced.
class OnceTarget final : public publish::Publisher {
 public:
  OnceTarget(std::unique_ptr<publish::Publisher> inner, bool overwrite, const Progress& progress)
      : inner_(std::move(inner)), overwrite_(overwrite), progress_(progress) {}
  void publish(const package::Package& pkg, bool replace) override {
    const std::string at = "[" + std::to_string(++count_) + "] " + pkg.source_path + ": ";
    if (inner_->holds(pkg)) {
      progress_.line(at + pkg.filename + " is already there");
      std::lock_guard lk(mu_);
      already_there_.insert(pkg.filename);
      return;
    }
    progress_.line(at + "uploading " + pkg.filename);
    inner_->publish(pkg, replace || overwrite_);
  }
  bool already_there(const std::string& name, const std::string& version) const {
    std::lock_guard lk(mu_);
    return already_there_.count(name + "-" + version + ".tgz") > 0;
  }
  void remove(const std::string& name, const std::string& version) override { inner_->remove(name, version); }
  void remove_exact(const std::string& name, const std::string& version, const std::string& digest) override {
    inner_->remove_exact(name, version, digest);
  }
  std::string fetch(const std::string& name, const std::string& version) override {
    return inner_->fetch(name, version);
  }
  std::string describe() const override { return inner_->describe(); }
  void probe() override { inner_->probe(); }
  void begin_batch() override { inner_->begin_batch(); }
  void end_batch() override { inner_->end_batch(); }
  void flush() override { inner_->flush(); }

 private:
  std::unique_ptr<publish::Publisher> inner_;
  const bool overwrite_;
  const Progress& progress_;
  std::atomic<int> count_{0};
  mutable std::mutex mu_;
  std::set<std::string> already_there_;
};

// What the sync did, a chart the target already held being unchanged.
std::string status_of(const sync::ChartOutcome& c, const OnceTarget& target) {
  if (c.status == sync::ChartOutcome::Status::published && target.already_there(c.name, c.version)) return "unchanged";
  return sync::to_string(c.status);
}

std::string json_report(const sync::SyncReport& r, const OnceTarget& target) {
  std::string j = "{\"commit\":" + json_string(r.commit) + ",\"error\":" + json_string(r.error) + ",\"charts\":[";
  bool first = true;
  for (const auto& c : r.charts) {
    j += std::string(first ? "" : ",") + "{\"path\":" + json_string(c.path) + ",\"name\":" + json_string(c.name) +
         ",\"version\":" + json_string(c.version) + ",\"digest\":" +
         json_string(c.digest.empty() ? "" : "sha256:" + c.digest) + ",\"status\":" +
         json_string(status_of(c, target)) + ",\"reason\":" + json_string(c.reason) + "}";
    first = false;
  }
  return j + "]}";
}

// The git URL as the sync takes it: a local folder as an absolute path.
std::string git_url(const std::string& given) {
  std::error_code ec;
  if (given.find("://") == std::string::npos && fs::is_directory(given, ec))
    return fs::absolute(given).lexically_normal().string();
  return given;
}

sync::SyncReport sync_once(PublishFlags& f, const Network& network, const Progress& progress,
                           std::shared_ptr<OnceTarget>& publisher) {
  auto& t = f.target;
  t.local_repo_dir = f.local_repo_dir;
  t.oci_credentials = {f.oci_username, f.oci_password};
  t.tls = network.tls;
  t.registry = std::make_shared<oci::RegistryClient>(network.registry_options);
  std::unique_ptr<publish::Publisher> target = publish::make_target_publisher(t);
  if (!f.signing_key.empty()) target = sign::make_signing_publisher(sign::SigningKey::load(f.signing_key), std::move(target));
  const auto versioning = sync::parse_versioning(f.versioning);
  publisher = std::make_shared<OnceTarget>(std::move(target), versioning == sync::Versioning::overwrite, progress);

  sync::WorkspaceOptions wo;
  wo.allow_local_git = true;  // the user's own checkout: any path they name
  wo.tls = network.tls;
  wo.git_ca_file = network.tls.ca_file;
  wo.dependency_peers = network.dependency_peers;
  wo.registry = network.dependency_registry;
  wo.sync_timeout = std::chrono::seconds(f.sync_timeout_seconds);
  wo.git_stall_timeout = std::chrono::seconds(f.network.network_timeout_seconds);
  if (!f.ssh_known_hosts.empty()) wo.ssh_known_hosts = sync::read_ssh_known_hosts(f.ssh_known_hosts);
  util::TempDir state("cmop-publish-once-");
  sync::Workspace workspace(state.path() / "state", publisher, wo);
  sync::RepoSpec spec;
  spec.name = f.name;
  spec.git = git_url(f.git);
  spec.ref = f.ref;
  spec.path = f.path;
  spec.versioning = versioning;
  spec.dependencies = network.dependencies;
  spec.credentials.username = f.git_username;
  spec.credentials.password = f.git_password;
  spec.credentials.ssh_private_key_file = f.ssh_key_file.empty() ? "" : fs::absolute(f.ssh_key_file).string();
  progress.line("syncing " + util::redact_url(spec.git) + (spec.ref.empty() ? "" : " at " + spec.ref) + " into " +
                publisher->describe());
  auto report = workspace.apply(spec);
  publisher->flush();
  return report;
}

int run(PublishFlags& f) {
  util::log::set_level(util::log::Level::warn);
  if (!f.once) {
    report_error("publish", "--once is required (one sync, then exit); a publisher that keeps syncing is `cmop serve`");
    return run_failed;
  }
  const Progress progress;
  sync::SyncReport report;
  std::shared_ptr<OnceTarget> target;
  try {
    report = sync_once(f, make_network(f.network), progress, target);
  } catch (const Error& e) {
    report_error("publish", e.what());
    return run_failed;
  }
  std::size_t failed = 0;
  for (const auto& c : report.charts) {
    if (c.status == sync::ChartOutcome::Status::failed) {
      ++failed;
      const std::string release = c.name + (c.version.empty() ? "" : " " + c.version);
      report_error("publish", c.path + (c.name.empty() ? "" : " (" + release + ")") + ": failed: " + c.reason);
    } else if (f.network.output == "text") {
      std::cout << status_of(c, *target) << " " << c.name << " " << c.version << " sha256:" << c.digest << " "
                << c.path << "\n";
    }
  }
  if (f.network.output == "json") std::cout << json_report(report, *target) << "\n";
  if (!report.error.empty()) {
    report_error("publish", report.error);
    return run_failed;
  }
  return failed ? chart_failed : ok;
}

constexpr const char* kExample = R"(Exit codes: 0 every chart published (or already there, same bytes), 1 some chart
failed (each named with why on stderr), 2 the repo or the target failed.

Example (GitHub Actions, replacing chart-releaser; GitLab CI: the same under `script:`):
  - uses: actions/checkout@v4
  - run: cmop publish --once --git . --path charts --oci-registry oci://ghcr.io/${{ github.repository_owner }}/charts
    env:
      CMOP_OCI_USERNAME: ${{ github.actor }}
      CMOP_OCI_PASSWORD: ${{ secrets.GITHUB_TOKEN }}
A static chart repo (GitHub Pages) instead:
  cmop publish --once --git . --local-repo-dir site/ --index-url https://OWNER.github.io/REPO
)";

}  // namespace

void add_publish_command(CLI::App& app) {
  auto f = std::make_shared<PublishFlags>();
  auto* cmd = app.add_subcommand("publish", "Publish the charts of a git repo into a chart repository or registry");
  cmd->add_flag("--once", f->once, "one sync, then exit (required)");
  cmd->add_option("--git", f->git, "git URL of the repo, or the path of a local clone")->required();
  cmd->add_option("--ref", f->ref, "branch, tag or commit (default: the remote's default branch / HEAD)");
  cmd->add_option("--path", f->path, "folder of the repo to find charts in (default: all of it)");
  cmd->add_option("--versioning", f->versioning,
                  "a chart whose content changed without a version bump: immutable (refused), revision "
                  "(<version>+<commit>) or overwrite")
      ->check(CLI::IsMember({"immutable", "revision", "overwrite"}))
      ->capture_default_str();
  cmd->add_option("--git-username", f->git_username, "user name for an https git remote")
      ->envname("CMOP_GIT_USERNAME");
  cmd->add_option("--git-password", f->git_password, "password or token for an https git remote")
      ->envname("CMOP_GIT_PASSWORD");
  cmd->add_option("--ssh-key-file", f->ssh_key_file, "private key for an ssh git remote")
      ->envname("CMOP_SSH_KEY_FILE");
  cmd->add_option("--ssh-known-hosts", f->ssh_known_hosts,
                  "OpenSSH known_hosts file; when set, an ssh git server must present a listed host key")
      ->envname("CMOP_SSH_KNOWN_HOSTS");
  auto& t = f->target;
  cmd->add_option("--oci-registry", t.oci_registry, "target: an OCI registry namespace, oci://host[:port]/path")
      ->envname("CMOP_OCI_REGISTRY");
  cmd->add_option("--oci-username", f->oci_username, "user name for the OCI registry")->envname("CMOP_OCI_USERNAME");
  cmd->add_option("--oci-password", f->oci_password, "password or token for the OCI registry")
      ->envname("CMOP_OCI_PASSWORD");
  cmd->add_option("--chartmuseum-url", t.chartmuseum_url, "target: a ChartMuseum")->envname("CMOP_CHARTMUSEUM_URL");
  cmd->add_option("--chartmuseum-username", t.chartmuseum_username, "basic auth user for ChartMuseum")
      ->envname("CMOP_CHARTMUSEUM_USERNAME");
  cmd->add_option("--chartmuseum-password", t.chartmuseum_password, "basic auth password for ChartMuseum")
      ->envname("CMOP_CHARTMUSEUM_PASSWORD");
  cmd->add_option("--chartmuseum-token", t.chartmuseum_token, "bearer token for ChartMuseum")
      ->envname("CMOP_CHARTMUSEUM_TOKEN");
  cmd->add_option("--chartmuseum-tenant", t.chartmuseum_tenant, "multi-tenant prefix (org/repo)")
      ->envname("CMOP_CHARTMUSEUM_TENANT");
  cmd->add_option("--local-repo-dir", f->local_repo_dir,
                  "target: a static chart repo folder (<chart>.tgz files and index.yaml), e.g. for GitHub Pages")
      ->envname("CMOP_LOCAL_REPO_DIR");
  cmd->add_option("--index-url", t.local_base_url,
                  "URL the folder is served at: index.yaml's urls are <index-url>/<chart>.tgz (default: file names)");
  cmd->add_option("--signing-key", f->signing_key,
                  "ASCII-armored OpenPGP secret key (RSA, no passphrase): sign every chart (<chart>.tgz.prov)")
      ->envname("CMOP_SIGNING_KEY");
  cmd->add_option("--sync-timeout", f->sync_timeout_seconds, "seconds the sync may take at most, 0 = no limit")
      ->envname("CMOP_SYNC_TIMEOUT")
      ->check(CLI::Range(0L, 86400L * 7))
      ->capture_default_str();
  complete_command(*cmd, f->network, kExample, [f] { return run(*f); });
}

}  // namespace cmop::oneshot
