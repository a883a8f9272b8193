// Envelope encryption of checkpoints and data files: each file gets a fresh random AES-256
// data key; the bulk data is encrypted with AES-256-GCM by OpenSSL, and only the data key is
// sent to the HSM, wrapped by the token's KEK (CKM_AES_KEY_WRAP_PAD). Rotating the KEK thus
// rewraps a few bytes per file, and the HSM never sees the data.
//
// File format (version 1):
//   magic   "DSENVLP1"                     8 bytes
//   hlen    little-endian u32              4 bytes, the header's length (<= 64 KiB)
//   header  JSON: format, version, cipher, key_wrap, kek (URI without PIN), kek_id,
//           wrapped_key, nonce (96-bit), plaintext_bytes
//   body    AES-256-GCM ciphertext        plaintext_bytes
//   tag     GCM tag                        16 bytes
// The magic, length and header are the GCM additional authenticated data, so changing any
// header byte (the version, the claimed size) makes decryption fail like a changed body does.
// Decryption writes to a temporary file and renames it only after the tag verified, so a
// tampered file never yields a partially written plaintext.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "deepseek/security/hsm/kek.h"

namespace deepseek::security::hsm {

std::vector<std::uint8_t> envelope_encrypt(const KeyEncryptionKey& kek,
                                           std::span<const std::uint8_t> plaintext);
// Throws deepseek::Error "[envelope] ..." on a foreign, truncated or modified blob, or when the
// KEK is not the one it was encrypted under.
std::vector<std::uint8_t> envelope_decrypt(const KeyEncryptionKey& kek,
                                           std::span<const std::uint8_t> blob);

// Streaming file variants (constant memory); outputs are written atomically.
void envelope_encrypt_file(const KeyEncryptionKey& kek, const std::string& in_path,
                           const std::string& out_path);
void envelope_decrypt_file(const KeyEncryptionKey& kek, const std::string& in_path,
                           const std::string& out_path);

// True when the file starts with the envelope magic (for loaders that accept both).
bool is_envelope_file(const std::string& path);

}  // namespace deepseek::security::hsm
