#include "deepseek/security/hsm/envelope.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "deepseek/core/error.h"
#include "deepseek/security/hsm/atomic_file.h"

namespace deepseek::security::hsm {
namespace {

constexpr char kMagic[8] = {'D', 'S', 'E', 'N', 'V', 'L', 'P', '1'};
constexpr std::size_t kPrefix = 12;  // magic + u32 header length
constexpr std::size_t kTag = 16;
constexpr std::size_t kNonce = 12;
constexpr std::size_t kMaxHeader = 64 * 1024;
constexpr std::size_t kChunk = 1 << 20;
// GCM with one nonce is limited to 2^39 - 256 bits of plaintext.
constexpr std::uint64_t kMaxPlaintext = (std::uint64_t{1} << 36) - 32;

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

struct Header {
  std::vector<std::uint8_t> aad;  // magic + length + header JSON
  std::vector<std::uint8_t> wrapped_key, nonce;
  std::uint64_t plaintext_bytes = 0;
};

Header make_header(const KeyEncryptionKey& kek, std::span<const std::uint8_t> wrapped,
                   std::span<const std::uint8_t> nonce, std::uint64_t n) {
  nlohmann::json j = {
      {"format", "deepseek-envelope"},      {"version", 1},           {"cipher", "AES-256-GCM"},
      {"key_wrap", "CKM_AES_KEY_WRAP_PAD"}, {"kek", kek.name()},      {"kek_id", to_hex(kek.id())},
      {"wrapped_key", to_hex(wrapped)},     {"nonce", to_hex(nonce)}, {"plaintext_bytes", n}};
  std::string text = j.dump();
  Header h;
  h.aad.assign(kMagic, kMagic + 8);
  std::uint32_t len = static_cast<std::uint32_t>(text.size());
  for (int i = 0; i < 4; ++i) h.aad.push_back(static_cast<std::uint8_t>(len >> (8 * i)));
  h.aad.insert(h.aad.end(), text.begin(), text.end());
  h.wrapped_key.assign(wrapped.begin(), wrapped.end());
  h.nonce.assign(nonce.begin(), nonce.end());
  h.plaintext_bytes = n;
  return h;
}

// Parses and validates the prefix+header; `total` is the whole blob/file size.
Header parse_header(std::span<const std::uint8_t> prefix_and_more, std::uint64_t total,
                    const std::string& what) {
  DS_CHECK(total >= kPrefix && std::memcmp(prefix_and_more.data(), kMagic, 8) == 0, "[envelope] ",
           what, " is not a deepseek envelope-encrypted file (bad magic)");
  std::uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len |= std::uint32_t{prefix_and_more[8 + i]} << (8 * i);
  DS_CHECK(len > 0 && len <= kMaxHeader && kPrefix + len <= prefix_and_more.size(), "[envelope] ",
           what, " has a corrupt header length (", len, ")");
  Header h;
  h.aad.assign(prefix_and_more.begin(), prefix_and_more.begin() + kPrefix + len);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(h.aad.begin() + kPrefix, h.aad.end());
    DS_CHECK(j.at("format") == "deepseek-envelope", "[envelope] ", what, ": unknown format");
    DS_CHECK(j.at("version") == 1, "[envelope] ", what, ": unsupported version ",
             j.at("version").dump());
    DS_CHECK(j.at("cipher") == "AES-256-GCM", "[envelope] ", what, ": unsupported cipher");
    DS_CHECK(j.at("key_wrap") == "CKM_AES_KEY_WRAP_PAD", "[envelope] ", what,
             ": unsupported key wrap");
    h.wrapped_key = from_hex(j.at("wrapped_key").get<std::string>(), "wrapped_key");
    h.nonce = from_hex(j.at("nonce").get<std::string>(), "nonce");
    h.plaintext_bytes = j.at("plaintext_bytes").get<std::uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    DS_THROW("[envelope] ", what, " has a corrupt header: ", e.what());
  }
  DS_CHECK(h.nonce.size() == kNonce, "[envelope] ", what, ": nonce must be 12 bytes");
  DS_CHECK(h.plaintext_bytes <= kMaxPlaintext && total == kPrefix + len + h.plaintext_bytes + kTag,
           "[envelope] ", what, " is truncated or has trailing bytes (header says ",
           h.plaintext_bytes, " bytes of data, file holds ", total, " bytes in all)");
  return h;
}

Ctx begin(bool encrypt, const SecretBytes& key, std::span<const std::uint8_t> nonce,
          std::span<const std::uint8_t> aad) {
  Ctx ctx(EVP_CIPHER_CTX_new());
  DS_CHECK(ctx, "[envelope] out of memory");
  auto init = encrypt ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;
  DS_CHECK(init(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
               EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) == 1 &&
               init(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) == 1,
           "[envelope] AES-GCM initialization failed");
  int out = 0;
  auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  DS_CHECK(update(ctx.get(), nullptr, &out, aad.data(), static_cast<int>(aad.size())) == 1,
           "[envelope] AES-GCM AAD failed");
  return ctx;
}

void update(EVP_CIPHER_CTX* ctx, bool encrypt, const std::uint8_t* in, std::size_t n,
            std::uint8_t* out) {
  while (n > 0) {
    int step = static_cast<int>(std::min<std::size_t>(n, kChunk));
    int written = 0;
    int ok = encrypt ? EVP_EncryptUpdate(ctx, out, &written, in, step)
                     : EVP_DecryptUpdate(ctx, out, &written, in, step);
    DS_CHECK(ok == 1 && written == step, "[envelope] AES-GCM update failed");
    in += step;
    out += step;
    n -= static_cast<std::size_t>(step);
  }
}

SecretBytes fresh_data_key() {
  SecretBytes key(32);
  DS_CHECK(RAND_bytes(key.data(), 32) == 1, "[envelope] RAND_bytes failed");
  return key;
}

const char* kAuthFailed =
    "authentication failed: the file is corrupt or was tampered with (GCM tag mismatch)";

}  // namespace

