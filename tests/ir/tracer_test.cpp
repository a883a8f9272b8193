#include "deepseek/ir/tracer.h"

#include <gtest/gtest.h>

#include "deepseek/autograd/engine.h"
#include "deepseek/autograd/grad_mode.h"
#include "deepseek/ir/interpreter.h"
#include "deepseek/ir/printer.h"
#include "deepseek/ir/scope.h"
#include "deepseek/ir/verifier.h"
#include "ir_test_util.h"

namespace deepseek::ir {
namespace {
using testing::bits_equal;

size_t count_op(const Graph& g, const std::string& name) {
  size_t n = 0;
  for (auto& node : g.nodes()) n += node->name() == name;
  return n;
}

TEST(Trace, SmallProgramPrintsAndVerifies) {
  manual_seed(1);
  Tensor x = randn({2, 3}), y = randn({3});
  auto fn = [](const std::vector<Tensor>& in) {
    Tensor a = add(in[0], in[1], 2);
    Tensor b = relu(a).sum({1});
    return std::vector<Tensor>{a, b};
  };
  Graph g = trace(fn, {x, y}, {}, {"x", "y"});
  verify(g);
  std::string text = g.str();
  EXPECT_NE(text.find("%0 : f32[2, 3] = input \"x\""), std::string::npos) << text;
  EXPECT_NE(text.find("%2 : f32[2, 3] = add(%0, %1) {alpha=2}"), std::string::npos) << text;
  EXPECT_NE(text.find("relu(%2)"), std::string::npos) << text;
  EXPECT_NE(text.find("sum(%3) {dims=[1]}"), std::string::npos) << text;
  EXPECT_NE(text.find("return (%2, %4)"), std::string::npos) << text;
  EXPECT_EQ(g.num_nodes(), 3u);

  auto eager = fn({x, y});
  auto replay = run(g, {x, y});
  ASSERT_EQ(replay.size(), 2u);
  EXPECT_TRUE(bits_equal(eager[0], replay[0]));
  EXPECT_TRUE(bits_equal(eager[1], replay[1]));
  // New inputs of the same meta.
  Tensor x2 = randn({2, 3}), y2 = randn({3});
  auto e2 = fn({x2, y2});
  auto r2 = run(g, {x2, y2});
  EXPECT_TRUE(bits_equal(e2[1], r2[1]));
}

TEST(Trace, ScalarsPromotionAndScopes) {
  Tensor x = arange(6, {DType::i32}).reshape({2, 3});
  Graph g = trace(
      [](const std::vector<Tensor>& in) {
        ScopeGuard outer("block");
        Tensor a = mul(in[0], 2.5);  // i32 * wrapped float -> f32
        Tensor b;
        {
          ScopeGuard inner("act");
          b = sigmoid(a);
        }
        return std::vector<Tensor>{add(b, 1)};
      },
      {x});
  verify(g);
  std::string text = g.str();
  EXPECT_NE(text.find("# block.act"), std::string::npos) << text;
  EXPECT_NE(text.find("# block"), std::string::npos) << text;
  for (auto& n : g.nodes()) EXPECT_EQ(n->scope.rfind("block", 0), 0u) << node_str(*n);
  auto r = run(g, {x});
  Tensor e = add(sigmoid(mul(x, 2.5)), 1);
  EXPECT_TRUE(bits_equal(r[0], e));
  EXPECT_EQ(current_scope(), "");
}

TEST(Trace, ParametersAreNamedInputsAndCapturesAreConstants) {
  manual_seed(2);
  Tensor w = randn({4, 3}).requires_grad_(), b = randn({4}).requires_grad_();
  Tensor captured = randn({4});
  captured.set_name("scale");
  Tensor x = randn({2, 3});
  auto fn = [&](const std::vector<Tensor>& in) {
    ScopeGuard s("fc");
    Tensor y = add(sum(mul(unsqueeze(in[0], 1), w), {2}), b);
    return std::vector<Tensor>{mul(y, captured)};
  };
  Graph g = trace(fn, {x}, {{"fc.weight", w}, {"fc.bias", b}});
  verify(g);
  ASSERT_EQ(g.inputs().size(), 3u);
  EXPECT_EQ(g.inputs()[1]->name, "fc.weight");
  EXPECT_EQ(g.inputs()[1]->input_kind, InputKind::parameter);
  EXPECT_EQ(g.inputs()[2]->name, "fc.bias");
  ASSERT_EQ(g.constants().size(), 1u);
  EXPECT_EQ(g.constants()[0]->name, "scale");
  EXPECT_NE(g.str().find("= param \"fc.weight\""), std::string::npos) << g.str();

  // Backward through the interpreted graph gives eager's gradients bit for bit.
  Tensor eager = fn({x})[0].sum();
  auto ge = autograd::grad({eager}, {w, b});
  Tensor replay = run(g, {x, w, b})[0].sum();
  auto gr = autograd::grad({replay}, {w, b});
  EXPECT_TRUE(bits_equal(eager, replay));
  EXPECT_TRUE(bits_equal(ge[0], gr[0]));
  EXPECT_TRUE(bits_equal(ge[1], gr[1]));
}

TEST(Trace, MetaInterpretationGivesShapes) {
  Tensor x = randn({4, 5}), y = randn({5});
  Graph g = trace(
      [](const std::vector<Tensor>& in) {
        Tensor a = permute(add(in[0], in[1]), {1, 0});  // [5, 4]
        Tensor b = softmax(a, 0);
        auto [m, i] = max(b, 1, true);  // [5, 1]
        Tensor c = expand(m, {-1, 3});
        return std::vector<Tensor>{c, i, cast(sum(a), DType::f64)};
      },
      {x, y});
  verify(g);
  auto metas = infer_metas(g);
  ASSERT_EQ(metas.size(), 3u);
  EXPECT_EQ(metas[0].sizes, (Shape{5, 3}));
  EXPECT_EQ(metas[1].sizes, (Shape{5, 1}));
  EXPECT_EQ(metas[1].dtype, DType::i64);
  EXPECT_EQ(metas[2].sizes, Shape{});
  EXPECT_EQ(metas[2].dtype, DType::f64);
  // Other input shapes propagate without data.
  auto m2 = infer_metas(g, {{{7, 2}, DType::f32, kMeta}, {{2}, DType::f32, kMeta}});
  EXPECT_EQ(m2[0].sizes, (Shape{2, 3}));
  // Meta tensors through run() stay meta.
  auto outs =
      run(g, {Tensor::empty({4, 5}, DType::f32, kMeta), Tensor::empty({5}, DType::f32, kMeta)});
  EXPECT_TRUE(outs[0].is_meta());
}

TEST(Trace, TracingMetaInputs) {
  Tensor x = Tensor::empty({3, 8}, DType::f32, kMeta);
  Graph g = trace(
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{log_softmax(mul(in[0], in[0]), 1).mean({0})};
      },
      {x});
  verify(g);
  EXPECT_EQ(g.outputs()[0]->meta.sizes, (Shape{8}));
  Tensor real = randn({3, 8});
  EXPECT_TRUE(bits_equal(run(g, {real})[0], log_softmax(mul(real, real), 1).mean({0})));
}

TEST(Trace, InPlaceIsRewrittenToPureOps) {
  manual_seed(3);
  Tensor x = randn({3, 4}), y = randn({4});
  auto fn = [](const std::vector<Tensor>& in) {
    Tensor a = mul(in[0], 2);
    a.add_(in[1]);
    a.mul_(a);
    Tensor v = a.select(0, 1);  // a view, written in place
    v.sub_(in[1]);
    Tensor row = a.slice(1, 1, 3);  // an older alias read after the write
    v.fill_(0.5);
    return std::vector<Tensor>{a, row.exp(), v};
  };
  Graph g = trace(fn, {x, y});
  verify(g);
  EXPECT_GE(count_op(g, "as_strided_scatter"), 2u) << g.str();
  EXPECT_TRUE(g.mutations().empty());
  auto e = fn({x, y});
  auto r = run(g, {x, y});
  for (size_t i = 0; i < e.size(); ++i) EXPECT_TRUE(bits_equal(e[i], r[i])) << i << "\n" << g.str();
  Tensor x2 = randn({3, 4});
  auto e2 = fn({x2, y});
  auto r2 = run(g, {x2, y});
  for (size_t i = 0; i < e2.size(); ++i) EXPECT_TRUE(bits_equal(e2[i], r2[i])) << i;
}

TEST(Trace, InPlaceOnInputsBecomesMutations) {
  Tensor x = randn({2, 3}), stat = zeros({3});
  auto fn = [](const std::vector<Tensor>& in) {
    Tensor s = in[1];
    s.mul_(full({}, 0.9));
    s.add_(mul(in[0].mean({0}), 0.1));
    Tensor first = in[0].select(0, 0);
    first.copy_(full({3}, 7.0));
    return std::vector<Tensor>{in[0].sum()};
  };
  Tensor xe = x.clone(), se = stat.clone();
  auto e = fn({xe, se});
  Tensor xt = x.clone(), st = stat.clone();
  Graph g = trace(fn, {xt, st}, {}, {"x", "running_mean"});
  verify(g);
  ASSERT_EQ(g.mutations().size(), 2u) << g.str();
  EXPECT_NE(g.str().find("mutate %1 <-"), std::string::npos);
  Tensor xr = x.clone(), sr = stat.clone();
  auto r = run(g, {xr, sr});
  EXPECT_TRUE(bits_equal(e[0], r[0]));
  EXPECT_TRUE(bits_equal(xe, xr));
  EXPECT_TRUE(bits_equal(se, sr));
}

TEST(Trace, RandomOpsReplayIdentically) {
  manual_seed(4);
  Tensor x = randn({16});
  Graph g = trace(
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{add(in[0], rand_like(in[0])), randn({3}), randint(0, 10, {5})};
      },
      {x});
  verify(g);
  bool has_seed = false;
  for (auto& n : g.nodes())
    if (n->def().random) has_seed = n->attrs.has("seed") && n->attrs.has("offset");
  EXPECT_TRUE(has_seed) << g.str();
  auto a = run(g, {x});
  auto b = run(g, {x});
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(bits_equal(a[i], b[i]));
  // And equal to what eager drew during the trace.
  manual_seed(4);
  Tensor x2 = randn({16});
  Tensor e = add(x2, rand_like(x2));
  EXPECT_TRUE(bits_equal(e, a[0]));
}

