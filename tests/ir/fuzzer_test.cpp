// The seeded random-program fuzzer: each program composes ops chosen from the registry by
// kind and arity (unary/binary/ternary elementwise, reductions, views, casts, gathers,
// random and creation ops, in-place writes into fresh tensors and their views), runs it
// eagerly, traces it, re-executes the graph with the interpreter, and checks outputs and the
// gradients of a scalar loss w.r.t. the inputs bit for bit (±0 and NaNs compare equal), and
// that meta interpretation gives the outputs' shapes. Ops whose attrs this file does not know
// how to build are found by probing them on meta tensors; ops without a CPU kernel are
// skipped, so op families that land later join automatically when they fit a known shape.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "deepseek/autograd/engine.h"
#include "deepseek/ir/interpreter.h"
#include "deepseek/ir/printer.h"
#include "deepseek/ir/tracer.h"
#include "deepseek/ir/verifier.h"
#include "deepseek/ops/defs/common.h"

namespace deepseek::ir {
namespace {

using ops::Attrs;
using ops::AttrValue;
using ops::OpDef;
using ops::OpKind;
using IVec = std::vector<int64_t>;

// Bitwise equality, except that +0 equals -0 and any NaN equals any NaN.
::testing::AssertionResult same_bits(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return ::testing::AssertionFailure() << "defined vs undefined";
  if (!a.defined()) return ::testing::AssertionSuccess();
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << a.to_string() << " vs " << b.to_string();
  if (a.is_meta()) return ::testing::AssertionSuccess();
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  Tensor ca = a.detach().contiguous(), cb = b.detach().contiguous();
  const auto* p = static_cast<const unsigned char*>(ca.raw_data());
  const auto* q = static_cast<const unsigned char*>(cb.raw_data());
  size_t es = ca.element_size();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::memcmp(p + i * es, q + i * es, es) == 0) continue;
    if (x[i] == 0 && y[i] == 0) continue;
    if (std::isnan(x[i]) && std::isnan(y[i])) continue;
    return ::testing::AssertionFailure() << "element " << i << ": " << x[i] << " vs " << y[i];
  }
  return ::testing::AssertionSuccess();
}

// Equal to a few ulps (for gradients of programs that wrote into views).
::testing::AssertionResult nearly(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return ::testing::AssertionFailure() << "defined vs undefined";
  if (!a.defined()) return ::testing::AssertionSuccess();
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << a.to_string() << " vs " << b.to_string();
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  const double eps = a.dtype() == DType::f64 ? 1e-12 : 1e-5;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i]))) continue;
    if (std::abs(x[i] - y[i]) <= eps * (std::abs(x[i]) + std::abs(y[i]) + 1e-3)) continue;
    return ::testing::AssertionFailure() << "element " << i << ": " << x[i] << " vs " << y[i];
  }
  return ::testing::AssertionSuccess();
}

// The registry's ops grouped by how the fuzzer can drive them.
struct OpTable {
  std::vector<const OpDef*> unary, binary, reductions;
  // Reductions' attr schema, discovered by probing: 0 = dims+keepdim, 1 = dim+keepdim, 2 = dim.
  std::unordered_map<const OpDef*, int> reduction_schema;

  static bool probe(const OpDef& d, std::vector<Tensor> in, const Attrs& a) {
    try {
      ops::InterposerOff off(ops::Slot::tracer);
      ops::dispatch(d.id, std::move(in), a);
      return true;
    } catch (const Error&) {
      return false;
    }
  }

  OpTable() {
    Tensor m = Tensor::empty({2, 3}, DType::f32, kMeta);
    for (const OpDef& d : ops::Registry::get().all()) {
      if (!d.infer || !d.has_kernel(DeviceType::cpu) || d.random) continue;
      if (d.name == "copy" || d.name == "fill") continue;  // driven as in-place writes
      if (d.kind == OpKind::elementwise && d.num_inputs == 1 && probe(d, {m}, {}))
        unary.push_back(&d);
      if (d.kind == OpKind::elementwise && d.num_inputs == 2 && probe(d, {m, m}, {}))
        binary.push_back(&d);
      if (d.kind == OpKind::reduction && d.num_inputs == 1 && d.num_outputs >= 1) {
        const Attrs schemas[] = {
            Attrs().set("dims", AttrValue(IVec{1})).set("keepdim", AttrValue(true)),
            Attrs().set("dim", AttrValue(int64_t{1})).set("keepdim", AttrValue(true)),
            Attrs().set("dim", AttrValue(int64_t{1}))};
        for (int s = 0; s < 3; ++s)
          if (probe(d, {m}, schemas[s])) {
            reductions.push_back(&d);
            reduction_schema[&d] = s;
            break;
          }
      }
    }
  }
  static const OpTable& get() {
    static OpTable t;
    return t;
  }
};

