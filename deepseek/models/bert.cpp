#include "deepseek/models/bert.h"

#include "deepseek/models/config.h"

namespace deepseek::models {

BertConfig BertConfig::from_json(const nlohmann::json& j) {
  BertConfig c;
  ConfigReader r(j, "bert config");
  r.get("vocab_size", c.vocab_size);
  r.get("hidden_size", c.hidden_size);
  r.get("num_layers", c.num_layers);
  r.get("num_heads", c.num_heads);
  r.get("intermediate_size", c.intermediate_size);
  r.get("max_position", c.max_position);
  r.get("type_vocab_size", c.type_vocab_size);
  r.get("dropout", c.dropout);
  r.get("layer_norm_eps", c.layer_norm_eps);
  r.get("pooler", c.pooler);
  r.get("num_labels", c.num_labels);
  r.finish();
  if (c.hidden_size <= 0 || c.num_heads <= 0 || c.hidden_size % c.num_heads != 0)
    throw ConfigError("bert config: hidden_size must be a positive multiple of num_heads");
  if (c.vocab_size <= 0 || c.max_position <= 0 || c.type_vocab_size <= 0 ||
      c.intermediate_size <= 0 || c.num_layers < 0 || c.num_labels < 0)
    throw ConfigError("bert config: sizes must be positive");
  return c;
}

nlohmann::json BertConfig::base_json() { return nlohmann::json::object(); }  // defaults are base

Bert::Bert(BertConfig cfg, TensorOptions to) : nn::Module("Bert"), config(cfg) {
  const int64_t h = cfg.hidden_size;
  word_embeddings = register_module("word_embeddings",
                                    std::make_shared<nn::Embedding>(cfg.vocab_size, h, 0, to));
  position_embeddings = register_module(
      "position_embeddings", std::make_shared<nn::Embedding>(cfg.max_position, h, std::nullopt, to));
  token_type_embeddings = register_module(
      "token_type_embeddings",
      std::make_shared<nn::Embedding>(cfg.type_vocab_size, h, std::nullopt, to));
  for (auto* e : {&word_embeddings->weight, &position_embeddings->weight, &token_type_embeddings->weight})
    nn::init::normal_(*e, 0.0, 0.02);
  embeddings_norm = register_module(
      "embeddings_norm", std::make_shared<nn::LayerNorm>(Shape{h}, cfg.layer_norm_eps, true, true, to));
  embeddings_dropout = register_module("embeddings_dropout", std::make_shared<nn::Dropout>(cfg.dropout));
  nn::TransformerLayerOptions lo;
  lo.dim_feedforward = cfg.intermediate_size;
  lo.dropout = cfg.dropout;
  lo.activation = "gelu";
  lo.layer_norm_eps = cfg.layer_norm_eps;
  lo.batch_first = true;
  lo.norm_first = false;
  layers = register_module("layers", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < cfg.num_layers; ++i)
    layers->push_back(std::make_shared<nn::TransformerEncoderLayer>(h, cfg.num_heads, lo, to));
  if (cfg.pooler) pooler = register_module("pooler", std::make_shared<nn::Linear>(h, h, true, to));
  if (cfg.num_labels > 0)
    classifier = register_module("classifier",
                                 std::make_shared<nn::Linear>(h, cfg.num_labels, true, to));
}

std::vector<Tensor> Bert::forward_list(const std::vector<Tensor>& in) {
  DS_CHECK(!in.empty() && in.size() <= 3, "[Bert] expects input_ids [, token_type_ids [, attention_mask]]");
  const Tensor& ids = in[0];
  DS_CHECK(ids.dim() == 2 && ids.dtype() == DType::i64, "[Bert] input_ids must be (N, S) i64, got ",
           to_string(ids.sizes()), " ", dtype_name(ids.dtype()));
  const int64_t n = ids.size(0), s = ids.size(1);
  DS_CHECK(s <= config.max_position, "[Bert] sequence length ", s, " exceeds max_position ",
           config.max_position);
  Tensor types = in.size() > 1 && in[1].defined() ? in[1] : zeros({n, s}, {DType::i64, ids.device()});
  Tensor pos = arange(s, {DType::i64, ids.device()});
  Tensor h = add(add((*word_embeddings)(ids), (*position_embeddings)(pos)),
                 (*token_type_embeddings)(types));
  h = (*embeddings_dropout)((*embeddings_norm)(h));
  Tensor kpm;
  if (in.size() > 2 && in[2].defined()) kpm = eq(in[2], Scalar(0));  // true = padding, ignore
  for (const auto& l : *layers)
    h = (*l)(std::vector<Tensor>{h, Tensor(), kpm})[0];
  std::vector<Tensor> out{h};
  if (pooler) {
    Tensor pooled = tanh((*pooler)(select(h, 1, 0)));
    out.push_back(pooled);
    if (classifier) out.push_back((*classifier)(pooled));
  } else if (classifier) {
    out.push_back((*classifier)(select(h, 1, 0)));
  }
  return out;
}

Tensor Bert::forward(const Tensor& ids) { return forward_list({ids}).back(); }

}  // namespace deepseek::models
