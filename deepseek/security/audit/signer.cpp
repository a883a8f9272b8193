#include "deepseek/security/audit/signer.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <nlohmann/json.hpp>

#include "deepseek/core/error.h"
#include "deepseek/security/audit/merkle.h"
#include "deepseek/security/hsm/atomic_file.h"
#include "deepseek/security/hsm/session.h"

namespace deepseek::security::audit {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::vector<std::uint8_t> spki_der(EVP_PKEY* key) {
  int n = i2d_PUBKEY(key, nullptr);
  DS_CHECK(n > 0, "[audit] cannot encode public key");
  std::vector<std::uint8_t> out(static_cast<std::size_t>(n));
  unsigned char* p = out.data();
  i2d_PUBKEY(key, &p);
  return out;
}

// P-256 public key from the uncompressed point 0x04||X||Y.
Pkey p256_from_point(std::span<const std::uint8_t> point) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  DS_CHECK(ok && key, "[audit] the token's EC public key is not a valid P-256 point");
  return Pkey(key);
}

std::vector<std::uint8_t> raw_to_der_sig(std::span<const std::uint8_t> raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
  ECDSA_SIG_set0(sig, r, s);
  int n = i2d_ECDSA_SIG(sig, nullptr);
  std::vector<std::uint8_t> out(n > 0 ? static_cast<std::size_t>(n) : 0);
  unsigned char* p = out.data();
  if (n > 0) i2d_ECDSA_SIG(sig, &p);
  ECDSA_SIG_free(sig);
  return out;
}

std::vector<std::uint8_t> der_to_raw_sig(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  DS_CHECK(sig, "[audit] malformed ECDSA signature");
  std::vector<std::uint8_t> out(64);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), out.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), out.data() + 32, 32);
  ECDSA_SIG_free(sig);
  return out;
}

std::string head_label(const std::string& log_id) { return "deepseek-audit-head:" + log_id; }

}  // namespace

// ---- Pkcs11Notary --------------------------------------------------------------------------

Pkcs11Notary::Pkcs11Notary(std::string_view key_uri) {
  auto uri = hsm::Pkcs11Uri::parse(key_uri);
  uri.type.reset();  // the URI names the pair; we pick the private and public halves
  session_ = hsm::Session::open(uri);
  name_ = uri.to_string();
  private_key_ = session_->find_one(CKO_PRIVATE_KEY, uri);
  DS_CHECK(session_->get_ulong(private_key_, CKA_KEY_TYPE) == CKK_EC, "[audit] signing key ", name_,
           " is not an EC key");
  DS_CHECK(!session_->get_bool(private_key_, CKA_EXTRACTABLE), "[audit] refusing signing key ",
           name_, ": its private half is extractable");
  CK_OBJECT_HANDLE pub = session_->find_one(CKO_PUBLIC_KEY, uri);
  auto point = session_->get_bytes(pub, CKA_EC_POINT);
  DS_CHECK(point, "[audit] public key ", name_, " has no CKA_EC_POINT");
  std::span<const std::uint8_t> p(*point);
  // PKCS#11 says DER OCTET STRING (04 41 04 X Y); some modules return the bare point.
  if (p.size() == 67 && p[0] == 0x04 && p[1] == 0x41) p = p.subspan(2);
  DS_CHECK(p.size() == 65 && p[0] == 0x04, "[audit] signing key ", name_,
           " is not an uncompressed P-256 point (", p.size(), " bytes)");
  public_key_ = spki_der(p256_from_point(p).get());
}

Pkcs11Notary::~Pkcs11Notary() = default;

std::vector<std::uint8_t> Pkcs11Notary::sign(std::span<const std::uint8_t> message) {
  Hash digest = sha256(message);
  CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
  std::lock_guard lock(session_->mutex());
  auto* fn = session_->fn();
  hsm::check_rv(fn->C_SignInit(session_->handle(), &mech, private_key_), "C_SignInit (ECDSA)");
  std::vector<std::uint8_t> sig(64);
  CK_ULONG len = sig.size();
  hsm::check_rv(fn->C_Sign(session_->handle(), digest.data(), digest.size(), sig.data(), &len),
                "C_Sign (ECDSA)");
  DS_CHECK(len == 64, "[audit] ECDSA P-256 signature from the token has ", len, " bytes, not 64");
  return sig;
}

