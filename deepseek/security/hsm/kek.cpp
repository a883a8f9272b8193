#include "deepseek/security/hsm/kek.h"

#include "deepseek/core/error.h"

namespace deepseek::security::hsm {
namespace {

CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;

// Destroys a session object on scope exit, so an exception between create and wrap cannot
// leave a copy of the secret inside the token's session storage.
struct ObjectGuard {
  const Session& s;
  CK_OBJECT_HANDLE h;
  ~ObjectGuard() {
    if (h != CK_INVALID_HANDLE) s.fn()->C_DestroyObject(s.handle(), h);
  }
};

std::mutex& observer_mutex() {
  static std::mutex m;
  return m;
}
KeyUseObserver& observer() {
  static KeyUseObserver o;
  return o;
}

void notify(std::string_view op, const std::string& key) {
  KeyUseObserver o;
  {
    std::lock_guard lock(observer_mutex());
    o = observer();
  }
  if (o) o(op, key);
}

}  // namespace

void set_key_use_observer(KeyUseObserver o) {
  std::lock_guard lock(observer_mutex());
  observer() = std::move(o);
}

KeyEncryptionKey KeyEncryptionKey::open(std::string_view uri) {
  auto parsed = Pkcs11Uri::parse(uri);
  return open(Session::open(parsed), parsed);
}

KeyEncryptionKey KeyEncryptionKey::open(std::shared_ptr<Session> session, const Pkcs11Uri& uri) {
  DS_CHECK(!uri.type || *uri.type == "secret-key",
           "[hsm] KEK URI must name a secret-key, got type=", *uri.type);
  CK_OBJECT_HANDLE h = session->find_one(CKO_SECRET_KEY, uri);
  const std::string name = uri.to_string();
  DS_CHECK(session->get_ulong(h, CKA_KEY_TYPE) == CKK_AES, "[hsm] KEK ", name,
           " is not an AES key");
  DS_CHECK(session->get_ulong(h, CKA_VALUE_LEN) == 32, "[hsm] KEK ", name,
           " is not 256 bits long (CKA_VALUE_LEN = ", session->get_ulong(h, CKA_VALUE_LEN),
           " bytes)");
  // The startup assertion the design asks for: a KEK that was ever extractable is refused.
  DS_CHECK(session->get_bool(h, CKA_NEVER_EXTRACTABLE), "[hsm] refusing KEK ", name,
           ": CKA_NEVER_EXTRACTABLE is false (the key was extractable at some point, so a copy "
           "may exist outside the token)");
  DS_CHECK(!session->get_bool(h, CKA_EXTRACTABLE), "[hsm] refusing KEK ", name,
           ": it is extractable");
  DS_CHECK(session->get_bool(h, CKA_SENSITIVE), "[hsm] refusing KEK ", name,
           ": it is not sensitive");
  DS_CHECK(session->get_bool(h, CKA_WRAP) && session->get_bool(h, CKA_UNWRAP), "[hsm] KEK ", name,
           " is not allowed to wrap and unwrap (CKA_WRAP/CKA_UNWRAP)");
  auto id = session->get_bytes(h, CKA_ID).value_or(std::vector<std::uint8_t>{});
  auto label_bytes = session->get_bytes(h, CKA_LABEL).value_or(std::vector<std::uint8_t>{});
  return KeyEncryptionKey(std::move(session), h, name, std::move(id),
                          std::string(label_bytes.begin(), label_bytes.end()));
}

std::vector<std::uint8_t> KeyEncryptionKey::wrap(std::span<const std::uint8_t> secret) const {
  DS_CHECK(!secret.empty() && secret.size() <= 4096, "[hsm] can wrap 1..4096 bytes, got ",
           secret.size());
  // SoftHSM2 2.6 returns the RFC 5649 zero padding along with the key on unwrap, so the exact
  // length travels inside the wrapped payload: 4-byte big-endian length, then the secret.
  SecretBytes framed(secret.size() + 4);
  for (int i = 0; i < 4; ++i)
    framed.data()[i] = static_cast<std::uint8_t>(secret.size() >> (24 - 8 * i));
  std::copy(secret.begin(), secret.end(), framed.data() + 4);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
  CK_ATTRIBUTE t[] = {
      {CKA_CLASS, &cls, sizeof cls},
      {CKA_KEY_TYPE, &kt, sizeof kt},
      {CKA_TOKEN, &kFalse, 1},
      {CKA_EXTRACTABLE, &kTrue, 1},
      {CKA_SENSITIVE, &kTrue, 1},
      {CKA_VALUE, framed.data(), static_cast<CK_ULONG>(framed.size())},
  };
  std::lock_guard lock(session_->mutex());
  auto* fn = session_->fn();
  ObjectGuard obj{*session_, CK_INVALID_HANDLE};
  check_rv(fn->C_CreateObject(session_->handle(), t, 6, &obj.h), "C_CreateObject (secret to wrap)");
  CK_MECHANISM mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_ULONG len = 0;
  check_rv(fn->C_WrapKey(session_->handle(), &mech, key_, obj.h, nullptr, &len), "C_WrapKey");
  std::vector<std::uint8_t> out(len);
  check_rv(fn->C_WrapKey(session_->handle(), &mech, key_, obj.h, out.data(), &len), "C_WrapKey");
  out.resize(len);
  notify("wrap", name_);
  return out;
}

SecretBytes KeyEncryptionKey::unwrap(std::span<const std::uint8_t> wrapped) const {
  DS_CHECK(wrapped.size() >= 16 && wrapped.size() % 8 == 0 && wrapped.size() <= 4096 + 24,
           "[hsm] wrapped key has an impossible length (", wrapped.size(),
           " bytes; AES key wrap output is a multiple of 8, at least 16)");
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
  // Unwrapped as a non-sensitive session object only so its value can be read into our
  // zeroizing buffer; the object is destroyed immediately after.
  CK_ATTRIBUTE t[] = {
      {CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt}, {CKA_TOKEN, &kFalse, 1},
      {CKA_SENSITIVE, &kFalse, 1},   {CKA_EXTRACTABLE, &kTrue, 1},
  };
  std::lock_guard lock(session_->mutex());
  auto* fn = session_->fn();
  CK_MECHANISM mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  ObjectGuard obj{*session_, CK_INVALID_HANDLE};
  CK_RV rv =
      fn->C_UnwrapKey(session_->handle(), &mech, key_, const_cast<std::uint8_t*>(wrapped.data()),
                      wrapped.size(), t, 5, &obj.h);
  if (rv != CKR_OK) {
    obj.h = CK_INVALID_HANDLE;
    DS_THROW("[hsm] unwrap with KEK ", name_, " failed: ", rv_name(rv),
             " (the blob was wrapped by a different key, or it was modified)");
  }
  CK_ATTRIBUTE a{CKA_VALUE, nullptr, 0};
  check_rv(fn->C_GetAttributeValue(session_->handle(), obj.h, &a, 1),
           "C_GetAttributeValue (unwrapped)");
  SecretBytes out(a.ulValueLen);
  a.pValue = out.data();
  check_rv(fn->C_GetAttributeValue(session_->handle(), obj.h, &a, 1),
           "C_GetAttributeValue (unwrapped)");
  out.resize_down(a.ulValueLen);
  DS_CHECK(out.size() >= 4, "[hsm] unwrapped payload is too short");
  std::size_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | out.data()[i];
  DS_CHECK(n >= 1 && n + 4 <= out.size() && out.size() - (n + 4) < 8,
           "[hsm] unwrapped payload has a bad length frame (not wrapped by deepseek)");
  SecretBytes secret(out.data() + 4, n);
  notify("unwrap", name_);
  return secret;
}

}  // namespace deepseek::security::hsm
