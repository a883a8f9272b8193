// Parameter sets against the HomomorphicEncryption.org 128-bit table.
#include <gtest/gtest.h>

#include <cmath>

#include "deepseek/security/ckks/context.h"
#include "deepseek/security/ckks/params.h"

using namespace deepseek::security::ckks;

TEST(CkksParams, PresetsFitTheSecurityTable) {
  for (std::size_t n : {8192u, 16384u, 32768u, 65536u}) {
    CkksParameters p = CkksParameters::preset(n);
    int total = 0;
    for (int b : p.data_bits) total += b;
    for (int b : p.special_bits) total += b;
    EXPECT_LE(total, max_log_qp_128(n));
    EXPECT_GE(p.data_bits.size(), 3u);
  }
  EXPECT_EQ(max_log_qp_128(8192), 218);
  EXPECT_EQ(max_log_qp_128(16384), 438);
  EXPECT_EQ(max_log_qp_128(32768), 881);
  EXPECT_EQ(max_log_qp_128(65536), 1772);
}

TEST(CkksParams, AboveTheTableIsRefused) {
  CkksParameters p;
  p.poly_degree = 8192;
  p.data_bits = {60, 40, 40, 40};
  p.special_bits = {40};  // 220 > 218
  p.scale = std::ldexp(1.0, 40);
  try {
    p.validate();
    FAIL() << "220-bit chain at N=8192 accepted";
  } catch (const deepseek::Error& e) {
    EXPECT_NE(std::string(e.what()).find("218"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("128-bit"), std::string::npos) << e.what();
  }
  EXPECT_THROW(CkksContext::create(p), deepseek::Error);
  p.special_bits = {38};  // exactly 218: allowed
  EXPECT_NO_THROW(p.validate());
  for (auto [n, bits] : {std::pair<std::size_t, int>{16384, 439}, {32768, 882}, {65536, 1773}}) {
    CkksParameters q;
    q.poly_degree = n;
    q.scale = std::ldexp(1.0, 40);
    q.special_bits = {60};
    int left = bits - 60;
    while (left > 0) {
      int b = std::min(60, std::max(20, left));
      q.data_bits.push_back(b);
      left -= b;
    }
    EXPECT_THROW(q.validate(), deepseek::Error) << n;
  }
  CkksParameters bad = CkksParameters::preset(8192);
  bad.poly_degree = 3000;
  EXPECT_THROW(bad.validate(), deepseek::Error);
  bad.poly_degree = 1 << 17;
  EXPECT_THROW(bad.validate(), deepseek::Error);
  bad = CkksParameters::preset(8192);
  bad.special_bits.clear();
  EXPECT_THROW(bad.validate(), deepseek::Error);
  bad = CkksParameters::preset(8192);
  bad.data_bits[0] = 70;
  EXPECT_THROW(bad.validate(), deepseek::Error);
}

TEST(CkksParams, ContextChainIsWithinBoundAndScalesStayNearDelta) {
  auto ctx = CkksContext::create(CkksParameters::preset(32768));
  EXPECT_LE(ctx->log_qp(), 881.0);
  for (int l = 0; l <= ctx->max_level(); ++l) {
    double r = ctx->level_scale(l) / ctx->params().scale;
    EXPECT_NEAR(r, 1.0, 1e-3) << "level " << l;
  }
  CkksParameters deep = CkksParameters::preset(65536);
  auto ctx2 = CkksContext::create(deep);
  for (int l = 0; l <= ctx2->max_level(); ++l) EXPECT_NEAR(ctx2->level_scale(l) / deep.scale, 1.0, 1e-3);
}
