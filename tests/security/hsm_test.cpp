// HSM: RFC 7512 URI parsing, the KEK's never-extractable check, seed wrapping, envelope files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "deepseek/core/error.h"
#include "deepseek/security/hsm/atomic_file.h"
#include "deepseek/security/hsm/envelope.h"
#include "deepseek/security/hsm/kek.h"
#include "deepseek/security/hsm/pkcs11_uri.h"
#include "deepseek/security/hsm/secret_seed_store.h"
#include "tests/security/scratch_env.h"

namespace ds = deepseek;
namespace hsm = deepseek::security::hsm;
using deepseek::security::testing::scratch;
using deepseek::security::testing::temp_path;

namespace {

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  auto b = hsm::read_whole_file(path);
  return {b.begin(), b.end()};
}

}  // namespace

TEST(Pkcs11Uri, ParsesPathAndQueryWithPercentDecoding) {
  auto u = hsm::Pkcs11Uri::parse(
      "pkcs11:token=My%20Token;object=kek;id=%01%A0;type=secret-key"
      "?pin-value=12%2634&module-path=/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(*u.token, "My Token");
  EXPECT_EQ(*u.object, "kek");
  EXPECT_EQ(*u.id, (std::vector<std::uint8_t>{0x01, 0xA0}));
  EXPECT_EQ(*u.type, "secret-key");
  EXPECT_EQ(*u.pin_value, "12&34");
  EXPECT_EQ(u.resolve_module(), "/usr/lib/softhsm/libsofthsm2.so");
  // The canonical form hides the PIN unless asked, and round-trips.
  EXPECT_EQ(u.to_string().find("12"), std::string::npos);
  auto again = hsm::Pkcs11Uri::parse(u.to_string(true));
  EXPECT_EQ(*again.token, "My Token");
  EXPECT_EQ(*again.id, *u.id);
  EXPECT_EQ(*again.pin_value, "12&34");
}

TEST(Pkcs11Uri, PinSourceReadsFirstLine) {
  auto path = temp_path("pin");
  write_text(path, "4321\nignored\n");
  auto u = hsm::Pkcs11Uri::parse("pkcs11:token=t;object=o?pin-source=file://" + path);
  EXPECT_EQ(*u.resolve_pin(), "4321");
}

TEST(Pkcs11Uri, RejectsMalformedUris) {
  for (const char* bad :
       {"pkcs12:token=x", "token=x", "pkcs11:token", "pkcs11:token=a;token=b", "pkcs11:tokn=x",
        "pkcs11:object=%4", "pkcs11:object=%zz", "pkcs11:type=key", "pkcs11:slot-id=abc",
        "pkcs11:token=x?pin-value=1&pin-source=/p", "pkcs11:token=x?frobnicate=1",
        "pkcs11:token=x#frag"}) {
    EXPECT_THROW(hsm::Pkcs11Uri::parse(bad), ds::Error) << bad;
  }
}

TEST(Hsm, KekWrapsAndUnwrapsSeeds) {
  auto kek = hsm::KeyEncryptionKey::open(scratch().uri("kek"));
  std::vector<std::uint8_t> seed(37);
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i * 7);
  auto wrapped = kek.wrap(seed);
  EXPECT_EQ(wrapped.size() % 8, 0u);
  EXPECT_GE(wrapped.size(), seed.size() + 8);
  auto back = kek.unwrap(wrapped);
  ASSERT_EQ(back.size(), seed.size());
  EXPECT_TRUE(std::equal(seed.begin(), seed.end(), back.data()));
  wrapped[5] ^= 1;
  EXPECT_THROW(kek.unwrap(wrapped), ds::Error);
}

TEST(Hsm, RefusesKekThatWasEverExtractable) {
  auto session = scratch().session();
  // A key created extractable has CKA_NEVER_EXTRACTABLE = false forever after.
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_ULONG len = 32;
  CK_BBOOL t = CK_TRUE;
  std::string label = "leaky-kek";
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_KEY_TYPE, &kt, sizeof kt},
                         {CKA_VALUE_LEN, &len, sizeof len},
                         {CKA_TOKEN, &t, 1},
                         {CKA_EXTRACTABLE, &t, 1},
                         {CKA_WRAP, &t, 1},
                         {CKA_UNWRAP, &t, 1},
                         {CKA_LABEL, label.data(), label.size()}};
  CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE h;
  {
    std::lock_guard lock(session->mutex());
    hsm::check_rv(session->fn()->C_GenerateKey(session->handle(), &mech, tmpl, 8, &h),
                  "C_GenerateKey");
  }
  try {
    hsm::KeyEncryptionKey::open(scratch().uri("leaky-kek"));
    FAIL() << "an extractable KEK was accepted";
  } catch (const ds::Error& e) {
    EXPECT_NE(std::string(e.what()).find("NEVER_EXTRACTABLE"), std::string::npos) << e.what();
  }
  session->destroy(h);
}

TEST(Hsm, ClearErrorsForWrongPinMissingKeyAndMissingToken) {
  // PKCS#11 login is per application and token: once a session is logged in, further
  // C_Login calls report CKR_USER_ALREADY_LOGGED_IN without checking the PIN. So the wrong
  // PIN is tried on a token nobody in this process has logged in to.
  scratch().add_token("pin-test");
  auto wrong_pin =
      "pkcs11:token=pin-test;object=kek?pin-value=0000&module-path=" + scratch().module_path();
  try {
    hsm::KeyEncryptionKey::open(wrong_pin);
    FAIL();
  } catch (const ds::Error& e) {
    EXPECT_NE(std::string(e.what()).find("CKR_PIN_INCORRECT"), std::string::npos) << e.what();
  }
  EXPECT_THROW(hsm::KeyEncryptionKey::open(scratch().uri("no-such-key")), ds::Error);
  EXPECT_THROW(hsm::KeyEncryptionKey::open("pkcs11:token=nope;object=kek?pin-value=1&module-path=" +
                                           scratch().module_path()),
               ds::Error);
  EXPECT_THROW(hsm::KeyEncryptionKey::open("pkcs11:token=x;object=kek?module-path=/nonexistent.so"),
               ds::Error);
  // Without a PIN the private KEK is invisible, and the message says why.
  try {
    hsm::KeyEncryptionKey::open("pkcs11:token=pin-test;object=kek?module-path=" +
                                scratch().module_path());
    FAIL();
  } catch (const ds::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no PIN"), std::string::npos) << e.what();
  }
}

