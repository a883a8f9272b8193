// `deepseek hsm`: provision and use the keys in a PKCS#11 token.
//   deepseek hsm keygen --kek URI        AES-256 key-encryption key (sensitive, never extractable)
//   deepseek hsm keygen --signing URI    EC P-256 pair for audit checkpoints
//   deepseek hsm check URI               open the KEK and assert it is NEVER_EXTRACTABLE
//   deepseek hsm encrypt --kek URI IN OUT / decrypt --kek URI IN OUT   envelope encryption
// The token itself is set up with the vendor's tool, e.g.
//   softhsm2-util --init-token --free --label deepseek --pin 1234 --so-pin 5678
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "deepseek/core/error.h"
#include "deepseek/security/hsm/envelope.h"
#include "deepseek/security/hsm/kek.h"
#include "deepseek/security/hsm/session.h"
#include "tools/command.h"

namespace {

namespace hsm = deepseek::security::hsm;

int run_hsm_impl(int argc, char** argv) {
  CLI::App app{"HSM keys through PKCS#11 (RFC 7512 pkcs11: URIs)", "deepseek hsm"};
  app.require_subcommand(1);
  std::string kek, signing, uri, in, out;
  auto* keygen = app.add_subcommand("keygen", "generate a key in the token");
  auto* kg =
      keygen->add_option("--kek", kek, "URI (object= label, optional id=) of a new AES-256 KEK");
  keygen->add_option("--signing", signing, "URI of a new EC P-256 checkpoint signing pair")
      ->excludes(kg);
  auto* check = app.add_subcommand("check", "open a KEK and check its attributes");
  check->add_option("uri", uri, "pkcs11: URI of the KEK")->required();
  auto* enc = app.add_subcommand(
      "encrypt", "envelope-encrypt a file (AES-256-GCM, data key wrapped by the KEK)");
  auto* dec = app.add_subcommand("decrypt", "decrypt an envelope-encrypted file");
  for (auto* sub : {enc, dec}) {
    sub->add_option("--kek", kek, "pkcs11: URI of the KEK")->required();
    sub->add_option("in", in, "input file")->required();
    sub->add_option("out", out, "output file (written atomically)")->required();
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (keygen->parsed()) {
    if (kek.empty() == signing.empty()) {
      std::fprintf(stderr, "deepseek hsm keygen: give exactly one of --kek or --signing\n");
      return 2;
    }
    auto parsed = hsm::Pkcs11Uri::parse(kek.empty() ? signing : kek);
    if (!parsed.object) {
      std::fprintf(stderr, "deepseek hsm keygen: the URI needs object=<label>\n");
      return 2;
    }
    auto session = hsm::Session::open(parsed);
    auto id = parsed.id.value_or(std::vector<std::uint8_t>{});
    for (CK_OBJECT_CLASS cls : {CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY})
      DS_CHECK(session->find(cls, parsed).empty(), "[hsm] a key labelled '", *parsed.object,
               "' already exists in token '", session->token_label(), "'");
    if (!kek.empty()) {
      session->generate_aes_kek(*parsed.object, id);
      hsm::KeyEncryptionKey::open(session, parsed);  // re-check what was created
      std::cout << "generated AES-256 KEK " << parsed.to_string()
                << " (sensitive, never extractable)\n";
    } else {
      session->generate_ec_p256_keypair(*parsed.object, id);
      std::cout << "generated EC P-256 signing pair " << parsed.to_string() << "\n";
    }
    return 0;
  }
  if (check->parsed()) {
    auto k = hsm::KeyEncryptionKey::open(uri);
    std::cout << "OK: " << k.name()
              << " is a sensitive, never-extractable AES-256 KEK that can wrap/unwrap\n";
    return 0;
  }
  auto k = hsm::KeyEncryptionKey::open(kek);
  if (enc->parsed())
    hsm::envelope_encrypt_file(k, in, out);
  else
    hsm::envelope_decrypt_file(k, in, out);
  std::cout << (enc->parsed() ? "encrypted " : "decrypted ") << in << " -> " << out << "\n";
  return 0;
}

// Bad input — wrong PIN, bad URI, missing key, a log that cannot be appended to — exits 2
// (a failed verification exits 1), so scripts can tell "tampered" from "misconfigured".
int run_hsm(int argc, char** argv) {
  try {
    return run_hsm_impl(argc, argv);
  } catch (const deepseek::Error& e) {
    std::fprintf(stderr, "deepseek hsm: error: %s\n", e.what());
    return 2;
  }
}

}  // namespace

DEEPSEEK_COMMAND("hsm", "generate, check and use HSM keys (PKCS#11)", run_hsm);
