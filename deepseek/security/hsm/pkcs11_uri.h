// RFC 7512 `pkcs11:` URIs: how every key the framework uses is named, e.g.
//   pkcs11:token=deepseek;object=kek;type=secret-key?pin-source=/run/secrets/pin&module-path=/usr/lib/softhsm/libsofthsm2.so
// Path attributes (before '?', ';'-separated) select the token and the object; query
// attributes (after '?', '&'-separated) say how to reach it (module, PIN). Values are
// percent-decoded. Unknown standard-looking attributes and duplicates are rejected rather than
// ignored, because a typo silently ignored would make the URI match a different key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deepseek::security::hsm {

struct Pkcs11Uri {
  // Path attributes (all optional; absent = matches anything).
  std::optional<std::string> token;             // CK_TOKEN_INFO.label
  std::optional<std::string> manufacturer;      // CK_TOKEN_INFO.manufacturerID
  std::optional<std::string> serial;            // CK_TOKEN_INFO.serialNumber
  std::optional<std::string> model;             // CK_TOKEN_INFO.model
  std::optional<unsigned long> slot_id;         // slot-id
  std::optional<std::string> object;            // CKA_LABEL
  std::optional<std::vector<std::uint8_t>> id;  // CKA_ID (raw bytes)
  std::optional<std::string> type;              // public | private | cert | secret-key | data
  std::map<std::string, std::string> vendor;    // x-* attributes, kept but unused

  // Query attributes.
  std::optional<std::string> pin_value;
  std::optional<std::string> pin_source;  // a file path or file: URI holding the PIN
  std::optional<std::string> module_path;
  std::optional<std::string> module_name;

  // Throws deepseek::Error naming the offending attribute on any malformed input.
  static Pkcs11Uri parse(std::string_view uri);

  // Canonical form with percent-encoding; pin-value is replaced by "***" unless asked, so
  // URIs can go into logs and file headers without leaking the PIN.
  std::string to_string(bool include_pin_value = false) const;

  // The PIN from pin-value, else from pin-source (first line of the file), else from the
  // environment variable DEEPSEEK_PKCS11_PIN; nullopt when none is given.
  std::optional<std::string> resolve_pin() const;

  // module-path, else $DEEPSEEK_PKCS11_MODULE, else the Debian SoftHSM2 module.
  std::string resolve_module() const;
};

// Percent-decoding (RFC 3986) that rejects truncated or non-hex escapes.
std::string percent_decode(std::string_view s, std::string_view what);
// Encodes every byte outside RFC 7512's pchar set.
std::string percent_encode(std::string_view s);

}  // namespace deepseek::security::hsm
