// A GPT-style decoder-only Transformer (Radford et al. 2019): token + learned position
// embeddings, pre-norm causal self-attention blocks with a tanh-GELU MLP, a final LayerNorm,
// and a language-model head tied to the token embedding by default. GPT-2 small (50,257
// tokens, 1,024 positions, 768 wide, 12 layers, 12 heads) has 124,439,808 parameters.
#pragma once

#include <nlohmann/json.hpp>

#include "deepseek/nn/nn.h"

namespace deepseek::models {

struct GPTConfig {
  int64_t vocab_size = 50257, max_position = 1024, dim = 768, num_layers = 12, num_heads = 12;
  int64_t mlp_dim = 0;  // 0: 4 × dim
  double dropout = 0.1, layer_norm_eps = 1e-5;
  bool tie_embeddings = true;
  static GPTConfig from_json(const nlohmann::json& j);
  static nlohmann::json gpt2_small_json();
};

class GPT : public nn::Module {
 public:
  explicit GPT(GPTConfig config = {}, TensorOptions to = {});
  // token ids (N, T) i64 -> next-token logits (N, T, vocab).
  Tensor forward(const Tensor& ids) override;
  // Hidden states before the head: (N, T, dim).
  Tensor hidden_states(const Tensor& ids);

  GPTConfig config;
  std::shared_ptr<nn::Embedding> wte, wpe;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::ModuleList> blocks;
  std::shared_ptr<nn::LayerNorm> ln_f;
  std::shared_ptr<nn::Linear> lm_head;  // only when not tied
};

}  // namespace deepseek::models