TEST(Trace, DetachAndCapturedAliases) {
  Tensor x = randn({4, 4});
  Graph g = trace(
      [](const std::vector<Tensor>& in) {
        Tensor a = exp(in[0]);
        Tensor d = a.detach();  // not dispatched: maps to a's value
        Tensor t = in[0].t();
        return std::vector<Tensor>{add(d, t.detach())};
      },
      {x});
  verify(g);
  EXPECT_TRUE(g.constants().empty()) << g.str();
  EXPECT_TRUE(bits_equal(run(g, {x})[0], add(exp(x), x.t())));
}

TEST(Trace, JointForwardBackwardGraph) {
  manual_seed(5);
  Tensor x = randn({3, 4}).requires_grad_(), w = randn({4}).requires_grad_();
  auto fn = [&](const std::vector<Tensor>& in) {
    Tensor loss = tanh(mul(in[0], in[1])).sum();
    auto grads = autograd::grad({loss}, {in[0], in[1]});
    return std::vector<Tensor>{loss, grads[0], grads[1]};
  };
  Graph g = trace(fn, {x, w});
  verify(g);
  EXPECT_GT(g.num_nodes(), 4u);
  auto e = fn({x, w});
  std::vector<Tensor> r;
  {
    autograd::NoGradGuard ng;
    r = run(g, {x.detach(), w.detach()});
  }
  for (size_t i = 0; i < e.size(); ++i) EXPECT_TRUE(bits_equal(e[i], r[i])) << i << "\n" << g.str();
}

