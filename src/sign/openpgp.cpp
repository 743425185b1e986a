// OpenPGP (RFC 4880) as far as signing a Helm provenance file needs it: reading
// a transferable secret key (armored or binary), choosing its signing key, and
// writing a clear-signed message byte for byte as golang.org/x/crypto/openpgp's
// clearsign package does (what `helm package --sign` uses in Helm 3).
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <vector>

#include "cmop/error.hpp"
#include "cmop/sign/provenance.hpp"
#include "cmop/util/base64.hpp"
#include "cmop/util/fs.hpp"
#include "cmop/util/hash.hpp"

namespace cmop::sign {

struct SigningKey::Impl {
  EVP_PKEY* pkey = nullptr;
  std::uint64_t key_id = 0;
  int algorithm = 1;
  ~Impl() { EVP_PKEY_free(pkey); }
};

namespace {

constexpr int kTagSignature = 2, kTagSecretKey = 5, kTagPublicKey = 6, kTagSecretSubkey = 7, kTagUserId = 13,
              kTagPublicSubkey = 14, kTagUserAttribute = 17;
constexpr int kAlgoRsa = 1, kAlgoRsaSignOnly = 3;

std::uint32_t crc24(std::string_view data) {
  std::uint32_t crc = 0xB704CE;
  for (unsigned char c : data) {
    crc ^= static_cast<std::uint32_t>(c) << 16;
    for (int i = 0; i < 8; ++i) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864CFB;
    }
  }
  return crc & 0xFFFFFF;
}

[[noreturn]] void bad(std::string_view origin, const std::string& why) {
  throw Error(Errc::invalid_argument, std::string(origin), why);
}

// The binary packets of an ASCII-armored block (or the input itself when binary).
std::string dearmor(std::string_view text, std::string_view origin, std::string_view block = "PGP PRIVATE KEY BLOCK") {
  if (!text.empty() && (static_cast<unsigned char>(text[0]) & 0x80)) return std::string(text);
  const bool secret = block == "PGP PRIVATE KEY BLOCK";
  const std::string begin_line = "-----BEGIN " + std::string(block) + "-----";
  const std::string end_line = "-----END " + std::string(block) + "-----";
  const std::string_view begin = "-----BEGIN PGP ";
  auto at = text.find(secret ? std::string(begin) : begin_line);
  if (at == std::string_view::npos)
    bad(origin, secret ? "not an OpenPGP key (no \"-----BEGIN PGP PRIVATE KEY BLOCK-----\"; export one with "
                         "`gpg --armor --export-secret-keys KEYID`)"
                       : "no \"" + begin_line + "\" in it");
  auto eol = text.find('\n', at);
  std::string_view first = text.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
  while (!first.empty() && (first.back() == '\r' || first.back() == ' ')) first.remove_suffix(1);
  if (first != begin_line) {
    if (secret && first.find("PUBLIC KEY") != std::string_view::npos)
      bad(origin,
          "this is a public key; signing needs the secret key (`gpg "
          "--armor --export-secret-keys KEYID`)");
    bad(origin, "not an OpenPGP " + std::string(block) + " (" + std::string(first.substr(0, 60)) + ")");
  }
  if (eol == std::string_view::npos) bad(origin, "the armored key ends after its first line");
  std::size_t pos = eol + 1;
  bool in_headers = true;
  std::string b64;
  std::optional<std::string> checksum;
  bool ended = false;
  while (pos < text.size()) {
    auto next = text.find('\n', pos);
    std::string_view line = text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    pos = next == std::string_view::npos ? text.size() : next + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (in_headers) {
      if (line.empty())
        in_headers = false;
      else if (line.find(": ") == std::string_view::npos) {
        in_headers = false;  // no blank line after the header: tolerated, as gpg does
        b64 += line;
      }
      continue;
    }
    if (line.rfind(end_line, 0) == 0) {
      ended = true;
      break;
    }
    if (!line.empty() && line[0] == '=') {
      checksum = std::string(line.substr(1));
      continue;
    }
    b64 += line;
  }
  if (!ended) bad(origin, "the armored block has no \"" + end_line + "\" line");
  auto bytes = util::base64_decode(b64);
  if (!bytes) bad(origin, "the armored key is not valid base64");
  if (checksum) {
    auto sum = util::base64_decode(*checksum);
    std::uint32_t crc = crc24(*bytes);
    if (!sum || sum->size() != 3 ||
        (static_cast<std::uint32_t>(static_cast<unsigned char>((*sum)[0])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>((*sum)[1])) << 8 |
         static_cast<unsigned char>((*sum)[2])) != crc)
      bad(origin, "the armored key's checksum does not match: the file is damaged");
  }
  return *bytes;
}

struct Packet {
  int tag;
  std::string_view body;
};

std::vector<Packet> read_packets(std::string_view data, std::string_view origin) {
  std::vector<Packet> out;
  std::size_t pos = 0;
  auto need = [&](std::size_t n) {
    if (data.size() - pos < n) bad(origin, "truncated OpenPGP packet");
  };
  auto byte = [&]() -> std::size_t {
    need(1);
    return static_cast<unsigned char>(data[pos++]);
  };
  while (pos < data.size()) {
    std::size_t h = byte();
    if (!(h & 0x80)) bad(origin, "not an OpenPGP packet stream");
    int tag;
    std::size_t len;
    if (h & 0x40) {  // new format
      tag = static_cast<int>(h & 0x3f);
      std::size_t l0 = byte();
      if (l0 < 192)
        len = l0;
      else if (l0 < 224)
        len = ((l0 - 192) << 8) + byte() + 192;
      else if (l0 == 255) {
        len = 0;
        for (int i = 0; i < 4; ++i) len = (len << 8) | byte();
      } else
        bad(origin, "partial-length packets are not valid in a key");
    } else {  // old format
      tag = static_cast<int>((h >> 2) & 0x0f);
      switch (h & 3) {
        case 0: len = byte(); break;
        case 1:
          len = byte() << 8;
          len |= byte();
          break;
        case 2:
          len = 0;
          for (int i = 0; i < 4; ++i) len = (len << 8) | byte();
          break;
        default: len = data.size() - pos;
      }
    }
    need(len);
    out.push_back({tag, data.substr(pos, len)});
    pos += len;
  }
  return out;
}

// A cursor over a packet body.
struct Reader {
  std::string_view s;
  std::size_t pos = 0;
  std::string_view origin;
  void need(std::size_t n) const {
    if (s.size() - pos < n) bad(origin, "truncated OpenPGP key packet");
  }
  unsigned u8() {
    need(1);
    return static_cast<unsigned char>(s[pos++]);
  }
  std::uint32_t u16() { return (u8() << 8) | u8(); }
  std::uint32_t u32() { return (u16() << 16) | u16(); }
  std::string_view take(std::size_t n) {
    need(n);
    auto v = s.substr(pos, n);
    pos += n;
    return v;
  }
  // An MPI's magnitude (big-endian bytes).
  std::string_view mpi() {
    std::size_t bits = u16();
    return take((bits + 7) / 8);
  }
};

struct KeyInfo {
  int algorithm = 0;
  std::int64_t created = 0;
  std::string fingerprint;  // raw 20 bytes
  std::string_view secret;  // after the public part
  bool public_known = false;
  // From its self-signatures.
  std::optional<unsigned> flags;
  std::int64_t expires_after = 0;  // seconds after created; 0 = never
  std::int64_t sig_time = -1;      // the newest self-signature read
  bool revoked = false;
  bool bound = false;  // a subkey with a binding signature
};

KeyInfo read_key(std::string_view body, std::string_view origin) {
  KeyInfo k;
  Reader r{body, 0, origin};
  unsigned version = r.u8();
  if (version != 4)
    bad(origin, "OpenPGP key version " + std::to_string(version) + " is not supported (v4 keys only, as Helm)");
  k.created = r.u32();
  k.algorithm = static_cast<int>(r.u8());
  switch (k.algorithm) {
    case 1:
    case 2:
    case 3:
      r.mpi();
      r.mpi();
      k.public_known = true;
      break;
    case 16:
    case 20:
      r.mpi();
      r.mpi();
      r.mpi();
      k.public_known = true;
      break;
    case 17:
      r.mpi();
      r.mpi();
      r.mpi();
      r.mpi();
      k.public_known = true;
      break;
    case 18:
      r.take(r.u8());
      r.mpi();
      r.take(r.u8());
      k.public_known = true;
      break;
    case 19:
    case 22:
      r.take(r.u8());
      r.mpi();
      k.public_known = true;
      break;
    default: break;  // unknown: cannot be fingerprinted, never chosen
  }
  if (!k.public_known) return k;
  std::string_view pub = body.substr(0, r.pos);
  std::string framed;
  framed += '\x99';
  framed += static_cast<char>((pub.size() >> 8) & 0xff);
  framed += static_cast<char>(pub.size() & 0xff);
  framed += pub;
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(framed.data()), framed.size(), md);
  k.fingerprint.assign(reinterpret_cast<const char*>(md), sizeof md);
  k.secret = body.substr(r.pos);
  return k;
}

