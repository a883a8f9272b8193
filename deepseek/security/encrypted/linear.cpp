#include "deepseek/security/encrypted/linear.h"

#include <cmath>
#include <sstream>

#include "deepseek/security/encrypted/parallel_sum.h"

namespace deepseek::security {

using ckks::Ciphertext;

std::string EncryptedTensor::describe() const {
  std::ostringstream os;
  os << "EncryptedTensor[";
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "] in " << cts.size() << " ciphertext(s), level " << level();
  if (layout == SlotLayout::kInterleaved) os << ", period " << period << " x batch " << batch;
  return os.str();
}

namespace {
std::size_t next_pow2(std::size_t v) {
  std::size_t p = 1;
  while (p < v) p <<= 1;
  return p;
}
}  // namespace

std::vector<double> interleave(const std::vector<std::vector<double>>& vectors, std::size_t period,
                               std::size_t slots) {
  const std::size_t batch = vectors.size();
  DS_CHECK(batch >= 1 && period * batch <= slots && slots % (period * batch) == 0,
           "[encrypted] interleave: ", batch, " vectors of period ", period, " do not tile ", slots,
           " slots");
  std::vector<double> out(slots, 0.0);
  for (std::size_t b = 0; b < batch; ++b) {
    DS_CHECK(vectors[b].size() <= period, "[encrypted] interleave: vector longer than the period");
    for (std::size_t rep = 0; rep < slots / (period * batch); ++rep)
      for (std::size_t i = 0; i < vectors[b].size(); ++i)
        out[rep * period * batch + i * batch + b] = vectors[b][i];
  }
  return out;
}

Ciphertext rotate_and_sum(const ckks::Evaluator& ev, const Ciphertext& x, int stride,
                          std::size_t count) {
  Ciphertext acc = x;
  for (std::size_t s = 1; s < count; s <<= 1) ev.add_inplace(acc, ev.rotate(acc, int(s) * stride));
  return acc;
}

PlainMatrix::PlainMatrix(const ckks::ContextPtr& ctx, std::vector<double> weights, std::size_t rows,
                         std::size_t cols, std::size_t batch, std::size_t input_period)
    : ctx_(ctx), w_(std::move(weights)), rows_(rows), cols_(cols), batch_(batch) {
  DS_CHECK(rows >= 1 && cols >= 1 && w_.size() == rows * cols,
           "[encrypted] PlainMatrix: ", w_.size(), " weights for a ", rows, "x", cols, " matrix");
  slots_ = ctx_->slots();
  DS_CHECK(batch >= 1 && (batch & (batch - 1)) == 0 && batch <= slots_,
           "[encrypted] PlainMatrix: batch must be a power of two");
  const std::size_t cap = slots_ / batch;  // features one ciphertext holds
  in_period_ = input_period ? input_period : next_pow2(cols);
  DS_CHECK((in_period_ & (in_period_ - 1)) == 0 && in_period_ >= cols ||
               (cols > cap && in_period_ == cap),
           "[encrypted] PlainMatrix: input period ", in_period_, " cannot hold ", cols, " columns");
  if (in_period_ > cap) in_period_ = cap;
  col_blocks_ = (cols + in_period_ - 1) / in_period_;
  std::size_t mp = next_pow2(rows);
  if (mp > cap) {
    row_blocks_ = (rows + cap - 1) / cap;
    mp = cap;
  }
  DS_CHECK(col_blocks_ == 1 || batch == 1,
           "[encrypted] PlainMatrix: inputs spanning several ciphertexts need batch 1");
  out_period_ = mp;
  D_ = std::max(in_period_, mp);
  K_ = mp;
  b1_ = std::size_t(1) << ((__builtin_ctzll(K_) + 1) / 2);
  b2_ = (K_ + b1_ - 1) / b1_;
  // One block per (row block, column block).
  for (std::size_t rb = 0; rb < row_blocks_; ++rb) {
    for (std::size_t cb = 0; cb < col_blocks_; ++cb) {
      Block blk;
      blk.row0 = rb * mp;
      blk.col0 = cb * in_period_;
      blk.diag.resize(K_);
      blk.nonzero.assign(K_, false);
      for (std::size_t g = 0; g < b2_; ++g) {
        for (std::size_t j = 0; j < b1_ && g * b1_ + j < K_; ++j) {
          const std::size_t k = g * b1_ + j;
          // Diagonal k over feature positions i in [0, D), then pre-rotated by -g·b1.
          std::vector<double> d(D_, 0.0);
          bool nz = false;
          for (std::size_t i = 0; i < D_; ++i) {
            const std::size_t r = blk.row0 + (i % mp), c_local = (i + k) % D_;
            if (c_local >= in_period_) continue;  // replica of the input: counted once
            const std::size_t c = blk.col0 + c_local;
            if (r < rows && c < cols && (i < mp || D_ > mp)) {
              // When D > m', the D/m' partial sums are folded afterwards; when D == m' each
              // row occurs once.
              double v = w_[r * cols + c];
              d[i] = v;
              nz |= v != 0;
            }
          }
          std::vector<double> rot(D_);
          const std::size_t sh = g * b1_;
          for (std::size_t i = 0; i < D_; ++i) rot[(i + sh) % D_] = d[i];
          // Expand to slots: feature i of every sample b, repeated to fill the slots.
          std::vector<double> full(slots_);
          for (std::size_t s = 0; s < slots_; ++s) full[s] = rot[(s / batch) % D_];
          blk.diag[k] = std::move(full);
          blk.nonzero[k] = nz;
        }
      }
      blocks_.push_back(std::move(blk));
    }
  }
}

std::vector<int> PlainMatrix::required_rotations() const {
  std::vector<int> r;
  const int B = int(batch_);
  for (std::size_t j = 1; j < b1_; ++j) r.push_back(int(j) * B);
  for (std::size_t g = 1; g < b2_; ++g) r.push_back(int(g * b1_) * B);
  for (std::size_t s = 1; s < D_ / K_; s <<= 1) r.push_back(int(s * K_) * B);
  return r;
}

const std::vector<ckks::Plaintext>& PlainMatrix::encoded(const ckks::Evaluator& ev,
                                                         std::size_t block, int level,
                                                         double scale) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_tuple(block, level, scale);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  const auto& ctx = *ev.context();
  // Encoded so that multiply_plain + rescale lands on the canonical scale of level - 1.
  const double ps =
      ctx.level_scale(level - 1) * double(ctx.modulus(std::size_t(level)).value) / scale;
  std::vector<ckks::Plaintext> pts(K_);
  const Block& blk = blocks_[block];
  for (std::size_t k = 0; k < K_; ++k)
    if (blk.nonzero[k]) pts[k] = ev.encoder().encode(blk.diag[k], ps, level);
  return cache_.emplace(key, std::move(pts)).first->second;
}