const OpDef* find_op(const char* name) {
  const OpDef* d = ops::Registry::get().find(name);
  return d && d->infer && d->has_kernel(DeviceType::cpu) ? d : nullptr;
}

// One random program. All choices depend only on the seed and on tensor metas, so the eager
// run and the traced run make the same choices.
class Program {
 public:
  explicit Program(uint64_t seed) : seed_(seed) {}

  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs) {
    rng_.seed(seed_ * 0x9E3779B97F4A7C15ull + 7);
    stale_alias_ = false;
    view_write_ = false;
    pool_ = inputs;
    const int steps = pick(3, 10);
    for (int s = 0; s < steps; ++s) {
      try {
        step();
      } catch (const Error& e) {
        ++skipped_;  // an op rejected the combination: nothing was added to the pool
      }
    }
    // Outputs: the last few pool entries (the inputs themselves too, when few ops ran).
    std::vector<Tensor> outs;
    size_t n = std::min<size_t>(pool_.size(), 3);
    for (size_t i = pool_.size() - n; i < pool_.size(); ++i) outs.push_back(pool_[i]);
    return outs;
  }
  int skipped() const { return skipped_; }
  // Eager autograd keeps the pre-write history of a view made before an in-place write into
  // another view of its base (it only rebases the written view and the base), so gradients
  // through such a stale alias are wrong eagerly; the trace is right. Programs that read one
  // compare forward results only (reported to autograd/).
  bool read_stale_alias() const { return stale_alias_; }
  // A write into a view is rewritten to pure op + as_strided_scatter: forward values are the
  // same bits, but the autograd graph has another shape (no CopySlices), so a gradient may be
  // summed from differently laid-out tensors and differ in the last bits.
  bool wrote_view() const { return view_write_; }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool coin(double p = 0.5) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  const Tensor& any() { return pool_[pick(0, static_cast<int>(pool_.size()) - 1)]; }
  const Tensor& floating() {
    for (int tries = 0; tries < 8; ++tries) {
      const Tensor& t = any();
      if (is_floating(t.dtype())) return t;
    }
    return pool_[0];
  }
  template <typename T>
  const T& choose(const std::vector<T>& v) {
    return v[pick(0, static_cast<int>(v.size()) - 1)];
  }
  void push(const Tensor& t) { pool_.push_back(t); }
  Tensor call(const OpDef& d, std::vector<Tensor> in, Attrs a = {}) {
    return ops::dispatch1(d.id, std::move(in), std::move(a));
  }

  // A tensor broadcastable against x: another pool entry, a 0-d constant, or x itself.
  Tensor partner(const Tensor& x) {
    const Tensor& y = any();
    Shape s;
    try {
      s = broadcast_shapes(x.sizes(), y.sizes(), "fuzz");
      if (numel(s) <= 64) return y;
    } catch (const Error&) {
    }
    return coin() ? x : full({}, pick(-3, 3) * 0.5, {x.dtype()});
  }

  void step() {
    const OpTable& t = OpTable::get();
    switch (pick(0, 11)) {
      case 0:
      case 1: {  // unary elementwise
        if (t.unary.empty()) return;
        push(call(*choose(t.unary), {floating()}));
        return;
      }
      case 2:
      case 3: {  // binary elementwise with broadcasting
        if (t.binary.empty()) return;
        const Tensor& x = floating();
        push(call(*choose(t.binary), {x, partner(x)}));
        return;
      }
      case 4: {  // reductions
        if (t.reductions.empty()) return;
        const Tensor& x = floating();
        if (x.dim() == 0) return;
        const OpDef* d = choose(t.reductions);
        int64_t dim = pick(0, static_cast<int>(x.dim()) - 1);
        Attrs a;
        switch (t.reduction_schema.at(d)) {
          case 0: {
            IVec dims;
            for (int64_t i = 0; i < x.dim(); ++i)
              if (coin()) dims.push_back(i);
            if (!dims.empty()) a.set("dims", AttrValue(dims));
            if (coin()) a.set("keepdim", AttrValue(true));
            break;
          }
          case 1:
            a.set("dim", AttrValue(dim)).set("keepdim", AttrValue(coin()));
            break;
          default:
            a.set("dim", AttrValue(dim));
        }
        for (auto& o : ops::dispatch(d->id, {x}, a)) push(o);
        return;
      }
      case 5: {  // views
        view_step();
        return;
      }
      case 6: {  // casts and where
        const Tensor& x = floating();
        if (coin()) {
          static const DType kinds[] = {DType::f64, DType::f32, DType::i32, DType::b8, DType::f32};
          push(cast(x, kinds[pick(0, 4)]));
        } else if (const OpDef* w = find_op("where")) {
          Tensor y = partner(x);
          push(call(*w, {gt(x, 0.25), x, y}));
        }
        return;
      }
      case 7:
      case 8: {  // in-place writes into a fresh tensor or a view of it
        inplace_step();
        return;
      }
      case 9: {  // random and creation ops
        const Tensor& x = floating();
        if (coin())
          push(add(x, coin() ? rand_like(x) : randn_like(x)));
        else
          push(mul(x, full(x.sizes(), pick(1, 4) * 0.25, {x.dtype()})));
        return;
      }
      case 10: {  // gather with an index tensor
        const OpDef* g = find_op("gather");
        const Tensor& x = floating();
        if (!g || x.dim() == 0 || x.numel() == 0) return;
        int64_t dim = pick(0, static_cast<int>(x.dim()) - 1);
        Tensor idx = randint(0, x.size(dim), x.sizes());
        push(call(*g, {x, idx}, Attrs().set("dim", AttrValue(dim))));
        return;
      }
      default: {  // a contiguous copy (often of a view)
        push(clone(floating()));
        return;
      }
    }
  }

  void view_step() {
    const Tensor& x = any();
    switch (pick(0, 6)) {
      case 0:
        if (x.dim() >= 2) push(transpose(x, 0, x.dim() - 1));
        return;
      case 1:
        push(unsqueeze(x, pick(0, static_cast<int>(x.dim()))));
        return;
      case 2:
        push(squeeze(x));
        return;
      case 3:
        if (x.dim() >= 1 && x.size(0) > 0)
          push(select(x, 0, pick(0, static_cast<int>(x.size(0)) - 1)));
        return;
      case 4: {
        if (x.dim() == 0) return;
        int64_t d = pick(0, static_cast<int>(x.dim()) - 1), n = x.size(d);
        int64_t start = pick(0, static_cast<int>(std::max<int64_t>(n - 1, 0)));
        push(slice(x, d, start, n, pick(1, 2)));
        return;
      }
      case 5:
        push(reshape(x, {-1}));
        return;
      default: {
        Shape s = x.sizes();
        if (s.empty() || numel(s) > 16) return;
        s.insert(s.begin(), 2);
        push(expand(x, s));
      }
    }
  }

  void inplace_step() {
    const Tensor& src = floating();
    Tensor base = clone(src);
    Tensor alias;
    if (base.dim() >= 1 && coin()) alias = select(base, 0, 0);  // read after the write
    Tensor target = base;
    if (base.dim() >= 1 && coin(0.6)) {
      switch (pick(0, 2)) {
        case 0:
          target = select(base, base.dim() - 1, pick(0, static_cast<int>(base.size(-1)) - 1));
          break;
        case 1:
          target = slice(base, 0, 0, base.size(0), 2);
          break;
        default:
          target = base.dim() >= 2 ? transpose(base, 0, 1) : unsqueeze(base, 0);
      }
    }
    switch (pick(0, 4)) {
      case 0:
        target.add_(partner_for(target), coin() ? 1 : 2);
        break;
      case 1:
        target.mul_(partner_for(target));
        break;
      case 2:
        target.sub_(partner_for(target));
        break;
      case 3:
        target.copy_(partner_for(target));
        break;
      default:
        target.fill_(pick(-2, 2) * 0.75);
    }
    push(base);
    if (alias.defined()) {
      push(alias);
      stale_alias_ = true;
    }
    if (!target.is_same(base)) {
      push(target);
      view_write_ = true;
    }
  }

  // A floating tensor that broadcasts to t's shape.
  Tensor partner_for(const Tensor& t) {
    for (int tries = 0; tries < 6; ++tries) {
      const Tensor& y = any();
      if (!is_floating(y.dtype()) || y.dim() > t.dim()) continue;
      try {
        if (broadcast_shapes(t.sizes(), y.sizes(), "fuzz") == t.sizes()) return y;
      } catch (const Error&) {
      }
    }
    return full({}, pick(-4, 4) * 0.25, {t.dtype()});
  }

  uint64_t seed_;
  std::mt19937_64 rng_;
  std::vector<Tensor> pool_;
  int skipped_ = 0;
  bool stale_alias_ = false;
  bool view_write_ = false;
};