std::uint64_t key_id_of(const std::string& fingerprint) {
  std::uint64_t id = 0;
  for (std::size_t i = fingerprint.size() - 8; i < fingerprint.size(); ++i)
    id = (id << 8) | static_cast<unsigned char>(fingerprint[i]);
  return id;
}

std::string hex_upper(std::string_view raw) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

struct SigInfo {
  unsigned type = 0;
  std::int64_t created = -1;
  std::optional<unsigned> flags;
  std::int64_t key_expires = 0;
  std::optional<std::uint64_t> issuer;
  std::string issuer_fpr;
};

std::optional<SigInfo> read_signature(std::string_view body, std::string_view origin) {
  Reader r{body, 0, origin};
  if (r.u8() != 4) return std::nullopt;  // v3 signatures carry no key flags: ignored
  SigInfo s;
  s.type = r.u8();
  r.u8();  // public-key algorithm
  r.u8();  // hash algorithm
  for (int area = 0; area < 2; ++area) {
    Reader sub{r.take(r.u16()), 0, origin};
    while (sub.pos < sub.s.size()) {
      std::size_t len = sub.u8();
      if (len >= 192 && len < 255)
        len = ((len - 192) << 8) + sub.u8() + 192;
      else if (len == 255)
        len = sub.u32();
      if (len == 0) bad(origin, "empty signature subpacket");
      Reader p{sub.take(len), 0, origin};
      unsigned type = p.u8() & 0x7f;
      std::string_view v = p.s.substr(1);
      auto be = [&](std::size_t n) {
        std::uint64_t x = 0;
        for (std::size_t i = 0; i < n && i < v.size(); ++i) x = (x << 8) | static_cast<unsigned char>(v[i]);
        return x;
      };
      if (type == 16 && v.size() == 8) s.issuer = be(8);
      if (type == 33 && v.size() == 21) s.issuer_fpr = std::string(v.substr(1));
      if (area != 0) continue;  // only the hashed area is trusted for the rest
      if (type == 2 && v.size() == 4) s.created = static_cast<std::int64_t>(be(4));
      if (type == 9 && v.size() == 4) s.key_expires = static_cast<std::int64_t>(be(4));
      if (type == 27 && !v.empty()) s.flags = static_cast<unsigned char>(v[0]);
    }
  }
  return s;
}

