// A two-layer perceptron for Fashion-MNIST (784 -> hidden -> 10) whose activation is the
// degree-2 least-squares ReLU approximation (relu_approx), trained in the clear with plain
// SGD (small and self-contained because nn/ does not exist yet), and its encrypted inference:
// images are packed interleaved, slots/1024 images per ciphertext (8 at N=2^14), the two
// layers are PlainMatrix products (Halevi–Shoup + BSGS) and the activation is evaluated as a
// polynomial, 4 levels in all. The plaintext model computes the very same function, so
// encrypted predictions differ only through CKKS noise near ties.
#pragma once

#include <memory>
#include <vector>

#include "deepseek/security/encrypted/homo_encryptor.h"
#include "deepseek/security/encrypted/linear.h"
#include "deepseek/security/encrypted/poly_approx.h"

namespace deepseek::security {

class PlainMLP {
 public:
  PlainMLP(std::size_t in, std::size_t hidden, std::size_t out, unsigned seed = 1);
  void train(const std::vector<std::vector<double>>& X, const std::vector<int>& y, int epochs, double lr);
  std::vector<double> logits(const std::vector<double>& x) const;
  int predict(const std::vector<double>& x) const;

  std::size_t in, hidden, out;
  std::vector<double> w1, b1, w2, b2;  // row-major [hidden][in], [out][hidden]
  PolyApprox act = relu_approx(2, 4);
};

class EncryptedMLP {
 public:
  EncryptedMLP(const PlainMLP& model, HomoEncryptor& enc);
  std::size_t batch() const { return batch_; }
  // Encrypted logits of up to batch() images (one ciphertext in, one out).
  EncryptedTensor infer(const EncryptedTensor& images) const;
  EncryptedTensor encrypt_images(const std::vector<std::vector<double>>& images) const;
  std::vector<std::vector<double>> decrypt_logits(const EncryptedTensor& logits) const;

 private:
  const PlainMLP& model_;
  HomoEncryptor& enc_;
  std::size_t batch_, in_period_;
  std::unique_ptr<PlainMatrix> l1_, l2_;
};

}  // namespace deepseek::security
