// The Fashion-MNIST applications (minutes on 2 cores: named *Slow*, run with the slow label).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "deepseek/security/encrypted/apps.h"

using namespace deepseek::security;

TEST(EncryptedAppsSlow, LogisticRegressionWithinOnePointOfPlaintext) {
  auto r = run_logreg_app(LogRegAppConfig{});
  std::printf("logreg: plaintext %.2f%% encrypted %.2f%% (%zu refreshes, %.1f s)\n", 100 * r.plain_accuracy,
              100 * r.encrypted_accuracy, r.refreshes, r.seconds);
  EXPECT_GE(r.plain_accuracy, 0.75);
  EXPECT_LE(r.plain_accuracy, 0.95);
  EXPECT_LE(std::fabs(r.plain_accuracy - r.encrypted_accuracy), 0.01);
}

TEST(EncryptedAppsSlow, MlpInferenceMatchesPlaintext) {
  MlpAppConfig cfg;
  auto r = run_mlp_app(cfg);
  std::printf("mlp: %zu images, agreement %.2f%%, plaintext accuracy %.2f%%, %.1f ms/image\n", r.images,
              100 * r.agreement, 100 * r.plain_accuracy, r.ms_per_image);
  EXPECT_GE(r.images, 1000u);
  EXPECT_GE(r.agreement, 0.99);
}