constexpr unsigned kFlagSign = 0x02;

// The secret RSA key of `k`, or why there is none.
EVP_PKEY* rsa_secret(const KeyInfo& k, std::string_view public_body, std::string_view origin, const std::string& what) {
  Reader r{k.secret, 0, origin};
  unsigned usage = r.u8();
  if (usage != 0) {
    if (usage == 254 || usage == 255) {
      r.u8();  // cipher
      unsigned s2k = r.u8();
      if (s2k == 101)
        bad(origin, what +
                        " has no secret part here (a gpg stub: exported "
                        "with --export-secret-subkeys, or "
                        "kept on a smartcard); export a key whose signing "
                        "key is present");
    }
    bad(origin, what +
                    " is protected by a passphrase, which cmop cannot ask "
                    "for; export it unprotected "
                    "(e.g. `gpg --pinentry-mode loopback --passwd KEYID` to "
                    "an empty passphrase on a copy of "
                    "the keyring, then `gpg --armor --export-secret-keys "
                    "KEYID`) and keep the file in a Secret");
  }
  Reader pub{public_body, 6, origin};
  std::string_view n = pub.mpi(), e = pub.mpi();
  std::size_t start = r.pos;
  std::string_view d = r.mpi(), p = r.mpi(), q = r.mpi();
  r.mpi();  // u = p^-1 mod q (OpenSSL wants q^-1 mod p: computed below)
  std::string_view mpis = k.secret.substr(start, r.pos - start);
  std::uint32_t sum = 0;
  for (unsigned char c : mpis) sum += c;
  if (r.u16() != (sum & 0xffff)) bad(origin, what + ": the secret key's checksum does not match: the key is damaged");

  auto bn = [](std::string_view v) {
    return BN_bin2bn(reinterpret_cast<const unsigned char*>(v.data()), static_cast<int>(v.size()), nullptr);
  };
  BN_CTX* ctx = BN_CTX_new();
  BIGNUM *bn_n = bn(n), *bn_e = bn(e), *bn_d = bn(d), *bn_p = bn(p), *bn_q = bn(q);
  BIGNUM *dp = BN_new(), *dq = BN_new(), *qinv = BN_new(), *tmp = BN_new(), *prod = BN_new();
  bool ok = ctx && bn_n && bn_e && bn_d && bn_p && bn_q && dp && dq && qinv && tmp && prod &&
            BN_mul(prod, bn_p, bn_q, ctx) && BN_cmp(prod, bn_n) == 0 && BN_sub(tmp, bn_p, BN_value_one()) &&
            BN_mod(dp, bn_d, tmp, ctx) && BN_sub(tmp, bn_q, BN_value_one()) && BN_mod(dq, bn_d, tmp, ctx) &&
            BN_mod_inverse(qinv, bn_q, bn_p, ctx) != nullptr;
  EVP_PKEY* pkey = nullptr;
  if (ok) {
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM* params = nullptr;
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
    ok = bld && pctx && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, bn_d) &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, bn_p) &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, bn_q) &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv) &&
         (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr && EVP_PKEY_fromdata_init(pctx) == 1 &&
         EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) == 1;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(pctx);
  }
  for (BIGNUM* b : {bn_n, bn_e, bn_d, bn_p, bn_q, dp, dq, qinv, tmp, prod}) BN_clear_free(b);
  BN_CTX_free(ctx);
  if (!ok || !pkey) {
    EVP_PKEY_free(pkey);
    bad(origin, what +
                    ": the RSA secret key is inconsistent (p*q is not n, or "
                    "OpenSSL refused it)");
  }
  return pkey;
}