void PlainMatrix::prepare(const ckks::Evaluator& ev, int level, double scale) const {
  for (std::size_t b = 0; b < blocks_.size(); ++b) encoded(ev, b, level, scale);
}

EncryptedTensor PlainMatrix::apply(const ckks::Evaluator& ev, const EncryptedTensor& x,
                                   const std::vector<double>* bias) const {
  DS_CHECK(x.cts.size() == col_blocks_, "[encrypted] matvec: input has ", x.cts.size(),
           " ciphertexts, the ", rows_, "x", cols_, " matrix expects ", col_blocks_);
  DS_CHECK(x.layout == SlotLayout::kInterleaved && x.batch == batch_ &&
               (x.period == in_period_ || col_blocks_ > 1),
           "[encrypted] matvec: input layout (period ", x.period, ", batch ", x.batch,
           ") does not match the matrix (period ", in_period_, ", batch ", batch_, ")");
  const int B = int(batch_);
  for (const auto& c : x.cts) ev.require_levels(c, 1, "plaintext matrix x encrypted vector");
  EncryptedTensor y;
  y.layout = SlotLayout::kInterleaved;
  y.batch = batch_;
  y.period = out_period_;
  y.shape = {batch_, rows_};
  for (std::size_t rb = 0; rb < row_blocks_; ++rb) {
    Ciphertext total;
    bool have_total = false;
    for (std::size_t cb = 0; cb < col_blocks_; ++cb) {
      const std::size_t bi = rb * col_blocks_ + cb;
      const Ciphertext& xc = x.cts[cb];
      const auto& pts = encoded(ev, bi, xc.level, xc.scale);
      // Baby steps, hoisted.
      std::vector<int> baby;
      for (std::size_t j = 0; j < b1_; ++j) baby.push_back(int(j) * B);
      std::vector<Ciphertext> rx = ev.rotate_hoisted(xc, baby);
      // Giant steps are independent: whole ones per thread (see parallel_sum.h).
      auto sum = detail::parallel_sum(ev, b2_, [&](std::size_t g) -> std::optional<Ciphertext> {
        std::vector<const Ciphertext*> xs;
        std::vector<const ckks::Plaintext*> ps;
        for (std::size_t j = 0; j < b1_ && g * b1_ + j < K_; ++j) {
          const std::size_t k = g * b1_ + j;
          if (!blocks_[bi].nonzero[k]) continue;
          xs.push_back(&rx[j]);
          ps.push_back(&pts[k]);
        }
        if (xs.empty()) return std::nullopt;
        std::optional<Ciphertext> inner = ev.multiply_plain_sum(xs, ps);
        if (inner && g > 0) inner = ev.rotate(*inner, int(g * b1_) * B);
        return inner;
      });
      // An all-zero block: an encryption of zero at the right level.
      Ciphertext acc =
          sum ? std::move(*sum)
              : ev.multiply_plain(xc, ev.encoder().encode_constant(0.0, 1.0, xc.level));
      ev.rescale_inplace(acc);
      acc.scale = ev.context()->level_scale(acc.level);  // exact by construction of the encoding
      if (D_ > K_) acc = rotate_and_sum(ev, acc, int(K_) * B, D_ / K_);
      if (have_total)
        ev.add_inplace(total, acc);
      else
        total = std::move(acc), have_total = true;
    }
    if (bias) {
      DS_CHECK(bias->size() == rows_, "[encrypted] matvec: bias has ", bias->size(),
               " entries, expected ", rows_);
      std::vector<double> bv(slots_);
      for (std::size_t s = 0; s < slots_; ++s) {
        const std::size_t r = rb * out_period_ + (s / batch_) % out_period_;
        bv[s] = r < rows_ ? (*bias)[r] : 0.0;
      }
      total = ev.add_plain(total, ev.encoder().encode(bv, total.scale, total.level));
    }
    y.cts.push_back(std::move(total));
  }
  return y;
}

}  // namespace deepseek::security