std::vector<Tensor> make_inputs(uint64_t seed) {
  std::mt19937_64 r(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(r); };
  manual_seed(seed);
  std::vector<Tensor> in;
  int n = pick(1, 3);
  Shape common;
  for (int d = pick(0, 3); d > 0; --d) common.push_back(pick(1, 4));
  for (int i = 0; i < n; ++i) {
    Shape s = common;
    // Some inputs are broadcast partners: drop leading dims or set some to 1.
    if (pick(0, 2) == 0 && !s.empty()) s.erase(s.begin());
    if (pick(0, 3) == 0 && !s.empty()) s[pick(0, static_cast<int>(s.size()) - 1)] = 1;
    DType dt = pick(0, 5) == 0 ? DType::f64 : DType::f32;
    Tensor t = randn(s, {dt});
    t.requires_grad_(true);
    in.push_back(t);
  }
  return in;
}

// Sum of every floating output that requires grad (nullopt when none does).
Tensor scalar_loss(const std::vector<Tensor>& outs) {
  Tensor loss;
  for (auto& o : outs) {
    if (!is_floating(o.dtype()) || !o.requires_grad()) continue;
    Tensor s = sum(cast(o, DType::f64));
    loss = loss.defined() ? add(loss, s) : s;
  }
  return loss;
}