std::string algorithm_name(int a) {
  switch (a) {
    case 1:
    case 2:
    case 3: return "RSA";
    case 16:
    case 20: return "ElGamal";
    case 17: return "DSA";
    case 18: return "ECDH";
    case 19: return "ECDSA";
    case 22: return "EdDSA (Ed25519)";
    default: return "algorithm " + std::to_string(a);
  }
}

// The armor x/crypto/openpgp/armor writes: 64 columns, CRC-24 line, no final newline.
std::string armor(std::string_view block_type, std::string_view data) {
  std::string b64 = util::base64_encode(data);
  std::string out = "-----BEGIN " + std::string(block_type) + "-----\n\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) {
    if (i) out += '\n';
    out += b64.substr(i, 64);
  }
  std::uint32_t crc = crc24(data);
  std::string c{static_cast<char>(crc >> 16), static_cast<char>((crc >> 8) & 0xff), static_cast<char>(crc & 0xff)};
  out += "\n=" + util::base64_encode(c) + "\n-----END " + std::string(block_type) + "-----";
  return out;
}

}  // namespace

struct KeyParser {
  static std::shared_ptr<const SigningKey> parse(std::string_view text, std::string_view origin) {
    std::string bytes = dearmor(text, origin);
    std::vector<Packet> packets = read_packets(bytes, origin);
    if (packets.empty() || packets[0].tag != kTagSecretKey) {
      if (!packets.empty() && packets[0].tag == kTagPublicKey)
        bad(origin,
            "this is a public key; signing needs the secret key (`gpg "
            "--armor --export-secret-keys KEYID`)");
      bad(origin, "not an OpenPGP secret key (the first packet is not a secret key)");
    }
    struct Entry {
      KeyInfo info;
      std::string_view body;
    };
    std::vector<Entry> keys;  // [0]: the primary
    std::string user_id;
    enum { on_primary, on_user, on_subkey, on_other } at = on_primary;
    for (const Packet& p : packets) {
      if (p.tag == kTagSecretKey) {
        if (!keys.empty()) break;  // a second transferable key: only the first is used
        keys.push_back({read_key(p.body, origin), p.body});
        at = on_primary;
      } else if (p.tag == kTagSecretSubkey) {
        keys.push_back({read_key(p.body, origin), p.body});
        at = on_subkey;
      } else if (p.tag == kTagPublicSubkey) {
        at = on_other;  // no secret: cannot sign
      } else if (p.tag == kTagUserId) {
        if (user_id.empty()) user_id = std::string(p.body);
        at = on_user;
      } else if (p.tag == kTagUserAttribute) {
        at = on_user;
      } else if (p.tag == kTagSignature && at != on_other) {
        auto sig = read_signature(p.body, origin);
        if (!sig) continue;
        const KeyInfo& primary = keys.front().info;
        bool self = (sig->issuer && *sig->issuer == key_id_of(primary.fingerprint)) ||
                    (!sig->issuer_fpr.empty() && sig->issuer_fpr == primary.fingerprint) ||
                    (!sig->issuer && sig->issuer_fpr.empty());
        if (!self) continue;
        KeyInfo& k = at == on_subkey ? keys.back().info : keys.front().info;
        bool certification = (sig->type >= 0x10 && sig->type <= 0x13 && at == on_user) ||
                             (sig->type == 0x1f && at == on_primary) || (sig->type == 0x18 && at == on_subkey);
        if (certification) {
          if (sig->created >= k.sig_time) {
            k.sig_time = sig->created;
            if (sig->flags) k.flags = sig->flags;
            k.expires_after = sig->key_expires;
          }
          if (at == on_subkey) k.bound = true;
        } else if ((sig->type == 0x20 && at == on_primary) || (sig->type == 0x28 && at == on_subkey)) {
          k.revoked = true;
        }
      }
    }
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto usable = [&](const KeyInfo& k) {
      return k.public_known && !k.revoked && (k.expires_after == 0 || k.created + k.expires_after > now);
    };
    const KeyInfo& primary = keys.front().info;
    if (!primary.public_known)
      bad(origin, "the primary key's " + algorithm_name(primary.algorithm) + " is not supported");
    if (primary.revoked) bad(origin, "the key " + hex_upper(primary.fingerprint) + " is revoked");
    // As gpg: the newest valid signing subkey, else the primary key if it may sign.
    const Entry* chosen = nullptr;
    for (std::size_t i = 1; i < keys.size(); ++i) {
      const KeyInfo& k = keys[i].info;
      if (!k.bound || !usable(k) || !k.flags || !(*k.flags & kFlagSign)) continue;
      if (!chosen || k.created > chosen->info.created) chosen = &keys[i];
    }
    if (!chosen && usable(primary) && (!primary.flags || (*primary.flags & kFlagSign))) chosen = &keys.front();
    if (!chosen)
      bad(origin,
          "no key in it may sign (key flags without \"sign\", revoked "
          "or expired): add a signing subkey "
          "(`gpg --quick-add-key FINGERPRINT rsa3072 sign`)");
    const std::string what =
        std::string(chosen == &keys.front() ? "the key " : "the signing subkey ") + hex_upper(chosen->info.fingerprint);
    if (chosen->info.algorithm != kAlgoRsa && chosen->info.algorithm != kAlgoRsaSignOnly)
      bad(origin, what + " is " + algorithm_name(chosen->info.algorithm) +
                      "; cmop signs with RSA only, the one algorithm both Helm "
                      "3 (golang.org/x/crypto/openpgp) and "
                      "Helm 4 verify (`gpg --quick-add-key FINGERPRINT rsa3072 "
                      "sign` adds an RSA signing subkey)");
    auto key = std::shared_ptr<SigningKey>(new SigningKey());
    key->impl_ = std::make_unique<SigningKey::Impl>();
    key->impl_->pkey = rsa_secret(chosen->info, chosen->body, origin, what);
    key->impl_->key_id = key_id_of(chosen->info.fingerprint);
    key->impl_->algorithm = chosen->info.algorithm;
    key->fingerprint_ = hex_upper(chosen->info.fingerprint);
    key->user_id_ = user_id;
    // The decoded key material is wiped before its buffer goes back to the heap.
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return key;
  }
};

