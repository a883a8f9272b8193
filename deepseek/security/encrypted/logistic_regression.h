// Logistic regression trained on encrypted data (Kim, Song, Kim, Lee, Cheon 2018): Nesterov's
// accelerated gradient with a degree-3 least-squares sigmoid on [-8, 8]. The data set is the
// encrypted matrix of rows z_s = y_s·(1, x_s) (y in {-1, 1}), row-major, f' = 2^k columns, so
// one ciphertext holds slots/f' samples. The weights w and the Nesterov look-ahead v are
// encrypted too, replicated in every row block. One iteration:
//   u_s = <z_s, v>          ct×ct product + log2(f') rotate-and-adds          (1 level)
//   s_s = σ'(-u_s)          degree-3 polynomial                                 (2 levels)
//   mask to column 0 × lr/n, replicate over the row (log2(f') rotations)       (1 level)
//   g   = Σ_s s_s z_s       ct×ct product, sum over ciphertexts, then over the
//                           row blocks (log2(slots/f') rotations)              (1 level)
//   w+ = v + g;  v+ = (1-γ)w+ + γw                                              (1 level)
// = 6 levels per iteration: with the N=2^14 preset (6 levels) one iteration fits, with the
// N=2^15 preset (16) two; between those, w and v are refreshed by the key holder
// (HomoEncryptor::refresh: decrypt + re-encrypt, the interactive stand-in for bootstrapping),
// the data itself is never decrypted. PlainLogisticRegression runs the identical algorithm in
// the clear (same polynomial), which is what the encrypted accuracy is compared against.
#pragma once

#include <vector>

#include "deepseek/security/encrypted/homo_encryptor.h"
#include "deepseek/security/encrypted/poly_approx.h"

namespace deepseek::security {

struct LogRegConfig {
  int iterations = 8;
  double learning_rate = 1.0;
  PolyApprox sigmoid = sigmoid_approx(3, 8);
};

// z rows (n × f) from features X (n × (f-1)) and labels y in {0, 1}.
PlainTensor logreg_rows(const std::vector<std::vector<double>>& X, const std::vector<int>& y);

class PlainLogisticRegression {
 public:
  explicit PlainLogisticRegression(LogRegConfig cfg = {}) : cfg_(std::move(cfg)) {}
  void train(const PlainTensor& z);
  const std::vector<double>& weights() const { return w_; }

 private:
  LogRegConfig cfg_;
  std::vector<double> w_;
};

class EncryptedLogisticRegression {
 public:
  EncryptedLogisticRegression(HomoEncryptor& enc, LogRegConfig cfg = {});
  void train(const EncryptedTensor& z);
  std::vector<double> weights() const;  // decrypted by the key holder
  int iterations_per_refresh() const;
  std::size_t refreshes() const { return refreshes_; }

 private:
  HomoEncryptor& enc_;
  LogRegConfig cfg_;
  ckks::Ciphertext w_, v_;
  std::size_t features_ = 0, width_ = 0, refreshes_ = 0;
};

double logreg_accuracy(const std::vector<double>& w, const std::vector<std::vector<double>>& X, const std::vector<int>& y);

}  // namespace deepseek::security
