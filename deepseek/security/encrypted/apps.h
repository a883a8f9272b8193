// The two Fashion-MNIST applications, as functions shared by the Slow tests and the
// `fhe_apps` example program: encrypted logistic-regression training on a binary task and
// encrypted MLP inference, each compared with the same computation in the clear.
#pragma once

#include <cstddef>

namespace deepseek::security {

struct LogRegAppConfig {
  int class_a = 0, class_b = 6;  // T-shirt/top vs shirt
  std::size_t train = 1024, test = 2000;
  int iterations = 8;
  std::size_t ring = 1 << 14;
};
struct LogRegAppResult {
  double plain_accuracy = 0, encrypted_accuracy = 0, seconds = 0;
  std::size_t refreshes = 0;
  int iterations_per_refresh = 0;
};
LogRegAppResult run_logreg_app(const LogRegAppConfig& cfg);

struct MlpAppConfig {
  std::size_t train = 20000, test = 1000, hidden = 32;
  int epochs = 3;
  double lr = 0.005;
  std::size_t ring = 1 << 14;
};
struct MlpAppResult {
  std::size_t images = 0;
  double agreement = 0, plain_accuracy = 0, encrypted_accuracy = 0, ms_per_image = 0;
};
MlpAppResult run_mlp_app(const MlpAppConfig& cfg);

}  // namespace deepseek::security