std::shared_ptr<const SigningKey> SigningKey::parse(std::string_view key, std::string_view origin) {
  return KeyParser::parse(key, origin);
}

std::shared_ptr<const SigningKey> SigningKey::load(const std::filesystem::path& file) {
  std::string text;
  try {
    text = util::read_file(file);
  } catch (const Error& e) {
    throw Error(Errc::invalid_argument, file.string(), "cannot read the signing key: " + e.reason());
  }
  auto key = parse(text, file.string());
  OPENSSL_cleanse(text.data(), text.size());
  return key;
}

SigningKey::~SigningKey() = default;

std::string SigningKey::describe() const { return fingerprint_ + (user_id_.empty() ? "" : " (" + user_id_ + ")"); }

std::string SigningKey::clearsign(std::string_view text, std::int64_t created) const {
  // The body and the hashed text, as clearsign's dashEscaper builds them: a
  // line's trailing blanks are dropped from both, lines are hashed joined by
  // CRLF (the final line ending not hashed), a '-' starting a line is escaped
  // in the body.
  std::string body = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n";
  std::string hashed;
  std::size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    bool has_nl = nl != std::string_view::npos;
    std::string_view line = text.substr(pos, has_nl ? nl - pos : std::string_view::npos);
    pos = has_nl ? nl + 1 : text.size();
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (!first) hashed += "\r\n";
    first = false;
    if (!line.empty() && line[0] == '-') body += "- ";
    body += line;
    body += '\n';
    hashed += line;
  }

  std::string prefix;
  auto put32 = [](std::string& s, std::uint64_t v) {
    for (int i = 3; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  std::string subpackets;
  subpackets += '\x05';
  subpackets += '\x02';
  put32(subpackets, static_cast<std::uint32_t>(created));
  subpackets += '\x09';
  subpackets += '\x10';
  put32(subpackets, impl_->key_id >> 32);
  put32(subpackets, impl_->key_id & 0xffffffffu);
  prefix += '\x04';
  prefix += '\x01';  // canonical text
  prefix += static_cast<char>(impl_->algorithm);
  prefix += '\x0a';  // SHA-512
  prefix += static_cast<char>(subpackets.size() >> 8);
  prefix += static_cast<char>(subpackets.size() & 0xff);
  prefix += subpackets;
  std::string trailer = "\x04\xff";
  put32(trailer, prefix.size());

  unsigned char digest[SHA512_DIGEST_LENGTH];
  unsigned int digest_len = 0;
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = md && EVP_DigestInit_ex(md, EVP_sha512(), nullptr) == 1 &&
            EVP_DigestUpdate(md, hashed.data(), hashed.size()) == 1 &&
            EVP_DigestUpdate(md, prefix.data(), prefix.size()) == 1 &&
            EVP_DigestUpdate(md, trailer.data(), trailer.size()) == 1 &&
            EVP_DigestFinal_ex(md, digest, &digest_len) == 1;
  EVP_MD_CTX_free(md);
  std::string sig;
  if (ok) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(impl_->pkey, nullptr);
    std::size_t len = 0;
    ok = ctx && EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
         EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha512()) == 1 &&
         EVP_PKEY_sign(ctx, nullptr, &len, digest, digest_len) == 1;
    if (ok) {
      sig.resize(len);
      ok = EVP_PKEY_sign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, digest, digest_len) == 1;
      sig.resize(len);
    }
    EVP_PKEY_CTX_free(ctx);
  }
  if (!ok) throw Error(Errc::internal, "signing key " + fingerprint_, "OpenSSL could not make the RSA signature");

  std::string packet_body = prefix;
  packet_body += '\0';
  packet_body += '\0';  // no unhashed subpackets (x/crypto hashes the issuer too)
  packet_body += static_cast<char>(digest[0]);
  packet_body += static_cast<char>(digest[1]);
  // x/crypto writes the signature's full modulus-length bytes and 8x that as
  // the MPI's bit count, leading zero bytes included.
  std::size_t bits = 8 * sig.size();
  packet_body += static_cast<char>((bits >> 8) & 0xff);
  packet_body += static_cast<char>(bits & 0xff);
  packet_body += sig;
  // A new-format packet header (tag 2), as x/crypto's serializeHeader.
  std::string packet;
  packet += static_cast<char>(0xc0 | kTagSignature);
  std::size_t n = packet_body.size();
  if (n < 192) {
    packet += static_cast<char>(n);
  } else if (n < 8384) {
    n -= 192;
    packet += static_cast<char>((n >> 8) + 192);
    packet += static_cast<char>(n & 0xff);
  } else {
    packet += '\xff';
    put32(packet, n);
  }
  packet += packet_body;
  return body + armor("PGP SIGNATURE", packet);
}