std::vector<std::uint8_t> envelope_encrypt(const KeyEncryptionKey& kek,
                                           std::span<const std::uint8_t> plaintext) {
  DS_CHECK(plaintext.size() <= kMaxPlaintext, "[envelope] input too large for one GCM nonce");
  SecretBytes key = fresh_data_key();
  std::uint8_t nonce[kNonce];
  DS_CHECK(RAND_bytes(nonce, kNonce) == 1, "[envelope] RAND_bytes failed");
  Header h = make_header(kek, kek.wrap(key.span()), nonce, plaintext.size());
  std::vector<std::uint8_t> out(h.aad);
  out.resize(h.aad.size() + plaintext.size() + kTag);
  Ctx ctx = begin(true, key, nonce, h.aad);
  update(ctx.get(), true, plaintext.data(), plaintext.size(), out.data() + h.aad.size());
  int n = 0;
  DS_CHECK(EVP_EncryptFinal_ex(ctx.get(), nullptr, &n) == 1 &&
               EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                                   out.data() + out.size() - kTag) == 1,
           "[envelope] AES-GCM finalization failed");
  return out;
}

std::vector<std::uint8_t> envelope_decrypt(const KeyEncryptionKey& kek,
                                           std::span<const std::uint8_t> blob) {
  Header h = parse_header(blob, blob.size(), "blob");
  SecretBytes key = kek.unwrap(h.wrapped_key);
  DS_CHECK(key.size() == 32, "[envelope] unwrapped data key has ", key.size(), " bytes, not 32");
  std::vector<std::uint8_t> out(h.plaintext_bytes);
  Ctx ctx = begin(false, key, h.nonce, h.aad);
  update(ctx.get(), false, blob.data() + h.aad.size(), out.size(), out.data());
  std::vector<std::uint8_t> tag(blob.end() - kTag, blob.end());
  int n = 0;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), nullptr, &n) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    DS_THROW("[envelope] ", kAuthFailed);
  }
  return out;
}

