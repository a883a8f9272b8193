// HomoEncryptor: the user-facing entry of encrypted computation.
//     HomoEncryptor enc("seed:random");          // or a key URI served by a registered KeySource
//     auto secure = enc.encrypt(raw);            // PlainTensor -> EncryptedTensor
//     EncryptedLogisticRegression model(enc); model.train(secure);
// The CKKS secret key is derived from a 32-byte seed obtained from a KeySource named by a
// URI. "seed:<64 hex digits>" and "seed:random" are built in; other schemes (the HSM module's
// RFC 7512 "pkcs11:" URIs, which unwrap a seed held under a non-extractable KEK) plug in with
// register_key_source(scheme, factory), so this layer never depends on the HSM code.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "deepseek/security/ckks/ckks.h"
#include "deepseek/security/encrypted/encrypted_tensor.h"

namespace deepseek::security {

class KeySource {
 public:
  virtual ~KeySource() = default;
  // The secret-key seed; implementations should zeroize their own copies after use.
  virtual ckks::Seed secret_seed() = 0;
  virtual std::string uri() const = 0;
};

using KeySourceFactory = std::function<std::unique_ptr<KeySource>(const std::string& uri)>;
void register_key_source(const std::string& scheme, KeySourceFactory factory);
std::unique_ptr<KeySource> open_key_source(const std::string& uri);

struct PlainTensor {
  std::vector<double> data;
  std::vector<std::size_t> shape;
};

class HomoEncryptor {
 public:
  explicit HomoEncryptor(const std::string& key_uri,
                         const ckks::CkksParameters& params = ckks::CkksParameters::preset(1 << 14));
  HomoEncryptor(std::unique_ptr<KeySource> source, const ckks::CkksParameters& params);

  // Row-major: the last dimension is padded to a power of two so rows never straddle a
  // ciphertext; consecutive rows fill each ciphertext.
  EncryptedTensor encrypt(const PlainTensor& raw) const;
  PlainTensor decrypt(const EncryptedTensor& t) const;
  // Interleaved layout (see EncryptedTensor): `vectors` are the batch's samples.
  EncryptedTensor encrypt_interleaved(const std::vector<std::vector<double>>& vectors, std::size_t period) const;
  std::vector<std::vector<double>> decrypt_interleaved(const EncryptedTensor& t, std::size_t length) const;
  // A d×d matrix replicated over the slots (layout of encrypted_matmul).
  EncryptedTensor encrypt_square_matrix(const std::vector<double>& m, std::size_t d) const;

  // Key holder's refresh: decrypts and re-encrypts at the top level (the interactive
  // alternative to bootstrapping; counts how often it was used).
  ckks::Ciphertext refresh(const ckks::Ciphertext& ct) const;
  std::size_t refresh_count() const { return refreshes_; }

  // Generates (once) Galois keys for these rotation steps and installs them in the evaluator.
  void add_rotations(const std::vector<int>& steps);
  const ckks::Evaluator& evaluator() const { return *eval_; }
  const ckks::ContextPtr& context() const { return ctx_; }
  const ckks::CkksEncoder& encoder() const { return *encoder_; }
  std::vector<double> decrypt_slots(const ckks::Ciphertext& ct) const;
  const std::string& key_uri() const { return uri_; }

 private:
  std::string uri_;
  ckks::ContextPtr ctx_;
  std::unique_ptr<ckks::KeyGenerator> kg_;
  std::unique_ptr<ckks::CkksEncoder> encoder_;
  std::unique_ptr<ckks::Encryptor> encryptor_;
  std::unique_ptr<ckks::Decryptor> decryptor_;
  std::unique_ptr<ckks::Evaluator> eval_;
  std::shared_ptr<ckks::GaloisKeys> galois_;
  mutable std::size_t refreshes_ = 0;
};

}  // namespace deepseek::security