TEST(Trace, HostReadsRaiseWhileTracing) {
  EXPECT_FALSE(is_tracing());
  Tensor x = randn({2});
  EXPECT_THROW(trace(
                   [](const std::vector<Tensor>& in) {
                     EXPECT_TRUE(is_tracing());
                     check_not_tracing("Tensor::item()");
                     return in;
                   },
                   {x}),
               Error);
  EXPECT_FALSE(is_tracing());
  try {
    TraceScope s;
    check_not_tracing("Tensor::item()");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Tensor::item()"), std::string::npos);
  }
  TraceScope outer;
  EXPECT_THROW(TraceScope inner, Error);
}

TEST(Trace, DeadCodeEliminationAndClone) {
  Tensor x = randn({3});
  Graph g = trace(
      [](const std::vector<Tensor>& in) {
        Tensor unused = exp(in[0]);
        (void)unused;
        return std::vector<Tensor>{neg(in[0])};
      },
      {x});
  Graph c = g.clone();
  EXPECT_EQ(c.str(), g.str());
  EXPECT_EQ(g.eliminate_dead_code(), 1u);
  verify(g);
  EXPECT_EQ(g.num_nodes(), 1u);
  EXPECT_TRUE(bits_equal(run(g, {x})[0], neg(x)));
  verify(c);
}

}  // namespace
}  // namespace deepseek::ir
