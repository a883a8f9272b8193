// Umbrella header of the CKKS library (deepseek/security/ckks): RNS-CKKS with hybrid key
// switching, depending only on the C++ standard library and deepseek/core/error.h. Typical use:
//   auto ctx = CkksContext::create(CkksParameters::preset(1 << 14));
//   KeyGenerator kg(ctx); CkksEncoder enc(ctx); Encryptor e(ctx, kg.create_public_key());
//   Evaluator ev(ctx, std::make_shared<RelinKeys>(kg.create_relin_keys()), ...);
//   auto ct = ev.mul(e.encrypt(enc.encode(x)), e.encrypt(enc.encode(y)));
//   auto z = enc.decode(Decryptor(ctx, kg.secret_key()).decrypt(ct));
#pragma once

#include "deepseek/security/ckks/context.h"
#include "deepseek/security/ckks/encoder.h"
#include "deepseek/security/ckks/encryptor.h"
#include "deepseek/security/ckks/errors.h"
#include "deepseek/security/ckks/evaluator.h"
#include "deepseek/security/ckks/keys.h"
#include "deepseek/security/ckks/params.h"
#include "deepseek/security/ckks/serialization.h"
