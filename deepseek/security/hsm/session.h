// Session: a logged-in read/write session on the PKCS#11 token a `pkcs11:` URI names, with
// the few object operations the rest of security/ needs (find by label/id/class, read
// attributes, generate the framework's keys, initialize a fresh token). A PKCS#11 session
// must not run two operations at once, so every operation takes the session's mutex; open
// one Session per thread if calls must run in parallel.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "deepseek/security/hsm/module.h"
#include "deepseek/security/hsm/pkcs11_uri.h"

namespace deepseek::security::hsm {

class Session {
 public:
  // Finds the one token matching the URI's token/serial/manufacturer/model/slot-id, opens a
  // R/W session and logs in as user with the URI's PIN (if any). Errors name the URI (PIN
  // redacted) and list the tokens that are present when none matches.
  static std::shared_ptr<Session> open(const Pkcs11Uri& uri);
  static std::shared_ptr<Session> open(std::string_view uri) { return open(Pkcs11Uri::parse(uri)); }
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_FUNCTION_LIST* fn() const { return module_->fn(); }
  CK_SESSION_HANDLE handle() const { return session_; }
  std::mutex& mutex() const { return mutex_; }
  const std::string& token_label() const { return token_label_; }
  const Pkcs11Uri& uri() const { return uri_; }

  // Objects matching class + the URI's object= and id= (either may be absent, not both).
  std::vector<CK_OBJECT_HANDLE> find(CK_OBJECT_CLASS cls, const Pkcs11Uri& uri) const;
  // Exactly one object or a clear Error ("no private key 'audit' in token 'x'" / "2 keys match").
  CK_OBJECT_HANDLE find_one(CK_OBJECT_CLASS cls, const Pkcs11Uri& uri) const;
  std::vector<CK_OBJECT_HANDLE> find_template(std::vector<CK_ATTRIBUTE> tmpl) const;

  bool get_bool(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) const;
  CK_ULONG get_ulong(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) const;
  // nullopt when the attribute is absent or sensitive.
  std::optional<std::vector<std::uint8_t>> get_bytes(CK_OBJECT_HANDLE obj,
                                                     CK_ATTRIBUTE_TYPE type) const;

  void destroy(CK_OBJECT_HANDLE obj) const;

  // Provisioning. The KEK is an AES-256 token key that can only wrap/unwrap and is created
  // sensitive and non-extractable, so CKA_NEVER_EXTRACTABLE becomes true. The signing key
  // is an EC P-256 pair whose private half is likewise non-extractable.
  CK_OBJECT_HANDLE generate_aes_kek(const std::string& label,
                                    const std::vector<std::uint8_t>& id) const;
  void generate_ec_p256_keypair(const std::string& label,
                                const std::vector<std::uint8_t>& id) const;

  // Initializes a token in the first free slot with `label`, sets the SO and user PINs.
  // For tests, benchmarks and first-time set-up (`deepseek hsm init-token`).
  static void init_token(const std::string& module_path, const std::string& label,
                         const std::string& so_pin, const std::string& user_pin);

 private:
  Session(std::shared_ptr<Module> m, CK_SLOT_ID slot, CK_SESSION_HANDLE s, std::string label,
          Pkcs11Uri uri);
  std::shared_ptr<Module> module_;
  CK_SLOT_ID slot_;
  CK_SESSION_HANDLE session_;
  std::string token_label_;
  Pkcs11Uri uri_;
  mutable std::mutex mutex_;
};

// Space-padded fixed-width CK_UTF8CHAR fields (labels, serials) as trimmed strings.
std::string trim_padded(const unsigned char* field, std::size_t width);

}  // namespace deepseek::security::hsm
