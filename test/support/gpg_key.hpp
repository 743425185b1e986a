#pragma once
// A key pair made by Debian's gpg for the provenance tests (signing suites and
// mirrors of signed charts).
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cmop/util/fs.hpp"
#include "support/process.hpp"

namespace cmop::test {

// A key pair made by Debian's gpg in its own GNUPGHOME: the public keyring Helm
// verifies with, the binary secret keyring `helm package --sign` reads, and the
// ASCII-armored secret key cmop signs with.
struct GpgKey {
  util::TempDir home{"cmop-gpg-"};
  std::filesystem::path pubring, secring, armored;
  std::string fingerprint;  // of the primary key
  std::map<std::string, std::string> env() const { return {{"GNUPGHOME", (home.path() / "gnupg").string()}}; }
  std::vector<std::string> gpg(std::vector<std::string> args) const {
    args.insert(args.begin(), {"gpg", "--batch", "--quiet"});
    return args;
  }

  // `params`: the body of a --gen-key parameter file (without %commit).
  explicit GpgKey(const std::string& name, const std::string& params = "", const std::string& passphrase = "") {
    std::filesystem::create_directories(home.path() / "gnupg");
    std::filesystem::permissions(home.path() / "gnupg", std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
    std::string p = params.empty() ? "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: "
                                     "sign\nSubkey-Type: RSA\n"
                                     "Subkey-Length: 2048\nSubkey-Usage: encrypt\n"
                                   : params;
    p = (passphrase.empty() ? "%no-protection\n" + p : p + "Passphrase: " + passphrase + "\n") + "Name-Real: " + name +
        "\nName-Email: " + name + "@example.com\nExpire-Date: 0\n%commit\n";
    std::ofstream(home.path() / "params", std::ios::binary) << p;
    test::run_ok(gpg({"--gen-key", (home.path() / "params").string()}), {}, env());
    pubring = home.path() / "pubring.gpg";
    secring = home.path() / "secring.gpg";
    armored = home.path() / "secret.asc";
    std::vector<std::string> loopback;
    if (!passphrase.empty()) loopback = {"--pinentry-mode", "loopback", "--passphrase", passphrase};
    auto with = [&](std::vector<std::string> a) {
      a.insert(a.begin(), loopback.begin(), loopback.end());
      return gpg(a);
    };
    test::run_ok(gpg({"--output", pubring.string(), "--export"}), {}, env());
    test::run_ok(with({"--output", secring.string(), "--export-secret-keys"}), {}, env());
    test::run_ok(with({"--armor", "--output", armored.string(), "--export-secret-keys"}), {}, env());
    std::string colons = test::run_ok(gpg({"--with-colons", "--fingerprint", "--list-keys"}), {}, env());
    fingerprint = fingerprints(colons).front();
  }

  // Every fpr: line's fingerprint, in order (primary first, then subkeys).
  static std::vector<std::string> fingerprints(const std::string& colons) {
    std::vector<std::string> out;
    std::istringstream in(colons);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("fpr:", 0) == 0) {  // fpr:::::::::<fingerprint>:
        std::vector<std::string> fields;
        std::istringstream f(line);
        for (std::string field; std::getline(f, field, ':');) fields.push_back(field);
        if (fields.size() > 9) out.push_back(fields[9]);
      }
    return out;
  }
};

}  // namespace cmop::test
