#include "deepseek/models/gpt.h"

#include <cmath>

#include "deepseek/models/config.h"

namespace deepseek::models {

GPTConfig GPTConfig::from_json(const nlohmann::json& j) {
  GPTConfig c;
  ConfigReader r(j, "gpt config");
  r.get("vocab_size", c.vocab_size);
  r.get("max_position", c.max_position);
  r.get("dim", c.dim);
  r.get("num_layers", c.num_layers);
  r.get("num_heads", c.num_heads);
  r.get("mlp_dim", c.mlp_dim);
  r.get("dropout", c.dropout);
  r.get("layer_norm_eps", c.layer_norm_eps);
  r.get("tie_embeddings", c.tie_embeddings);
  r.finish();
  if (c.dim <= 0 || c.num_heads <= 0 || c.dim % c.num_heads != 0)
    throw ConfigError("gpt config: dim must be a positive multiple of num_heads");
  if (c.vocab_size <= 0 || c.max_position <= 0 || c.num_layers < 0 || c.mlp_dim < 0)
    throw ConfigError("gpt config: sizes must be positive");
  return c;
}

nlohmann::json GPTConfig::gpt2_small_json() { return nlohmann::json::object(); }  // defaults

GPT::GPT(GPTConfig cfg, TensorOptions to) : nn::Module("GPT"), config(cfg) {
  wte = register_module("wte", std::make_shared<nn::Embedding>(cfg.vocab_size, cfg.dim, std::nullopt, to));
  wpe = register_module("wpe", std::make_shared<nn::Embedding>(cfg.max_position, cfg.dim, std::nullopt, to));
  nn::init::normal_(wte->weight, 0.0, 0.02);
  nn::init::normal_(wpe->weight, 0.0, 0.01);
  drop = register_module("drop", std::make_shared<nn::Dropout>(cfg.dropout));
  nn::TransformerLayerOptions lo;
  lo.dim_feedforward = cfg.mlp_dim > 0 ? cfg.mlp_dim : 4 * cfg.dim;
  lo.dropout = cfg.dropout;
  lo.activation = "gelu_tanh";
  lo.layer_norm_eps = cfg.layer_norm_eps;
  lo.batch_first = true;
  lo.norm_first = true;
  blocks = register_module("blocks", std::make_shared<nn::ModuleList>());
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    auto b = std::make_shared<nn::TransformerEncoderLayer>(cfg.dim, cfg.num_heads, lo, to);
    // GPT-2: residual projections scaled by 1/sqrt(2 × layers).
    nn::init::normal_(b->linear2->weight, 0.0, 0.02 / std::sqrt(2.0 * cfg.num_layers));
    nn::init::normal_(b->self_attn->out_proj->weight, 0.0, 0.02 / std::sqrt(2.0 * cfg.num_layers));
    blocks->push_back(b);
  }
  ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(Shape{cfg.dim}, cfg.layer_norm_eps,
                                                                 true, true, to));
  if (!cfg.tie_embeddings)
    lm_head = register_module("lm_head", std::make_shared<nn::Linear>(cfg.dim, cfg.vocab_size, false, to));
}

Tensor GPT::hidden_states(const Tensor& ids) {
  DS_CHECK(ids.dim() == 2 && ids.dtype() == DType::i64, "[GPT] ids must be (N, T) i64, got ",
           to_string(ids.sizes()), " ", dtype_name(ids.dtype()));
  const int64_t t = ids.size(1);
  DS_CHECK(t <= config.max_position, "[GPT] sequence length ", t, " exceeds max_position ",
           config.max_position);
  Tensor h = (*drop)(add((*wte)(ids), (*wpe)(arange(t, {DType::i64, ids.device()}))));
  for (const auto& b : *blocks)
    h = std::static_pointer_cast<nn::TransformerEncoderLayer>(b)->forward(h, Tensor(), Tensor(),
                                                                          /*is_causal=*/true);
  return (*ln_f)(h);
}

Tensor GPT::forward(const Tensor& ids) {
  Tensor h = hidden_states(ids);
  return lm_head ? (*lm_head)(h) : matmul(h, transpose(wte->weight, 0, 1));
}

}  // namespace deepseek::models
