// Compact binary serialization of CKKS objects. Layout: "DSCK" magic, format version, object
// type, the context id (objects only load into the parameter set they were made for), the
// object body, and a 64-bit FNV-1a checksum of everything before it. Residues are bit-packed
// at the width of their prime; parts that are expansions of a seed (the "a" halves of public
// and key-switching keys, c1 of fresh symmetric ciphertexts) are stored as the 32-byte seed
// and regenerated on load, roughly halving keys and fresh ciphertexts; a secret key stored
// with its seed is just the seed. Deserializers validate everything — magic, version, type,
// context, levels, part counts, scales, each residue below its prime, exact length and the
// checksum — and throw deepseek::Error on any mismatch, never reading out of bounds.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "deepseek/security/ckks/context.h"
#include "deepseek/security/ckks/keys.h"
#include "deepseek/security/ckks/plaintext.h"

namespace deepseek::security::ckks {

using Bytes = std::vector<std::uint8_t>;

Bytes serialize(const CkksContext& ctx, const Ciphertext& ct);
Bytes serialize(const CkksContext& ctx, const Plaintext& pt);
Bytes serialize(const CkksContext& ctx, const PublicKey& pk);
Bytes serialize(const CkksContext& ctx, const RelinKeys& rk);
Bytes serialize(const CkksContext& ctx, const GaloisKeys& gk);
// Secret keys are serialized only on explicit request; with a seed this is 32 bytes + header.
Bytes serialize_secret(const CkksContext& ctx, const SecretKey& sk);

Ciphertext deserialize_ciphertext(const CkksContext& ctx, std::span<const std::uint8_t> in);
Plaintext deserialize_plaintext(const CkksContext& ctx, std::span<const std::uint8_t> in);
PublicKey deserialize_public_key(const CkksContext& ctx, std::span<const std::uint8_t> in);
RelinKeys deserialize_relin_keys(const CkksContext& ctx, std::span<const std::uint8_t> in);
GaloisKeys deserialize_galois_keys(const CkksContext& ctx, std::span<const std::uint8_t> in);
SecretKey deserialize_secret_key(const CkksContext& ctx, std::span<const std::uint8_t> in);

}  // namespace deepseek::security::ckks
