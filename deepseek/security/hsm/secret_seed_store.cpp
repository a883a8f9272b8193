#include "deepseek/security/hsm/secret_seed_store.h"

#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "deepseek/core/error.h"
#include "deepseek/security/hsm/atomic_file.h"

namespace deepseek::security::hsm {

std::string WrappedSeed::to_json() const {
  nlohmann::json j = {{"format", "deepseek-wrapped-seed"},
                      {"version", 1},
                      {"purpose", purpose},
                      {"key_wrap", "CKM_AES_KEY_WRAP_PAD"},
                      {"kek", kek},
                      {"kek_id", to_hex(kek_id)},
                      {"wrapped", to_hex(blob)}};
  return j.dump(2) + "\n";
}

WrappedSeed WrappedSeed::from_json(std::string_view text) {
  WrappedSeed w;
  try {
    auto j = nlohmann::json::parse(text);
    DS_CHECK(j.at("format") == "deepseek-wrapped-seed", "[seed] not a wrapped-seed file");
    DS_CHECK(j.at("version") == 1, "[seed] unsupported wrapped-seed version ",
             j.at("version").dump());
    DS_CHECK(j.at("key_wrap") == "CKM_AES_KEY_WRAP_PAD", "[seed] unsupported key wrap");
    w.purpose = j.at("purpose").get<std::string>();
    w.kek = j.at("kek").get<std::string>();
    w.kek_id = from_hex(j.at("kek_id").get<std::string>(), "kek_id");
    w.blob = from_hex(j.at("wrapped").get<std::string>(), "wrapped");
  } catch (const nlohmann::json::exception& e) {
    DS_THROW("[seed] corrupt wrapped-seed file: ", e.what());
  }
  DS_CHECK(w.blob.size() >= 16 && w.blob.size() % 8 == 0,
           "[seed] wrapped seed has impossible length ", w.blob.size());
  return w;
}

SecretSeedStore::SecretSeedStore(std::string_view kek_uri)
    : kek_(KeyEncryptionKey::open(kek_uri)) {}

WrappedSeed SecretSeedStore::seal(std::span<const std::uint8_t> seed, std::string purpose) const {
  WrappedSeed w;
  w.purpose = std::move(purpose);
  w.kek = kek_.name();
  w.kek_id = kek_.id();
  w.blob = kek_.wrap(seed);
  return w;
}

WrappedSeed SecretSeedStore::generate(std::size_t bytes, std::string purpose) const {
  DS_CHECK(bytes >= 16 && bytes <= 4096, "[seed] seed size must be 16..4096 bytes, got ", bytes);
  SecretBytes seed(bytes);
  DS_CHECK(RAND_bytes(seed.data(), static_cast<int>(bytes)) == 1, "[seed] RAND_bytes failed");
  return seal(seed.span(), std::move(purpose));
}

SecretBytes SecretSeedStore::unseal(const WrappedSeed& w, std::string_view expected_purpose) const {
  DS_CHECK(expected_purpose.empty() || w.purpose == expected_purpose, "[seed] seed is for '",
           w.purpose, "', expected '", expected_purpose, "'");
  DS_CHECK(w.kek_id.empty() || kek_.id().empty() || w.kek_id == kek_.id(),
           "[seed] seed was wrapped by KEK id ", to_hex(w.kek_id), " (", w.kek, "), not by ",
           kek_.name(), " (id ", to_hex(kek_.id()), ")");
  return kek_.unwrap(w.blob);
}

void SecretSeedStore::save(const std::string& path, const WrappedSeed& w) {
  std::string text = w.to_json();
  write_file_atomic(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

WrappedSeed SecretSeedStore::load(const std::string& path) {
  auto bytes = read_whole_file(path);
  return WrappedSeed::from_json({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

}  // namespace deepseek::security::hsm