TEST(Hsm, SecretSeedStoreRoundTripsThroughAFile) {
  hsm::SecretSeedStore store(scratch().uri("kek"));
  std::vector<std::uint8_t> seed(32, 0x5a);
  auto wrapped = store.seal(seed, "ckks-secret-key");
  auto path = temp_path("seed.json");
  hsm::SecretSeedStore::save(path, wrapped);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  auto loaded = hsm::SecretSeedStore::load(path);
  // The seed never appears in the file.
  EXPECT_EQ(read_text(path).find(hsm::to_hex(seed)), std::string::npos);
  bool called = false;
  store.with_seed(
      loaded,
      [&](std::span<const std::uint8_t> s) {
        called = true;
        EXPECT_TRUE(std::equal(s.begin(), s.end(), seed.begin(), seed.end()));
      },
      "ckks-secret-key");
  EXPECT_TRUE(called);
  EXPECT_THROW(store.unseal(loaded, "data-key"), ds::Error);
  auto fresh = store.generate(32, "ckks-secret-key");
  EXPECT_EQ(store.unseal(fresh).size(), 32u);
  write_text(path, "{\"format\": \"deepseek-wrapped-seed\", \"version\": 1}");
  EXPECT_THROW(hsm::SecretSeedStore::load(path), ds::Error);
  write_text(path, "not json");
  EXPECT_THROW(hsm::SecretSeedStore::load(path), ds::Error);
}

TEST(Hsm, SecretBytesWipesOnDestruction) {
  hsm::SecretBytes s(16);
  std::fill(s.data(), s.data() + 16, 0xAB);
  hsm::SecretBytes moved = std::move(s);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(moved.size(), 16u);
  moved.wipe();
  EXPECT_TRUE(moved.empty());
}

TEST(Envelope, BytesRoundTripAndTamperIsDetected) {
  auto kek = hsm::KeyEncryptionKey::open(scratch().uri("kek"));
  auto plain = bytes_of("checkpoint weights 0123456789");
  auto blob = hsm::envelope_encrypt(kek, plain);
  EXPECT_EQ(hsm::envelope_decrypt(kek, blob), plain);
  // Two encryptions use different data keys and nonces.
  EXPECT_NE(hsm::envelope_encrypt(kek, plain), blob);
  EXPECT_EQ(hsm::envelope_decrypt(kek, hsm::envelope_encrypt(kek, {})).size(), 0u);

  // Every single-byte flip — magic, length, header, body or tag — is rejected.
  for (std::size_t i = 0; i < blob.size(); ++i) {
    auto bad = blob;
    bad[i] ^= 0x01;
    EXPECT_THROW(hsm::envelope_decrypt(kek, bad), ds::Error) << "flip at byte " << i;
  }
  auto truncated = blob;
  truncated.pop_back();
  EXPECT_THROW(hsm::envelope_decrypt(kek, truncated), ds::Error);
  EXPECT_THROW(hsm::envelope_decrypt(kek, std::vector<std::uint8_t>(5, 0)), ds::Error);
}

TEST(Envelope, FilesAreWrittenAtomicallyAndAuthFailureKeepsOldOutput) {
  auto kek = hsm::KeyEncryptionKey::open(scratch().uri("kek"));
  auto in = temp_path("plain.bin"), enc = temp_path("plain.bin.enc"), out = temp_path("plain.out");
  std::string text(3 * (1 << 20) + 123, 'x');  // spans several streaming chunks
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>('a' + i % 26);
  write_text(in, text);
  hsm::envelope_encrypt_file(kek, in, enc);
  EXPECT_TRUE(hsm::is_envelope_file(enc));
  EXPECT_FALSE(hsm::is_envelope_file(in));
  hsm::envelope_decrypt_file(kek, enc, out);
  EXPECT_EQ(read_text(out), text);

  // Flip one body byte: decryption fails with a clear message, the previous output survives
  // and no temporary file is left behind.
  auto bytes = hsm::read_whole_file(enc);
  bytes[bytes.size() / 2] ^= 0x80;
  hsm::write_file_atomic(enc, bytes);
  try {
    hsm::envelope_decrypt_file(kek, enc, out);
    FAIL();
  } catch (const ds::Error& e) {
    EXPECT_NE(std::string(e.what()).find("authentication failed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_text(out), text);
  for (auto& entry : std::filesystem::directory_iterator(std::filesystem::path(out).parent_path()))
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
}

TEST(Envelope, DifferentKekCannotDecrypt) {
  auto kek = hsm::KeyEncryptionKey::open(scratch().uri("kek"));
  auto blob = hsm::envelope_encrypt(kek, bytes_of("secret"));
  auto session = scratch().session();
  session->generate_aes_kek("other-kek", {0x09});
  auto other = hsm::KeyEncryptionKey::open(scratch().uri("other-kek"));
  try {
    hsm::envelope_decrypt(other, blob);
    FAIL();
  } catch (const ds::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unwrap"), std::string::npos) << e.what();
  }
}