struct Outcome {
  int programs = 0, with_grads = 0, nodes = 0, eager_backward_errors = 0;
  std::string first_backward_error;
};

void check_program(uint64_t seed, Outcome& stats) {
  SCOPED_TRACE("program seed " + std::to_string(seed));
  std::vector<Tensor> inputs = make_inputs(seed);

  manual_seed(seed + 1);  // eager and the trace draw the same random numbers
  Program eager_prog(seed);
  std::vector<Tensor> eager = eager_prog(inputs);
  Tensor eager_loss = scalar_loss(eager);
  std::vector<Tensor> eager_grads;
  bool eager_backward_ok = true;
  if (eager_loss.defined()) {
    try {
      eager_grads = autograd::grad({eager_loss}, inputs, {}, false, false, true);
    } catch (const Error& e) {
      // An op's own backward rejected this program eagerly: not a tracing problem (the
      // message is kept so the op's owner can see it).
      eager_backward_ok = false;
      if (stats.eager_backward_errors++ == 0) stats.first_backward_error = e.what();
    }
  }

  manual_seed(seed + 1);
  Program traced_prog(seed);
  Graph g = trace(traced_prog, inputs);
  ASSERT_NO_THROW(verify(g)) << g.str();
  stats.nodes += static_cast<int>(g.num_nodes());

  manual_seed(seed + 2);  // the replay must not depend on the generator's state
  std::vector<Tensor> replay = run(g, inputs);
  ASSERT_EQ(replay.size(), eager.size()) << g.str();
  std::vector<ops::TensorMeta> metas = infer_metas(g);
  for (size_t i = 0; i < eager.size(); ++i) {
    EXPECT_TRUE(same_bits(eager[i], replay[i])) << "output " << i << "\n" << g.str();
    EXPECT_EQ(metas[i].sizes, eager[i].sizes()) << "meta output " << i << "\n" << g.str();
    EXPECT_EQ(metas[i].dtype, eager[i].dtype()) << "meta output " << i << "\n" << g.str();
  }
  Tensor replay_loss = scalar_loss(replay);
  ASSERT_EQ(replay_loss.defined(), eager_loss.defined()) << g.str();
  if (eager_loss.defined() && eager_backward_ok && !eager_prog.read_stale_alias()) {
    std::vector<Tensor> replay_grads =
        autograd::grad({replay_loss}, inputs, {}, false, false, true);
    ++stats.with_grads;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (eager_prog.wrote_view())
        EXPECT_TRUE(nearly(eager_grads[i], replay_grads[i])) << "gradient of input " << i << "\n"
                                                             << g.str();
      else
        EXPECT_TRUE(same_bits(eager_grads[i], replay_grads[i])) << "gradient of input " << i << "\n"
                                                                << g.str();
    }
  }
  ++stats.programs;
}

void run_fuzzer(uint64_t first, int count) {
  Outcome stats;
  for (int i = 0; i < count; ++i) {
    uint64_t seed = first + static_cast<uint64_t>(i);
    try {
      check_program(seed, stats);
    } catch (const std::exception& e) {
      Program p(seed);
      std::string text;
      try {
        text = trace(p, make_inputs(seed)).str();
      } catch (const std::exception&) {
      }
      ADD_FAILURE() << "program seed " << seed << " threw: " << e.what() << "\n" << text;
    }
    if (::testing::Test::HasFailure()) break;  // the first failing program is the one to read
  }
  const OpTable& t = OpTable::get();
  std::printf(
      "fuzzer: %d programs (%d with gradients), %d traced nodes; ops: %zu unary, %zu binary, %zu "
      "reductions\n",
      stats.programs, stats.with_grads, stats.nodes, t.unary.size(), t.binary.size(),
      t.reductions.size());
  if (stats.eager_backward_errors)
    std::printf("fuzzer: %d programs failed eager backward (not compared), first: %s\n",
                stats.eager_backward_errors, stats.first_backward_error.c_str());
}

TEST(Fuzzer, EagerMatchesTracedAndInterpreted) { run_fuzzer(1, 500); }

TEST(Fuzzer, SlowEagerMatchesTracedAndInterpreted) { run_fuzzer(100000, 10000); }

}  // namespace
}  // namespace deepseek::ir