std::optional<std::string> Pkcs11Notary::load(const std::string& log_id) {
  std::string label = head_label(log_id);
  CK_OBJECT_CLASS cls = CKO_DATA;
  auto found = session_->find_template(
      {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, label.data(), label.size()}});
  // Normally one object; two only after a crash inside store(), and then the newer (larger)
  // head is the truth.
  std::optional<std::string> best;
  std::uint64_t best_size = 0;
  for (auto h : found) {
    auto v = session_->get_bytes(h, CKA_VALUE);
    DS_CHECK(v, "[audit] head object for log ", log_id, " has no value");
    std::string text(v->begin(), v->end());
    std::uint64_t size = 0;
    try {
      size = nlohmann::json::parse(text).at("size").get<std::uint64_t>();
    } catch (const std::exception& e) {
      DS_THROW("[audit] head object for log ", log_id, " is corrupt: ", e.what());
    }
    if (!best || size >= best_size) {
      best = text;
      best_size = size;
    }
  }
  return best;
}

void Pkcs11Notary::store(const std::string& log_id, const std::string& head) {
  std::string label = head_label(log_id);
  CK_OBJECT_CLASS cls = CKO_DATA;
  auto old = session_->find_template(
      {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, label.data(), label.size()}});
  // SoftHSM2 keeps CKA_VALUE of data objects read-only, so the head is replaced: the new
  // object is created before the old one is destroyed, so a crash never leaves no head.
  std::lock_guard lock(session_->mutex());
  auto* fn = session_->fn();
  CK_BBOOL t = CK_TRUE;
  std::string app = "deepseek-audit";
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof cls},
      {CKA_TOKEN, &t, 1},
      {CKA_PRIVATE, &t, 1},
      {CKA_LABEL, label.data(), label.size()},
      {CKA_APPLICATION, app.data(), app.size()},
      {CKA_VALUE, const_cast<char*>(head.data()), static_cast<CK_ULONG>(head.size())}};
  CK_OBJECT_HANDLE h;
  hsm::check_rv(fn->C_CreateObject(session_->handle(), tmpl, 6, &h), "C_CreateObject (audit head)");
  for (auto o : old)
    hsm::check_rv(fn->C_DestroyObject(session_->handle(), o), "C_DestroyObject (old audit head)");
}

// ---- InsecureTestNotary --------------------------------------------------------------------

InsecureTestNotary::InsecureTestNotary() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  DS_CHECK(key, "[audit] EC key generation failed");
  key_ = key;
  public_key_ = spki_der(key);
}

InsecureTestNotary::~InsecureTestNotary() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

std::vector<std::uint8_t> InsecureTestNotary::sign(std::span<const std::uint8_t> message) {
  std::lock_guard lock(mutex_);
  MdCtx ctx(EVP_MD_CTX_new());
  std::size_t n = 0;
  DS_CHECK(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                              static_cast<EVP_PKEY*>(key_)) == 1 &&
               EVP_DigestSign(ctx.get(), nullptr, &n, message.data(), message.size()) == 1,
           "[audit] signing failed");
  std::vector<std::uint8_t> der(n);
  DS_CHECK(EVP_DigestSign(ctx.get(), der.data(), &n, message.data(), message.size()) == 1,
           "[audit] signing failed");
  der.resize(n);
  return der_to_raw_sig(der);
}

std::optional<std::string> InsecureTestNotary::load(const std::string& log_id) {
  std::lock_guard lock(mutex_);
  auto it = heads_.find(log_id);
  if (it == heads_.end()) return std::nullopt;
  return it->second;
}

void InsecureTestNotary::store(const std::string& log_id, const std::string& head) {
  std::lock_guard lock(mutex_);
  heads_[log_id] = head;
}

// ---- verification helpers ------------------------------------------------------------------

bool verify_signature(std::span<const std::uint8_t> public_key_der,
                      std::span<const std::uint8_t> message, std::span<const std::uint8_t> sig) {
  if (sig.size() != 64) return false;
  const unsigned char* p = public_key_der.data();
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(public_key_der.size())));
  if (!key) return false;
  auto der = raw_to_der_sig(sig);
  MdCtx ctx(EVP_MD_CTX_new());
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), der.data(), der.size(), message.data(), message.size()) == 1;
}

std::string key_fingerprint(std::span<const std::uint8_t> public_key_der) {
  Hash h = sha256(public_key_der);
  return hsm::to_hex(std::span<const std::uint8_t>(h.data(), 16));
}

std::string public_key_pem(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  DS_CHECK(key, "[audit] invalid public key");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::vector<std::uint8_t> public_key_from_pem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  DS_CHECK(key, "[audit] not a PEM public key");
  Pkey owned(key);
  DS_CHECK(EVP_PKEY_is_a(key, "EC"), "[audit] public key is not an EC key");
  return spki_der(key);
}

}  // namespace deepseek::security::audit
