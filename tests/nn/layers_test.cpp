// Layers against PyTorch (tests/fixtures/nn_modules.json, from gen_nn_modules.py): parameter
// counts and state_dict keys/shapes for each configuration, and forward outputs with PyTorch's
// weights loaded through load_state_dict (strict, so names must match exactly).
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/nn/nn.h"
#include "tests/support/test_util.h"

namespace deepseek::nn {
namespace {

using deepseek::testing::close;
using deepseek::testing::load_fixture;
using deepseek::testing::tensor_from_json;

const nlohmann::json& fixture() {
  static nlohmann::json j = load_fixture("nn_modules.json");
  return j;
}

Conv2dOptions conv2d(std::vector<int64_t> stride, std::vector<int64_t> padding, bool bias = true,
                     int64_t groups = 1) {
  Conv2dOptions o;
  o.stride = stride;
  o.padding = padding;
  o.bias = bias;
  o.groups = groups;
  return o;
}

std::map<std::string, std::function<ModulePtr()>> count_configs() {
  using std::make_shared;
  return {
      {"linear_768_3072", [] { return make_shared<Linear>(768, 3072); }},
      {"linear_nobias", [] { return make_shared<Linear>(100, 10, false); }},
      {"conv1d_16_32_5_g4",
       [] {
         return make_shared<Conv1d>(16, 32, 5, Conv1dOptions{1, 0, 1, 4, true});
       }},
      {"conv2d_64_128_3_nobias",
       [] {
         return make_shared<Conv2d>(64, 128, std::vector<int64_t>{3}, conv2d({1}, {0}, false));
       }},
      {"conv2d_3_64_7_s2", [] { return make_shared<Conv2d>(3, 64, 7, 2, 3); }},
      {"convt2d_16_8_4_g2",
       [] {
         ConvTranspose2dOptions o;
         o.stride = {2};
         o.groups = 2;
         return make_shared<ConvTranspose2d>(16, 8, std::vector<int64_t>{4}, o);
       }},
      {"bn1d_100", [] { return make_shared<BatchNorm1d>(100); }},
      {"bn2d_64", [] { return make_shared<BatchNorm2d>(64); }},
      {"bn2d_noaffine",
       [] {
         return make_shared<BatchNorm2d>(32, BatchNormOptions{1e-5, 0.1, false, true});
       }},
      {"layernorm_768", [] { return make_shared<LayerNorm>(Shape{768}); }},
      {"layernorm_nobias",
       [] {
         return make_shared<LayerNorm>(Shape{4, 8}, 1e-5, true, false);
       }},
      {"groupnorm_8_64", [] { return make_shared<GroupNorm>(8, 64); }},
      {"rmsnorm_512", [] { return make_shared<RMSNorm>(Shape{512}); }},
      {"embedding_50257_768", [] { return make_shared<Embedding>(50257, 768); }},
      {"mha_768_12", [] { return make_shared<MultiheadAttention>(768, 12); }},
      {"mha_kv_dims",
       [] {
         MultiheadAttentionOptions o;
         o.kdim = 32;
         o.vdim = 48;
         o.add_bias_kv = true;
         return make_shared<MultiheadAttention>(64, 4, o);
       }},
      {"mha_nobias",
       [] {
         MultiheadAttentionOptions o;
         o.bias = false;
         return make_shared<MultiheadAttention>(64, 8, o);
       }},
      {"encoder_512_8", [] { return make_shared<TransformerEncoderLayer>(512, 8); }},
      {"encoder_768_12_nobias",
       [] {
         TransformerLayerOptions o;
         o.dim_feedforward = 3072;
         o.bias = false;
         o.norm_first = true;
         return make_shared<TransformerEncoderLayer>(768, 12, o);
       }},
      {"decoder_512_8", [] { return make_shared<TransformerDecoderLayer>(512, 8); }},
      {"encoder_stack_6_512_norm",
       [] {
         return make_shared<TransformerEncoder>(TransformerEncoderLayer(512, 8), 6,
                                                make_shared<LayerNorm>(Shape{512}));
       }},
      {"encoder_stack_2_64_pre_nobias",
       [] {
         TransformerLayerOptions o;
         o.dim_feedforward = 128;
         o.bias = false;
         o.norm_first = true;
         return make_shared<TransformerEncoder>(TransformerEncoderLayer(64, 4, o), 2);
       }},
      {"decoder_stack_3_64_norm",
       [] {
         TransformerLayerOptions o;
         o.dim_feedforward = 256;
         return make_shared<TransformerDecoder>(TransformerDecoderLayer(64, 4, o), 3,
                                                make_shared<LayerNorm>(Shape{64}));
       }},
      {"mha_zero_attn_bias_kv",
       [] {
         MultiheadAttentionOptions o;
         o.add_bias_kv = true;
         o.add_zero_attn = true;
         return make_shared<MultiheadAttention>(16, 2, o);
       }},
      {"sequential_mlp",
       [] {
         return ModulePtr(make_shared<Sequential>(std::vector<ModulePtr>{
             make_shared<Flatten>(), make_shared<Linear>(784, 256), make_shared<ReLU>(),
             make_shared<Dropout>(0.2), make_shared<Linear>(256, 10)}));
       }},
  };
}

// Configurations above 1M parameters (GPT-2's embedding, BERT-size layers) take seconds to
// initialize on a loaded 2-core machine: they run under the `slow` label.
void check_param_counts(bool large) {
  auto configs = count_configs();
  const auto& pc = fixture().at("param_counts");
  EXPECT_EQ(configs.size(), pc.size());
  for (auto& [name, ref] : pc.items()) {
    if ((ref.at("count").get<int64_t>() > 1000000) != large) continue;
    SCOPED_TRACE(name);
    auto it = configs.find(name);
    ASSERT_NE(it, configs.end()) << "no C++ configuration for " << name;
    ModulePtr m = it->second();
    EXPECT_EQ(m->num_parameters(), ref.at("count").get<int64_t>());
    auto sd = m->state_dict();
    std::map<std::string, Shape> ours, theirs;
    for (auto& [k, t] : sd) ours[k] = t.sizes();
    for (auto& [k, s] : ref.at("keys").items()) theirs[k] = s.get<Shape>();
    EXPECT_EQ(ours, theirs);
  }
}

TEST(Layers, ParameterCountsAndStateDictKeysMatchPyTorch) { check_param_counts(false); }
TEST(Layers, SlowParameterCountsOfLargeConfigsMatchPyTorch) { check_param_counts(true); }

// name -> (module, how to call it with the fixture's inputs)
struct ForwardCase {
  std::function<ModulePtr()> make;
  std::function<std::vector<Tensor>(Module&, const std::vector<Tensor>&)> run;
};

std::vector<Tensor> call_list(Module& m, const std::vector<Tensor>& in) { return m(in); }

std::map<std::string, ForwardCase> forward_cases() {
  using std::make_shared;
  auto simple = [](std::function<ModulePtr()> f) { return ForwardCase{f, call_list}; };
  auto mha_call = [](Module& m, const std::vector<Tensor>& in) {
    auto& a = dynamic_cast<MultiheadAttention&>(m);
    AttentionArgs args;
    args.key_padding_mask = in.size() > 3 ? in[3] : Tensor();
    args.attn_mask = in.size() > 4 ? in[4] : Tensor();
    auto [o, w] = a(in[0], in[1], in[2], args);
    return std::vector<Tensor>{o, w};
  };
  auto zero_attn = [](int64_t kdim, int64_t vdim, bool bias_kv) {
    return [=] {
      MultiheadAttentionOptions o;
      o.add_zero_attn = true;
      o.add_bias_kv = bias_kv;
      if (kdim) o.kdim = kdim;
      if (vdim) o.vdim = vdim;
      return ModulePtr(make_shared<MultiheadAttention>(8, 2, o));
    };
  };
  auto layer_opts = [](int64_t ff, const char* act, bool norm_first, bool batch_first) {
    TransformerLayerOptions o;
    o.dim_feedforward = ff;
    o.activation = act;
    o.norm_first = norm_first;
    o.batch_first = batch_first;
    return o;
  };
  std::map<std::string, ForwardCase> c = {
      {"linear", simple([] { return make_shared<Linear>(5, 3); })},
      {"linear_nobias_3d", simple([] { return make_shared<Linear>(5, 2, false); })},
      {"conv1d", simple([] {
         return make_shared<Conv1d>(3, 4, 3, Conv1dOptions{2, 1, 1, 1, true});
       })},
      {"conv2d", simple([] { return make_shared<Conv2d>(3, 4, 3, 1, 1); })},
      {"conv2d_groups", simple([] {
         return make_shared<Conv2d>(4, 6, std::vector<int64_t>{3}, conv2d({2}, {0}, false, 2));
       })},
      {"conv2d_same", simple([] {
         Conv2dOptions o;
         o.padding_str = "same";
         o.dilation = {2};
         return make_shared<Conv2d>(2, 3, std::vector<int64_t>{3}, o);
       })},
      {"convtranspose2d", simple([] {
         ConvTranspose2dOptions o;
         o.stride = {2};
         o.padding = {1};
         o.output_padding = {1};
         return make_shared<ConvTranspose2d>(4, 2, std::vector<int64_t>{3}, o);
       })},
      {"batchnorm1d_train", simple([] { return make_shared<BatchNorm1d>(3); })},
      {"batchnorm2d_train", simple([] { return make_shared<BatchNorm2d>(3); })},
      {"batchnorm2d_cumulative", simple([] {
         return make_shared<BatchNorm2d>(3, BatchNormOptions{1e-5, std::nullopt});
       })},
      {"batchnorm2d_eval", simple([] { return make_shared<BatchNorm2d>(3); })},
      {"layernorm", simple([] {
         return make_shared<LayerNorm>(Shape{3, 4});
       })},
      {"groupnorm", simple([] { return make_shared<GroupNorm>(2, 4); })},
      {"rmsnorm", simple([] { return make_shared<RMSNorm>(Shape{6}, 1e-6); })},
      {"embedding", simple([] { return make_shared<Embedding>(10, 4, 2); })},
      {"relu", simple([] { return make_shared<ReLU>(); })},
      {"gelu", simple([] { return make_shared<GELU>(); })},
      {"gelu_tanh", simple([] { return make_shared<GELU>("tanh"); })},
      {"silu", simple([] { return make_shared<SiLU>(); })},
      {"tanh", simple([] { return make_shared<Tanh>(); })},
      {"sigmoid", simple([] { return make_shared<Sigmoid>(); })},
      {"softmax", simple([] { return make_shared<Softmax>(1); })},
      {"log_softmax", simple([] { return make_shared<LogSoftmax>(0); })},
      {"leaky_relu", simple([] { return make_shared<LeakyReLU>(0.2); })},
      {"softplus", simple([] { return make_shared<Softplus>(); })},
      {"maxpool2d", simple([] { return make_shared<MaxPool2d>(2); })},
      {"maxpool2d_pad", simple([] {
         return make_shared<MaxPool2d>(std::vector<int64_t>{3}, std::vector<int64_t>{2},
                                       std::vector<int64_t>{1});
       })},
      {"avgpool2d", simple([] {
         return make_shared<AvgPool2d>(std::vector<int64_t>{2}, std::vector<int64_t>{2});
       })},
      {"avgpool2d_pad", simple([] {
         return make_shared<AvgPool2d>(std::vector<int64_t>{3}, std::vector<int64_t>{2},
                                       std::vector<int64_t>{1}, false);
       })},
      {"adaptive_avgpool2d", simple([] {
         return make_shared<AdaptiveAvgPool2d>(std::vector<int64_t>{1, 1});
       })},
      {"adaptive_avgpool2d_3", simple([] { return make_shared<AdaptiveAvgPool2d>(3); })},
      {"flatten", simple([] { return make_shared<Flatten>(); })},
      {"sequential", simple([] {
         return ModulePtr(make_shared<Sequential>(std::vector<ModulePtr>{
             make_shared<Linear>(5, 8), make_shared<ReLU>(), make_shared<Linear>(8, 2)}));
       })},
      {"mha_self_kpm", {[] { return make_shared<MultiheadAttention>(8, 2); }, mha_call}},
      {"mha_cross_batch_first",
       {[] {
          MultiheadAttentionOptions o;
          o.batch_first = true;
          return make_shared<MultiheadAttention>(8, 4, o);
        },
        [](Module& m, const std::vector<Tensor>& in) {
          auto& a = dynamic_cast<MultiheadAttention&>(m);
          AttentionArgs args;
          args.attn_mask = in[4];
          args.average_attn_weights = false;
          auto [o, w] = a(in[0], in[1], in[2], args);
          return std::vector<Tensor>{o, w};
        }}},
      {"mha_kvdim_biaskv",
       {[] {
          MultiheadAttentionOptions o;
          o.kdim = 6;
          o.vdim = 5;
          o.add_bias_kv = true;
          return make_shared<MultiheadAttention>(8, 2, o);
        },
        mha_call}},
      {"mha_zero_attn_kpm_mask3d", {zero_attn(0, 0, false), mha_call}},
      {"mha_zero_attn_biaskv_noweights",
       {zero_attn(6, 5, true),
        [](Module& m, const std::vector<Tensor>& in) {
          auto& a = dynamic_cast<MultiheadAttention&>(m);
          AttentionArgs args;
          args.key_padding_mask = in[3];
          args.attn_mask = in[4];
          args.need_weights = false;
          auto [o, w] = a(in[0], in[1], in[2], args);
          EXPECT_FALSE(w.defined());
          return std::vector<Tensor>{o};
        }}},
      {"encoder_stack_post_norm", simple([=] {
         return make_shared<TransformerEncoder>(
             TransformerEncoderLayer(8, 2, layer_opts(16, "relu", false, false)), 3,
             make_shared<LayerNorm>(Shape{8}));
       })},
      {"encoder_stack_pre_norm_kpm", simple([=] {
         return make_shared<TransformerEncoder>(
             TransformerEncoderLayer(8, 2, layer_opts(12, "gelu", true, true)), 2,
             make_shared<LayerNorm>(Shape{8}));
       })},
      // is_causal with no mask: PyTorch got the explicit causal mask.
      {"encoder_stack_pre_causal",
       {[=] {
          return ModulePtr(make_shared<TransformerEncoder>(
              TransformerEncoderLayer(8, 2, layer_opts(12, "relu", true, true)), 2));
        },
        [](Module& m, const std::vector<Tensor>& in) {
          return std::vector<Tensor>{
              dynamic_cast<TransformerEncoder&>(m).forward(in[0], Tensor(), Tensor(), true)};
        }}},
      {"decoder_stack_post_norm", simple([=] {
         return make_shared<TransformerDecoder>(
             TransformerDecoderLayer(8, 2, layer_opts(16, "relu", false, false)), 2,
             make_shared<LayerNorm>(Shape{8}));
       })},
      {"decoder_stack_pre_causal",
       {[=] {
          return ModulePtr(make_shared<TransformerDecoder>(
              TransformerDecoderLayer(8, 2, layer_opts(16, "gelu", true, false)), 3,
              make_shared<LayerNorm>(Shape{8})));
        },
        [](Module& m, const std::vector<Tensor>& in) {
          return std::vector<Tensor>{
              dynamic_cast<TransformerDecoder&>(m).forward(in[0], in[1], {}, {}, {}, {}, true)};
        }}},
      {"encoder_post_relu", simple([] {
         TransformerLayerOptions o;
         o.dim_feedforward = 16;
         return make_shared<TransformerEncoderLayer>(8, 2, o);
       })},
      {"encoder_pre_gelu_kpm", simple([] {
         TransformerLayerOptions o;
         o.dim_feedforward = 12;
         o.activation = "gelu";
         o.norm_first = true;
         o.batch_first = true;
         return make_shared<TransformerEncoderLayer>(8, 2, o);
       })},
      {"decoder_post_relu", simple([] {
         TransformerLayerOptions o;
         o.dim_feedforward = 16;
         return make_shared<TransformerDecoderLayer>(8, 2, o);
       })},
      {"decoder_pre_gelu", simple([] {
         TransformerLayerOptions o;
         o.dim_feedforward = 16;
         o.activation = "gelu";
         o.norm_first = true;
         return make_shared<TransformerDecoderLayer>(8, 2, o);
       })},
  };
  return c;
}

StateDict state_from_json(const nlohmann::json& j) {
  StateDict sd;
  for (auto& [k, v] : j.items()) sd[k] = tensor_from_json(v);
  return sd;
}

TEST(Layers, ForwardMatchesPyTorchWithSameWeights) {
  auto cases = forward_cases();
  for (auto& c : fixture().at("forward")) {
    std::string name = c.at("name");
    SCOPED_TRACE(name);
    auto it = cases.find(name);
    ASSERT_NE(it, cases.end()) << "no C++ case for fixture " << name;
    ModulePtr m = it->second.make();
    m->train(c.at("train").get<bool>());
    m->load_state_dict(state_from_json(c.at("state")));  // strict: names and shapes must match
    std::vector<Tensor> in;
    for (auto& t : c.at("inputs")) in.push_back(t.is_null() ? Tensor() : tensor_from_json(t));
    std::vector<Tensor> out = it->second.run(*m, in);
    const auto& expected = c.at("outputs");
    ASSERT_GE(out.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
      EXPECT_TRUE(close(out[i], tensor_from_json(expected[i]), 1e-4, 1e-5)) << "output " << i;
    if (c.contains("state_after")) {
      auto sd = m->state_dict();
      for (auto& [k, v] : c.at("state_after").items())
        EXPECT_TRUE(close(sd.at(k), tensor_from_json(v), 1e-5, 1e-6)) << "buffer " << k;
    }
  }
}

TEST(Layers, BadInputsThrowErrorsNamingTheLayer) {
  EXPECT_OP_ERROR("Linear", (*std::make_shared<Linear>(4, 2))(zeros({3, 5})));
  EXPECT_OP_ERROR("BatchNorm2d", (*std::make_shared<BatchNorm2d>(3))(zeros({3, 3})));
  EXPECT_OP_ERROR("BatchNorm1d", (*std::make_shared<BatchNorm1d>(3))(zeros({2, 4})));
  EXPECT_OP_ERROR("GroupNorm", GroupNorm(3, 4));
  EXPECT_OP_ERROR("MultiheadAttention", MultiheadAttention(10, 3));
  EXPECT_OP_ERROR("Conv2d", Conv2d(3, 4, std::vector<int64_t>{3}, conv2d({1}, {0}, true, 2)));
  EXPECT_OP_ERROR("Dropout", Dropout(1.5));
  auto mha = std::make_shared<MultiheadAttention>(8, 2);
  EXPECT_OP_ERROR("MultiheadAttention", (*mha)(zeros({3, 2, 8}), zeros({4, 2, 8}), zeros({4, 2, 8}),
                                               AttentionArgs{zeros({2, 5}, {DType::b8})}));
  EXPECT_OP_ERROR("ModuleList", (*std::make_shared<ModuleList>())[0]);
}

TEST(Layers, ContainersIndexAndName) {
  auto list = std::make_shared<ModuleList>(
      std::vector<ModulePtr>{std::make_shared<Linear>(2, 2), std::make_shared<Linear>(2, 3)});
  EXPECT_EQ(list->at<Linear>(1)->out_features, 3);
  EXPECT_EQ(list->at<Linear>(-1)->out_features, 3);
  auto dict = std::make_shared<ModuleDict>();
  dict->insert("enc", std::make_shared<Linear>(2, 2));
  dict->insert("act", std::make_shared<ReLU>());
  EXPECT_EQ(dict->keys(), (std::vector<std::string>{"enc", "act"}));
  EXPECT_TRUE(dict->state_dict().count("enc.weight"));
  EXPECT_EQ((*dict)["act"]->type_name(), "ReLU");
}

// The stack's layers start as copies of the prototype (PyTorch's deepcopy) but own their
// storage; the prototype itself is not part of the stack.
TEST(Layers, TransformerStacksCloneTheirLayer) {
  manual_seed(5);
  TransformerLayerOptions o;
  o.dim_feedforward = 16;
  TransformerEncoderLayer proto(8, 2, o);
  proto.eval();
  TransformerEncoder enc(proto, 3);
  ASSERT_EQ(enc.layers->size(), 3u);
  EXPECT_FALSE(enc.norm);
  EXPECT_EQ(enc.num_parameters(), 3 * proto.num_parameters());
  EXPECT_FALSE(enc.layer(2)->is_training());
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(close(enc.layer(i)->linear1->weight, proto.linear1->weight, 0, 0));
  {
    autograd::NoGradGuard g;
    enc.layer(1)->linear1->weight.fill_(0.5);
  }
  EXPECT_FALSE(close(enc.layer(0)->linear1->weight, enc.layer(1)->linear1->weight));
  EXPECT_FALSE(close(proto.linear1->weight, enc.layer(1)->linear1->weight));
  // Three layers applied in order equal the stack's output; the final norm comes last.
  Tensor x = randn({4, 2, 8});
  Tensor y = x;
  for (int i = 0; i < 3; ++i) y = enc.layer(i)->forward(y, Tensor());
  EXPECT_TRUE(close(enc.forward(x, Tensor()), y, 0, 0));
  TransformerDecoder dec(TransformerDecoderLayer(8, 2, o), 2, std::make_shared<LayerNorm>(Shape{8}));
  auto sd = dec.state_dict();
  EXPECT_TRUE(sd.count("layers.1.multihead_attn.in_proj_weight"));
  EXPECT_TRUE(sd.count("norm.weight"));
  EXPECT_FALSE(sd.count("layers.2.norm1.weight"));
  EXPECT_OP_ERROR("TransformerEncoder", TransformerEncoder(proto, -1));
}

// add_zero_attn: with every real key masked, each query attends only to the zero key, so the
// attention output is out_proj's bias (the zero value projected to zero).
TEST(Layers, MultiheadAttentionZeroAttnWithEverythingMasked) {
  manual_seed(6);
  MultiheadAttentionOptions o;
  o.add_zero_attn = true;
  auto mha = std::make_shared<MultiheadAttention>(8, 2, o);
  mha->eval();
  EXPECT_EQ(mha->num_parameters(), MultiheadAttention(8, 2).num_parameters());
  {
    autograd::NoGradGuard g;
    init::uniform_(mha->out_proj->bias, -1, 1);
  }
  Tensor x = randn({3, 1, 8});
  AttentionArgs a;
  a.key_padding_mask = ones({1, 3}, {DType::b8});
  auto [y, w] = (*mha)(x, x, x, a);
  EXPECT_EQ(w.sizes(), (Shape{1, 3, 4}));
  auto wv = w.to_vector<float>();
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(wv[i * 4 + 3], 1.0f);
  Tensor bias = expand(reshape(mha->out_proj->bias, {1, 1, 8}), {3, 1, 8});
  EXPECT_TRUE(close(y, bias, 1e-6, 1e-6));
  a.need_weights = false;
  EXPECT_TRUE(close((*mha)(x, x, x, a).first, bias, 1e-6, 1e-6));
}

TEST(Layers, MultiheadAttentionNeedWeightsFalseAndCausal) {
  manual_seed(3);
  auto mha = std::make_shared<MultiheadAttention>(8, 2);
  mha->eval();
  Tensor x = randn({4, 1, 8});
  AttentionArgs causal;
  causal.is_causal = true;
  causal.need_weights = true;
  auto [y, w] = (*mha)(x, x, x, causal);
  // Row i attends only to keys <= i.
  auto wv = w.to_vector<float>();
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j) EXPECT_EQ(wv[i * 4 + j], 0.0f);
  AttentionArgs nw;
  nw.need_weights = false;
  nw.attn_mask = triu(ones({4, 4}, {DType::b8}), 1);
  auto [y2, w2] = (*mha)(x, x, x, nw);
  EXPECT_FALSE(w2.defined());
  EXPECT_TRUE(close(y2, y));
}

}  // namespace
}  // namespace deepseek::nn
