#include "deepseek/security/encrypted/apps.h"

#include <omp.h>

#include <chrono>

#include "deepseek/security/encrypted/fashion_mnist.h"
#include "deepseek/security/encrypted/logistic_regression.h"
#include "deepseek/security/encrypted/mlp.h"

namespace deepseek::security {

namespace {
// 4x4 grid of 7x7 average-pooled cells: 16 features in [0, 1].
std::vector<double> pooled(const std::vector<double>& img) {
  std::vector<double> f(16, 0.0);
  for (int r = 0; r < 28; ++r)
    for (int c = 0; c < 28; ++c) f[std::size_t((r / 7) * 4 + c / 7)] += img[std::size_t(r * 28 + c)] / 49.0;
  return f;
}
void binary_subset(const FashionMnist& d, int a, int b, std::size_t limit, std::vector<std::vector<double>>& X,
                   std::vector<int>& y) {
  for (std::size_t i = 0; i < d.labels.size() && X.size() < limit; ++i) {
    if (d.labels[i] != a && d.labels[i] != b) continue;
    X.push_back(pooled(d.images[i]));
    y.push_back(d.labels[i] == b ? 1 : 0);
  }
}
}  // namespace

LogRegAppResult run_logreg_app(const LogRegAppConfig& cfg) {
  auto train = load_fashion_mnist("train"), test = load_fashion_mnist("t10k");
  std::vector<std::vector<double>> Xtr, Xte;
  std::vector<int> ytr, yte;
  binary_subset(train, cfg.class_a, cfg.class_b, cfg.train, Xtr, ytr);
  binary_subset(test, cfg.class_a, cfg.class_b, cfg.test, Xte, yte);
  LogRegConfig lc;
  lc.iterations = cfg.iterations;
  PlainTensor z = logreg_rows(Xtr, ytr);
  PlainLogisticRegression plain(lc);
  plain.train(z);
  LogRegAppResult r;
  r.plain_accuracy = logreg_accuracy(plain.weights(), Xte, yte);
  auto t0 = std::chrono::steady_clock::now();
  HomoEncryptor enc("seed:random", ckks::CkksParameters::preset(cfg.ring));
  auto secure = enc.encrypt(z);
  EncryptedLogisticRegression model(enc, lc);
  model.train(secure);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.encrypted_accuracy = logreg_accuracy(model.weights(), Xte, yte);
  r.refreshes = model.refreshes();
  r.iterations_per_refresh = model.iterations_per_refresh();
  return r;
}

MlpAppResult run_mlp_app(const MlpAppConfig& cfg) {
  auto train = load_fashion_mnist("train", cfg.train), test = load_fashion_mnist("t10k", cfg.test);
  PlainMLP model(784, cfg.hidden, 10);
  model.train(train.images, train.labels, cfg.epochs, cfg.lr);
  HomoEncryptor enc("seed:random", ckks::CkksParameters::preset(cfg.ring));
  EncryptedMLP emlp(model, enc);
  const std::size_t B = emlp.batch(), n = test.images.size(), batches = (n + B - 1) / B;
  std::vector<int> enc_pred(n), plain_pred(n);
  for (std::size_t i = 0; i < n; ++i) plain_pred[i] = model.predict(test.images[i]);
  // Warm the diagonal encodings once (model preprocessing, not per image).
  {
    auto x = emlp.encrypt_images({test.images[0]});
    (void)emlp.infer(x);
  }
  auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic)
  for (std::size_t bi = 0; bi < batches; ++bi) {
    std::vector<std::vector<double>> imgs(test.images.begin() + std::ptrdiff_t(bi * B),
                                          test.images.begin() + std::ptrdiff_t(std::min(n, (bi + 1) * B)));
    auto x = emlp.encrypt_images(imgs);
    auto logits = emlp.decrypt_logits(emlp.infer(x));
    for (std::size_t k = 0; k < imgs.size(); ++k) {
      const auto& o = logits[k];
      enc_pred[bi * B + k] = int(std::max_element(o.begin(), o.end()) - o.begin());
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MlpAppResult r;
  r.images = n;
  std::size_t agree = 0, pc = 0, ec = 0;
  for (std::size_t i = 0; i < n; ++i) {
    agree += enc_pred[i] == plain_pred[i];
    pc += plain_pred[i] == test.labels[i];
    ec += enc_pred[i] == test.labels[i];
  }
  r.agreement = double(agree) / double(n);
  r.plain_accuracy = double(pc) / double(n);
  r.encrypted_accuracy = double(ec) / double(n);
  r.ms_per_image = 1e3 * secs / double(n);  // wall time over all threads (encrypt+infer+decrypt)
  return r;
}

}  // namespace deepseek::security