namespace {

struct PublicKey {
  std::uint64_t key_id = 0;
  std::string fingerprint;  // raw
  std::string_view n, e;
  std::string user_id;  // of its primary key
};

const EVP_MD* md_for(unsigned hash_algo) {
  switch (hash_algo) {
    case 2: return EVP_sha1();
    case 8: return EVP_sha256();
    case 9: return EVP_sha384();
    case 10: return EVP_sha512();
    case 11: return EVP_sha224();
    default: return nullptr;
  }
}

bool rsa_verify(std::string_view n, std::string_view e, const EVP_MD* md, const unsigned char* digest,
                std::size_t digest_len, std::string sig) {
  // x/crypto pads the signature to the modulus length; so does this.
  if (sig.size() < n.size()) sig.insert(0, n.size() - sig.size(), '\0');
  auto bn = [](std::string_view v) {
    return BN_bin2bn(reinterpret_cast<const unsigned char*>(v.data()), static_cast<int>(v.size()), nullptr);
  };
  BIGNUM *bn_n = bn(n), *bn_e = bn(e);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  bool ok = bn_n && bn_e && bld && pctx && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) &&
            (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr && EVP_PKEY_fromdata_init(pctx) == 1 &&
            EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX* vctx = ok ? EVP_PKEY_CTX_new(pkey, nullptr) : nullptr;
  ok = ok && vctx && EVP_PKEY_verify_init(vctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(vctx, RSA_PKCS1_PADDING) == 1 &&
       EVP_PKEY_CTX_set_signature_md(vctx, md) == 1 &&
       EVP_PKEY_verify(vctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(), digest, digest_len) == 1;
  EVP_PKEY_CTX_free(vctx);
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(pctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return ok;
}

}  // namespace

ProvenanceCheck verify_provenance(std::string_view prov, std::string_view keyring, std::string_view filename,
                                  std::string_view chart) {
  const std::string origin = std::string(filename) + ".prov";
  auto fail = [&](const std::string& why) -> void { throw Error(Errc::invalid_chart, origin, why); };
  // The keyring: every RSA (sub)key with its primary's first user ID.
  std::string keyring_bytes = dearmor(keyring, "the keyring", "PGP PUBLIC KEY BLOCK");
  std::vector<PublicKey> keys;
  std::string current_uid;
  std::size_t primary_index = 0;
  for (const Packet& p : read_packets(keyring_bytes, "the keyring")) {
    if (p.tag == kTagPublicKey || p.tag == kTagPublicSubkey || p.tag == kTagSecretKey || p.tag == kTagSecretSubkey) {
      KeyInfo k = read_key(p.body, "the keyring");
      if (p.tag == kTagPublicKey || p.tag == kTagSecretKey) {
        current_uid.clear();
        primary_index = keys.size();
      }
      if (!k.public_known || (k.algorithm != kAlgoRsa && k.algorithm != kAlgoRsaSignOnly)) continue;
      Reader r{p.body, 6, "the keyring"};
      PublicKey pk;
      pk.n = r.mpi();
      pk.e = r.mpi();
      pk.fingerprint = k.fingerprint;
      pk.key_id = key_id_of(k.fingerprint);
      keys.push_back(pk);
    } else if (p.tag == kTagUserId && current_uid.empty()) {
      current_uid = std::string(p.body);
      for (std::size_t i = primary_index; i < keys.size(); ++i)
        if (keys[i].user_id.empty()) keys[i].user_id = current_uid;
    }
  }
  for (std::size_t i = primary_index; i < keys.size(); ++i)
    if (keys[i].user_id.empty()) keys[i].user_id = current_uid;

  // The clear-signed text: after the armor headers' blank line, dash-escapes undone.
  const std::string_view head = "-----BEGIN PGP SIGNED MESSAGE-----\n";
  if (prov.substr(0, head.size()) != head) fail("not a clear-signed message");
  auto blank = prov.find("\n\n");
  auto sig_at = prov.find("\n-----BEGIN PGP SIGNATURE-----");
  if (blank == std::string_view::npos || sig_at == std::string_view::npos || sig_at < blank + 1)
    fail("no signed text or no signature");
  std::string_view body = prov.substr(blank + 2, sig_at + 1 - (blank + 2));
  std::string text, hashed;
  bool first = true;
  for (std::size_t pos = 0; pos < body.size();) {
    auto nl = body.find('\n', pos);
    std::string_view line = body.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? body.size() : nl + 1;
    if (line.substr(0, 2) == "- ") line.remove_prefix(2);
    text += std::string(line) + "\n";
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (!first) hashed += "\r\n";
    first = false;
    hashed += line;
  }
  std::string sig_bytes = dearmor(prov.substr(sig_at + 1), origin, "PGP SIGNATURE");
  auto packets = read_packets(sig_bytes, origin);
  if (packets.empty() || packets[0].tag != kTagSignature) fail("no signature packet");
  Reader r{packets[0].body, 0, origin};
  if (r.u8() != 4) fail("only v4 signatures are checked");
  const unsigned type = r.u8(), algo = r.u8(), hash_algo = r.u8();
  if (type != 0x01 && type != 0x00) fail("not a signature of a text");
  if (algo != kAlgoRsa && algo != kAlgoRsaSignOnly) fail("not an RSA signature");
  const EVP_MD* md = md_for(hash_algo);
  if (!md) fail("unsupported hash algorithm " + std::to_string(hash_algo));
  const std::size_t hashed_len = r.u16();
  r.take(hashed_len);
  const std::string_view signed_part = packets[0].body.substr(0, r.pos);
  const std::string_view unhashed = r.take(r.u16());
  r.take(2);  // left 16 bits of the digest
  const std::string sig(r.mpi());
  auto sig_info = read_signature(packets[0].body, origin);
  (void)unhashed;
  if (!sig_info || (!sig_info->issuer && sig_info->issuer_fpr.empty())) fail("the signature names no issuer key");

  std::string trailer = "\x04\xff";
  for (int i = 3; i >= 0; --i) trailer += static_cast<char>((signed_part.size() >> (8 * i)) & 0xff);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      ctx && EVP_DigestInit_ex(ctx, md, nullptr) == 1 && EVP_DigestUpdate(ctx, hashed.data(), hashed.size()) == 1 &&
      EVP_DigestUpdate(ctx, signed_part.data(), signed_part.size()) == 1 &&
      EVP_DigestUpdate(ctx, trailer.data(), trailer.size()) == 1 && EVP_DigestFinal_ex(ctx, digest, &digest_len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw Error(Errc::internal, origin, "OpenSSL could not hash the signed text");

  const PublicKey* signer = nullptr;
  for (const auto& k : keys)
    if ((sig_info->issuer && k.key_id == *sig_info->issuer) ||
        (!sig_info->issuer_fpr.empty() && k.fingerprint == sig_info->issuer_fpr))
      signer = &k;
  if (!signer) fail("signature made by a key that is not in the keyring");
  if (!rsa_verify(signer->n, signer->e, md, digest, digest_len, sig))
    fail("the signature does not match (the text or the signature was changed)");

  // The signed text's sha256 of the archive (Helm's files: block after "...").
  const std::string sha = "sha256:" + util::sha256_hex(chart);
  auto end_marker = text.find("\n...\n");
  if (end_marker == std::string::npos) fail("the signed text has no \"...\" line");
  const std::string want = "\n  " + std::string(filename) + ": ";
  auto at = text.find(want, end_marker);
  if (at == std::string::npos) fail("the signed text has no sha256 for " + std::string(filename));
  auto value_end = text.find('\n', at + want.size());
  std::string value = text.substr(at + want.size(), value_end - at - want.size());
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
  if (value != sha) fail("the package's " + sha + " is not the signed " + value);
  return {hex_upper(signer->fingerprint), signer->user_id, sha};
}

}  // namespace cmop::sign