void envelope_encrypt_file(const KeyEncryptionKey& kek, const std::string& in_path,
                           const std::string& out_path) {
  std::ifstream in(in_path, std::ios::binary | std::ios::ate);
  DS_CHECK(in.good(), "[envelope] cannot open '", in_path, "'");
  std::uint64_t n = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  DS_CHECK(n <= kMaxPlaintext, "[envelope] '", in_path, "' is too large for one GCM nonce");
  SecretBytes key = fresh_data_key();
  std::uint8_t nonce[kNonce];
  DS_CHECK(RAND_bytes(nonce, kNonce) == 1, "[envelope] RAND_bytes failed");
  Header h = make_header(kek, kek.wrap(key.span()), nonce, n);
  AtomicFileWriter w(out_path);
  w.write(h.aad);
  Ctx ctx = begin(true, key, nonce, h.aad);
  std::vector<std::uint8_t> buf(kChunk), enc(kChunk);
  std::uint64_t done = 0;
  while (done < n) {
    std::size_t step = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, n - done));
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(step));
    DS_CHECK(in.gcount() == static_cast<std::streamsize>(step), "[envelope] '", in_path,
             "' changed size while being encrypted");
    update(ctx.get(), true, buf.data(), step, enc.data());
    w.write(enc.data(), step);
    done += step;
  }
  std::uint8_t tag[kTag];
  int m = 0;
  DS_CHECK(EVP_EncryptFinal_ex(ctx.get(), nullptr, &m) == 1 &&
               EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, tag) == 1,
           "[envelope] AES-GCM finalization failed");
  w.write(tag, kTag);
  w.commit();
}

void envelope_decrypt_file(const KeyEncryptionKey& kek, const std::string& in_path,
                           const std::string& out_path) {
  std::ifstream in(in_path, std::ios::binary | std::ios::ate);
  DS_CHECK(in.good(), "[envelope] cannot open '", in_path, "'");
  std::uint64_t total = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  std::vector<std::uint8_t> head(
      static_cast<std::size_t>(std::min<std::uint64_t>(total, kPrefix + kMaxHeader)));
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  Header h = parse_header(head, total, "'" + in_path + "'");
  SecretBytes key = kek.unwrap(h.wrapped_key);
  DS_CHECK(key.size() == 32, "[envelope] unwrapped data key has ", key.size(), " bytes, not 32");
  in.clear();
  in.seekg(static_cast<std::streamoff>(h.aad.size()));
  AtomicFileWriter w(out_path);  // discarded (temp removed) unless the tag verifies
  Ctx ctx = begin(false, key, h.nonce, h.aad);
  std::vector<std::uint8_t> buf(kChunk), dec(kChunk);
  std::uint64_t done = 0;
  while (done < h.plaintext_bytes) {
    std::size_t step =
        static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, h.plaintext_bytes - done));
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(step));
    DS_CHECK(in.gcount() == static_cast<std::streamsize>(step), "[envelope] '", in_path,
             "' is truncated");
    update(ctx.get(), false, buf.data(), step, dec.data());
    w.write(dec.data(), step);
    done += step;
  }
  OPENSSL_cleanse(dec.data(), dec.size());
  std::uint8_t tag[kTag];
  in.read(reinterpret_cast<char*>(tag), kTag);
  DS_CHECK(in.gcount() == static_cast<std::streamsize>(kTag), "[envelope] '", in_path,
           "' is truncated");
  int m = 0;
  DS_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag) == 1 &&
               EVP_DecryptFinal_ex(ctx.get(), nullptr, &m) == 1,
           "[envelope] '", in_path, "': ", kAuthFailed);
  w.commit();
}

bool is_envelope_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in.gcount() == 8 && std::memcmp(magic, kMagic, 8) == 0;
}

}  // namespace deepseek::security::hsm
