#include "deepseek/security/encrypted/mlp.h"

#include <cmath>
#include <numeric>
#include <random>

namespace deepseek::security {

PlainMLP::PlainMLP(std::size_t in_, std::size_t hidden_, std::size_t out_, unsigned seed)
    : in(in_), hidden(hidden_), out(out_), w1(hidden_ * in_), b1(hidden_, 0.0), w2(out_ * hidden_), b2(out_, 0.0) {
  std::mt19937 g(seed);
  std::normal_distribution<double> n1(0, 1.0 / std::sqrt(double(in))), n2(0, 1.0 / std::sqrt(double(hidden)));
  for (auto& v : w1) v = n1(g);
  for (auto& v : w2) v = n2(g);
}

std::vector<double> PlainMLP::logits(const std::vector<double>& x) const {
  std::vector<double> h(hidden), o(out);
  for (std::size_t i = 0; i < hidden; ++i) {
    double s = b1[i];
    for (std::size_t j = 0; j < in; ++j) s += w1[i * in + j] * x[j];
    h[i] = act(s);
  }
  for (std::size_t i = 0; i < out; ++i) {
    double s = b2[i];
    for (std::size_t j = 0; j < hidden; ++j) s += w2[i * hidden + j] * h[j];
    o[i] = s;
  }
  return o;
}

int PlainMLP::predict(const std::vector<double>& x) const {
  auto o = logits(x);
  return int(std::max_element(o.begin(), o.end()) - o.begin());
}

void PlainMLP::train(const std::vector<std::vector<double>>& X, const std::vector<int>& y, int epochs, double lr) {
  std::vector<std::size_t> order(X.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 g(7);
  std::vector<double> pre(hidden), h(hidden), o(out), dh(hidden);
  for (int e = 0; e < epochs; ++e) {
    std::shuffle(order.begin(), order.end(), g);
    for (std::size_t idx : order) {
      const auto& x = X[idx];
      for (std::size_t i = 0; i < hidden; ++i) {
        double s = b1[i];
        for (std::size_t j = 0; j < in; ++j) s += w1[i * in + j] * x[j];
        pre[i] = s;
        h[i] = act(s);
      }
      double mx = -1e300;
      for (std::size_t i = 0; i < out; ++i) {
        double s = b2[i];
        for (std::size_t j = 0; j < hidden; ++j) s += w2[i * hidden + j] * h[j];
        o[i] = s;
        mx = std::max(mx, s);
      }
      double z = 0;
      for (auto& v : o) z += (v = std::exp(v - mx));
      for (std::size_t i = 0; i < out; ++i) o[i] = o[i] / z - (int(i) == y[idx] ? 1.0 : 0.0);  // dlogits
      std::fill(dh.begin(), dh.end(), 0.0);
      for (std::size_t i = 0; i < out; ++i) {
        for (std::size_t j = 0; j < hidden; ++j) {
          dh[j] += o[i] * w2[i * hidden + j];
          w2[i * hidden + j] -= lr * o[i] * h[j];
        }
        b2[i] -= lr * o[i];
      }
      for (std::size_t i = 0; i < hidden; ++i) {
        // d act / d pre = c1 + 2 c2 pre (degree-2 activation)
        double d = dh[i] * (act.coeffs[1] + 2 * act.coeffs[2] * pre[i]);
        d = std::max(-5.0, std::min(5.0, d));  // keeps the quadratic activation from diverging
        for (std::size_t j = 0; j < in; ++j) w1[i * in + j] -= lr * d * x[j];
        b1[i] -= lr * d;
      }
    }
  }
}

EncryptedMLP::EncryptedMLP(const PlainMLP& model, HomoEncryptor& enc) : model_(model), enc_(enc) {
  const std::size_t slots = enc.context()->slots();
  in_period_ = 1;
  while (in_period_ < model.in) in_period_ <<= 1;
  DS_CHECK(in_period_ <= slots, "[mlp] input of ", model.in, " features does not fit ", slots, " slots");
  batch_ = slots / in_period_;
  l1_ = std::make_unique<PlainMatrix>(enc.context(), model.w1, model.hidden, model.in, batch_, in_period_);
  l2_ = std::make_unique<PlainMatrix>(enc.context(), model.w2, model.out, model.hidden, batch_, l1_->output_period());
  auto r1 = l1_->required_rotations(), r2 = l2_->required_rotations();
  r1.insert(r1.end(), r2.begin(), r2.end());
  enc.add_rotations(r1);
}

EncryptedTensor EncryptedMLP::encrypt_images(const std::vector<std::vector<double>>& images) const {
  DS_CHECK(images.size() <= batch_, "[mlp] at most ", batch_, " images per ciphertext");
  std::vector<std::vector<double>> padded = images;
  padded.resize(batch_, std::vector<double>(model_.in, 0.0));
  auto t = enc_.encrypt_interleaved(padded, in_period_);
  return t;
}

EncryptedTensor EncryptedMLP::infer(const EncryptedTensor& images) const {
  const auto& ev = enc_.evaluator();
  ev.require_levels(images.cts.at(0), 2 + model_.act.depth(), "encrypted MLP inference");
  EncryptedTensor h = l1_->apply(ev, images, &model_.b1);
  h.cts[0] = evaluate_polynomial(ev, h.cts[0], model_.act);
  return l2_->apply(ev, h, &model_.b2);
}

std::vector<std::vector<double>> EncryptedMLP::decrypt_logits(const EncryptedTensor& logits) const {
  return enc_.decrypt_interleaved(logits, model_.out);
}

}  // namespace deepseek::security
