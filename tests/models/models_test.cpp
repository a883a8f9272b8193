// Model zoo: exact parameter counts against the reference architectures (big models are built
// on the meta device: shapes only, no memory), forward shapes, configs from JSON/YAML.
#include <gtest/gtest.h>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/models/models.h"

using namespace deepseek;
using namespace deepseek::models;

namespace {
const TensorOptions kMetaF32{DType::f32, kMeta};
}

TEST(ModelsCount, SmallCNN) {
  SmallCNN m;
  EXPECT_EQ(m.num_parameters(), 421834);
}

TEST(ModelsCount, MLP) {
  MLP m;  // 784 -> 256 -> 128 -> 10
  EXPECT_EQ(m.num_parameters(), 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
}

TEST(ModelsCount, ResNetImageNet) {
  ResNetConfig c;
  c.depth = 18;
  EXPECT_EQ(ResNet(c, kMetaF32).num_parameters(), 11689512);
  c.depth = 34;
  EXPECT_EQ(ResNet(c, kMetaF32).num_parameters(), 21797672);
  c.depth = 50;
  EXPECT_EQ(ResNet(c, kMetaF32).num_parameters(), 25557032);
}

TEST(ModelsCount, ResNet18SmallStem) {
  // ImageNet ResNet-18 with the 7×7×3 stem conv swapped for 3×3×1 and a 10-class head.
  auto m = create_model("resnet18", {{"stem", "small"}, {"in_channels", 1}, {"num_classes", 10}},
                        kMetaF32);
  EXPECT_EQ(m->num_parameters(), 11689512 - 7 * 7 * 3 * 64 + 3 * 3 * 64 - 513000 + 5130);
}

TEST(ModelsCount, ViT) {
  EXPECT_EQ(create_model("vit_tiny", {}, kMetaF32)->num_parameters(), 5717416);
  EXPECT_EQ(create_model("vit_small", {}, kMetaF32)->num_parameters(), 22050664);
}

TEST(ModelsCount, BertBase) {
  EXPECT_EQ(create_model("bert_base", {}, kMetaF32)->num_parameters(), 109482240);
  // Without the pooler: 768 × 768 + 768 fewer.
  EXPECT_EQ(create_model("bert_base", {{"pooler", false}}, kMetaF32)->num_parameters(),
            109482240 - 590592);
}

TEST(ModelsCount, GPT2Small) {
  auto m = create_model("gpt2", {}, kMetaF32);
  EXPECT_EQ(m->num_parameters(), 124439808);
  // Untied: a separate 50,257 × 768 head.
  EXPECT_EQ(create_model("gpt2", {{"tie_embeddings", false}}, kMetaF32)->num_parameters(),
            124439808 + 50257 * 768);
}

TEST(ModelsForward, SmallCNNAndMLP) {
  manual_seed(0);
  autograd::NoGradGuard ng;
  Tensor x = randn({3, 1, 28, 28});
  EXPECT_EQ(SmallCNN()(x).sizes(), (Shape{3, 10}));
  EXPECT_EQ(MLP()(x).sizes(), (Shape{3, 10}));
  EXPECT_THROW(SmallCNN()(randn({3, 3, 28, 28})), Error);
}

TEST(ModelsForward, ResNetSmallStem) {
  manual_seed(0);
  autograd::NoGradGuard ng;
  auto m = create_model("resnet18", {{"stem", "small"}, {"in_channels", 1}, {"num_classes", 10},
                                     {"width", 8}});
  m->eval();
  EXPECT_EQ((*m)(randn({2, 1, 28, 28})).sizes(), (Shape{2, 10}));
  auto m50 = create_model("resnet50", {{"width", 4}, {"num_classes", 7}});
  m50->eval();
  EXPECT_EQ((*m50)(randn({1, 3, 64, 64})).sizes(), (Shape{1, 7}));
}

TEST(ModelsForward, ViT) {
  manual_seed(0);
  autograd::NoGradGuard ng;
  auto m = create_model("vit", {{"image_size", 28}, {"patch_size", 7}, {"in_channels", 1},
                                {"num_classes", 10}, {"dim", 32}, {"depth", 2}, {"heads", 4},
                                {"mlp_dim", 64}});
  EXPECT_EQ((*m)(randn({2, 1, 28, 28})).sizes(), (Shape{2, 10}));
}

TEST(ModelsForward, BertOutputs) {
  manual_seed(0);
  autograd::NoGradGuard ng;
  BertConfig c = BertConfig::from_json({{"vocab_size", 100}, {"hidden_size", 32}, {"num_layers", 2},
                                        {"num_heads", 4}, {"intermediate_size", 64},
                                        {"max_position", 16}, {"num_labels", 3}, {"dropout", 0.0}});
  Bert m(c);
  Tensor ids = randint(0, 100, {2, 5});
  Tensor mask = ones({2, 5}, DType::i64);
  auto outs = m.forward_list({ids, zeros({2, 5}, DType::i64), mask});
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[0].sizes(), (Shape{2, 5, 32}));
  EXPECT_EQ(outs[1].sizes(), (Shape{2, 32}));
  EXPECT_EQ(outs[2].sizes(), (Shape{2, 3}));
  EXPECT_THROW(m(randint(0, 100, {2, 17})), Error);  // longer than max_position
}

