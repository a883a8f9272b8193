#include "deepseek/security/hsm/session.h"

#include <algorithm>
#include <cstring>

#include "deepseek/core/error.h"

namespace deepseek::security::hsm {
namespace {

CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;

CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE t, const void* p, std::size_t n) {
  return CK_ATTRIBUTE{t, const_cast<void*>(p), static_cast<CK_ULONG>(n)};
}

std::vector<CK_SLOT_ID> slot_list(CK_FUNCTION_LIST* fn, bool token_present) {
  CK_ULONG n = 0;
  check_rv(fn->C_GetSlotList(token_present, nullptr, &n), "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(n);
  check_rv(fn->C_GetSlotList(token_present, slots.data(), &n), "C_GetSlotList");
  slots.resize(n);
  return slots;
}

const char* class_name(CK_OBJECT_CLASS cls) {
  switch (cls) {
    case CKO_SECRET_KEY:
      return "secret key";
    case CKO_PRIVATE_KEY:
      return "private key";
    case CKO_PUBLIC_KEY:
      return "public key";
    case CKO_DATA:
      return "data object";
    case CKO_CERTIFICATE:
      return "certificate";
    default:
      return "object";
  }
}

}  // namespace

std::string trim_padded(const unsigned char* field, std::size_t width) {
  std::string s(reinterpret_cast<const char*>(field), width);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

std::shared_ptr<Session> Session::open(const Pkcs11Uri& uri) {
  auto module = Module::load(uri.resolve_module());
  CK_FUNCTION_LIST* fn = module->fn();
  std::vector<CK_SLOT_ID> matches;
  std::vector<std::string> present;
  std::string label;
  for (CK_SLOT_ID slot : slot_list(fn, true)) {
    CK_TOKEN_INFO info;
    if (fn->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if (!(info.flags & CKF_TOKEN_INITIALIZED)) continue;
    std::string l = trim_padded(info.label, sizeof info.label);
    present.push_back(l);
    if (uri.slot_id && *uri.slot_id != slot) continue;
    if (uri.token && *uri.token != l) continue;
    if (uri.serial && *uri.serial != trim_padded(info.serialNumber, sizeof info.serialNumber))
      continue;
    if (uri.manufacturer &&
        *uri.manufacturer != trim_padded(info.manufacturerID, sizeof info.manufacturerID))
      continue;
    if (uri.model && *uri.model != trim_padded(info.model, sizeof info.model)) continue;
    matches.push_back(slot);
    label = l;
  }
  if (matches.empty()) {
    std::string list;
    for (auto& p : present) list += (list.empty() ? "'" : ", '") + p + "'";
    DS_THROW("[hsm] no token matches ", uri.to_string(), " in module ", module->path(),
             "; tokens present: ", list.empty() ? "none" : list);
  }
  DS_CHECK(matches.size() == 1, "[hsm] ", matches.size(), " tokens match ", uri.to_string(),
           "; add serial= or slot-id= to pick one");

  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  check_rv(fn->C_OpenSession(matches[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s),
           "C_OpenSession");
  std::shared_ptr<Session> session(new Session(module, matches[0], s, label, uri));
  if (auto pin = uri.resolve_pin()) {
    CK_RV rv = fn->C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(pin->data()), pin->size());
    std::fill(pin->begin(), pin->end(), '\0');
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      DS_THROW("[hsm] login to token '", label, "' failed: ", rv_name(rv),
               rv == CKR_PIN_INCORRECT ? " (wrong PIN)" : "");
    }
  }
  return session;
}

Session::Session(std::shared_ptr<Module> m, CK_SLOT_ID slot, CK_SESSION_HANDLE s, std::string label,
                 Pkcs11Uri uri)
    : module_(std::move(m)),
      slot_(slot),
      session_(s),
      token_label_(std::move(label)),
      uri_(std::move(uri)) {
  uri_.pin_value.reset();  // the PIN is not kept around once used
}

Session::~Session() { module_->fn()->C_CloseSession(session_); }

std::vector<CK_OBJECT_HANDLE> Session::find_template(std::vector<CK_ATTRIBUTE> tmpl) const {
  std::lock_guard lock(mutex_);
  check_rv(fn()->C_FindObjectsInit(session_, tmpl.data(), tmpl.size()), "C_FindObjectsInit");
  std::vector<CK_OBJECT_HANDLE> out;
  CK_OBJECT_HANDLE buf[16];
  CK_ULONG n = 0;
  CK_RV rv;
  while ((rv = fn()->C_FindObjects(session_, buf, 16, &n)) == CKR_OK && n > 0)
    out.insert(out.end(), buf, buf + n);
  fn()->C_FindObjectsFinal(session_);
  check_rv(rv, "C_FindObjects");
  return out;
}

std::vector<CK_OBJECT_HANDLE> Session::find(CK_OBJECT_CLASS cls, const Pkcs11Uri& uri) const {
  DS_CHECK(uri.object || uri.id, "[hsm] ", uri.to_string(),
           " names no object: add object=<label> or id=<bytes>");
  std::vector<CK_ATTRIBUTE> tmpl{attr(CKA_CLASS, &cls, sizeof cls)};
  if (uri.object) tmpl.push_back(attr(CKA_LABEL, uri.object->data(), uri.object->size()));
  if (uri.id) tmpl.push_back(attr(CKA_ID, uri.id->data(), uri.id->size()));
  return find_template(std::move(tmpl));
}

CK_OBJECT_HANDLE Session::find_one(CK_OBJECT_CLASS cls, const Pkcs11Uri& uri) const {
  auto found = find(cls, uri);
  DS_CHECK(!found.empty(), "[hsm] no ", class_name(cls), " matching ", uri.to_string(),
           " in token '", token_label_, "'",
           uri.resolve_pin() ? "" : " (no PIN given: private objects are invisible until login)");
  DS_CHECK(found.size() == 1, "[hsm] ", found.size(), " ", class_name(cls), "s match ",
           uri.to_string(), " in token '", token_label_, "'; add id= to pick one");
  return found[0];
}

bool Session::get_bool(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) const {
  CK_BBOOL v = CK_FALSE;
  CK_ATTRIBUTE a = attr(type, &v, sizeof v);
  std::lock_guard lock(mutex_);
  check_rv(fn()->C_GetAttributeValue(session_, obj, &a, 1), "C_GetAttributeValue");
  return v == CK_TRUE;
}

CK_ULONG Session::get_ulong(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) const {
  CK_ULONG v = 0;
  CK_ATTRIBUTE a = attr(type, &v, sizeof v);
  std::lock_guard lock(mutex_);
  check_rv(fn()->C_GetAttributeValue(session_, obj, &a, 1), "C_GetAttributeValue");
  return v;
}

std::optional<std::vector<std::uint8_t>> Session::get_bytes(CK_OBJECT_HANDLE obj,
                                                            CK_ATTRIBUTE_TYPE type) const {
  std::lock_guard lock(mutex_);
  CK_ATTRIBUTE a = attr(type, nullptr, 0);
  CK_RV rv = fn()->C_GetAttributeValue(session_, obj, &a, 1);
  if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
      a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
    return std::nullopt;
  check_rv(rv, "C_GetAttributeValue");
  std::vector<std::uint8_t> out(a.ulValueLen);
  a.pValue = out.data();
  check_rv(fn()->C_GetAttributeValue(session_, obj, &a, 1), "C_GetAttributeValue");
  out.resize(a.ulValueLen);
  return out;
}

void Session::destroy(CK_OBJECT_HANDLE obj) const {
  std::lock_guard lock(mutex_);
  check_rv(fn()->C_DestroyObject(session_, obj), "C_DestroyObject");
}

CK_OBJECT_HANDLE Session::generate_aes_kek(const std::string& label,
                                           const std::vector<std::uint8_t>& id) const {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_ULONG len = 32;
  std::vector<CK_ATTRIBUTE> t{attr(CKA_CLASS, &cls, sizeof cls),
                              attr(CKA_KEY_TYPE, &kt, sizeof kt),
                              attr(CKA_VALUE_LEN, &len, sizeof len),
                              attr(CKA_TOKEN, &kTrue, 1),
                              attr(CKA_PRIVATE, &kTrue, 1),
                              attr(CKA_SENSITIVE, &kTrue, 1),
                              attr(CKA_EXTRACTABLE, &kFalse, 1),
                              attr(CKA_WRAP, &kTrue, 1),
                              attr(CKA_UNWRAP, &kTrue, 1),
                              attr(CKA_ENCRYPT, &kFalse, 1),
                              attr(CKA_DECRYPT, &kFalse, 1),
                              attr(CKA_SIGN, &kFalse, 1),
                              attr(CKA_LABEL, label.data(), label.size()),
                              attr(CKA_ID, id.data(), id.size())};
  CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  std::lock_guard lock(mutex_);
  check_rv(fn()->C_GenerateKey(session_, &mech, t.data(), t.size(), &key),
           "C_GenerateKey (AES KEK)");
  return key;
}

void Session::generate_ec_p256_keypair(const std::string& label,
                                       const std::vector<std::uint8_t>& id) const {
  // DER of OID 1.2.840.10045.3.1.7 (prime256v1).
  static const std::uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  std::vector<CK_ATTRIBUTE> pub{attr(CKA_EC_PARAMS, p256, sizeof p256),
                                attr(CKA_TOKEN, &kTrue, 1),
                                attr(CKA_VERIFY, &kTrue, 1),
                                attr(CKA_PRIVATE, &kFalse, 1),
                                attr(CKA_LABEL, label.data(), label.size()),
                                attr(CKA_ID, id.data(), id.size())};
  std::vector<CK_ATTRIBUTE> priv{
      attr(CKA_TOKEN, &kTrue, 1),        attr(CKA_PRIVATE, &kTrue, 1),
      attr(CKA_SENSITIVE, &kTrue, 1),    attr(CKA_EXTRACTABLE, &kFalse, 1),
      attr(CKA_SIGN, &kTrue, 1),         attr(CKA_LABEL, label.data(), label.size()),
      attr(CKA_ID, id.data(), id.size())};
  CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE hpub, hpriv;
  std::lock_guard lock(mutex_);
  check_rv(fn()->C_GenerateKeyPair(session_, &mech, pub.data(), pub.size(), priv.data(),
                                   priv.size(), &hpub, &hpriv),
           "C_GenerateKeyPair (EC P-256)");
}

void Session::init_token(const std::string& module_path, const std::string& label,
                         const std::string& so_pin, const std::string& user_pin) {
  DS_CHECK(!label.empty() && label.size() <= 32, "[hsm] token label must be 1..32 bytes, got '",
           label, "'");
  auto module = Module::load(module_path);
  CK_FUNCTION_LIST* fn = module->fn();
  std::optional<CK_SLOT_ID> free_slot;
  for (CK_SLOT_ID slot : slot_list(fn, true)) {
    CK_TOKEN_INFO info;
    if (fn->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    DS_CHECK(!(info.flags & CKF_TOKEN_INITIALIZED) ||
                 trim_padded(info.label, sizeof info.label) != label,
             "[hsm] a token labelled '", label, "' already exists");
    if (!(info.flags & CKF_TOKEN_INITIALIZED) && !free_slot) free_slot = slot;
  }
  DS_CHECK(free_slot, "[hsm] no free slot to initialize a token in ", module_path);
  unsigned char padded[32];
  std::memset(padded, ' ', sizeof padded);
  std::memcpy(padded, label.data(), label.size());
  check_rv(
      fn->C_InitToken(*free_slot, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(so_pin.data())),
                      so_pin.size(), padded),
      "C_InitToken");
  // SoftHSM2 moves an initialized token to a new slot id: look it up again by label.
  std::optional<CK_SLOT_ID> slot;
  for (CK_SLOT_ID s : slot_list(fn, true)) {
    CK_TOKEN_INFO info;
    if (fn->C_GetTokenInfo(s, &info) == CKR_OK && (info.flags & CKF_TOKEN_INITIALIZED) &&
        trim_padded(info.label, sizeof info.label) == label)
      slot = s;
  }
  DS_CHECK(slot, "[hsm] token '", label, "' vanished after C_InitToken");
  CK_SESSION_HANDLE s;
  check_rv(fn->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s),
           "C_OpenSession");
  CK_RV rv = fn->C_Login(
      s, CKU_SO, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(so_pin.data())), so_pin.size());
  if (rv == CKR_OK)
    rv = fn->C_InitPIN(s, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(user_pin.data())),
                       user_pin.size());
  fn->C_Logout(s);
  fn->C_CloseSession(s);
  check_rv(rv, "C_InitPIN");
}

}  // namespace deepseek::security::hsm