TEST(ModelsForward, GPTIsCausalAndTied) {
  manual_seed(0);
  autograd::NoGradGuard ng;
  GPT m(GPTConfig::from_json({{"vocab_size", 50}, {"max_position", 16}, {"dim", 32},
                              {"num_layers", 2}, {"num_heads", 4}, {"dropout", 0.0}}));
  m.eval();
  Tensor ids = randint(0, 50, {1, 6});
  Tensor logits = m(ids);
  EXPECT_EQ(logits.sizes(), (Shape{1, 6, 50}));
  // Changing the last token leaves the logits at earlier positions unchanged.
  std::vector<int64_t> v = ids.to_vector<int64_t>();
  v[5] = (v[5] + 1) % 50;
  Tensor logits2 = m(tensor_i64(v, {1, 6}));
  EXPECT_TRUE(allclose(slice(logits, 1, 0, 5), slice(logits2, 1, 0, 5), 1e-5, 1e-6));
  EXPECT_FALSE(allclose(slice(logits, 1, 5, 6), slice(logits2, 1, 5, 6), 1e-5, 1e-6));
  // Tied head: the only vocab × dim matrix is the embedding.
  int64_t vocab_mats = 0;
  for (auto& [name, p] : m.named_parameters())
    if (p.sizes() == Shape{50, 32}) ++vocab_mats;
  EXPECT_EQ(vocab_mats, 1);
}

TEST(ModelsConfig, FromYamlAndErrors) {
  auto j = parse_config("name: mlp\nhidden: [32, 16]\ndropout: 0.1\n");
  auto m = create_model(j);
  EXPECT_EQ(m->num_parameters(), 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10);
  EXPECT_THROW(create_model("nope"), ConfigError);
  EXPECT_THROW(create_model("mlp", {{"hiden", {32}}}), ConfigError);      // unknown key
  EXPECT_THROW(create_model("mlp", {{"hidden", "wide"}}), ConfigError);   // wrong type
  EXPECT_THROW(create_model("resnet", {{"depth", 20}}), ConfigError);     // bad value
  EXPECT_THROW(create_model("smallcnn", {{"image_size", 30}}), ConfigError);
  EXPECT_THROW(parse_config("a: [1, 2"), ConfigError);                    // bad YAML
  try {
    create_model("mlp", {{"hiden", {32}}});
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("hiden"), std::string::npos) << e.what();
  }
}

TEST(ModelsConfig, DottedOverrides) {
  nlohmann::json cfg{{"model", "mlp"}};
  set_dotted(cfg, "model.hidden", parse_override_value("[64]"));
  set_dotted(cfg, "lr", parse_override_value("0.01"));
  EXPECT_EQ(cfg["model"]["name"], "mlp");
  EXPECT_EQ(cfg["model"]["hidden"], nlohmann::json::array({64}));
  EXPECT_DOUBLE_EQ(cfg["lr"].get<double>(), 0.01);
  EXPECT_THROW(set_dotted(cfg, "lr.x", 1), ConfigError);
}

TEST(ModelsState, ResNetNamesMatchTorchvision) {
  auto m = create_model("resnet50", {}, kMetaF32);
  auto sd = m->state_dict();
  for (const char* k : {"conv1.weight", "bn1.running_mean", "layer1.0.conv3.weight",
                        "layer1.0.downsample.0.weight", "layer4.2.bn3.bias", "fc.weight"})
    EXPECT_TRUE(sd.count(k)) << k;
}
