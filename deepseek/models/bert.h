// A BERT-style Transformer encoder (Devlin et al. 2019) in Hugging Face's arrangement:
// word + position + token-type embeddings with LayerNorm, post-norm encoder layers with a GELU
// feed-forward, and a tanh pooler on the first token. BERT-base (30,522 tokens, 768 wide, 12
// layers, 12 heads) with the pooler has 109,482,240 parameters.
#pragma once

#include <nlohmann/json.hpp>

#include "deepseek/nn/nn.h"

namespace deepseek::models {

struct BertConfig {
  int64_t vocab_size = 30522, hidden_size = 768, num_layers = 12, num_heads = 12;
  int64_t intermediate_size = 3072, max_position = 512, type_vocab_size = 2;
  double dropout = 0.1, layer_norm_eps = 1e-12;
  bool pooler = true;
  int64_t num_labels = 0;  // > 0: a classification head on the pooled output
  static BertConfig from_json(const nlohmann::json& j);
  static nlohmann::json base_json();
};

class Bert : public nn::Module {
 public:
  explicit Bert(BertConfig config = {}, TensorOptions to = {});
  // inputs: input_ids (N, S) i64 [, token_type_ids (N, S) [, attention_mask (N, S): 1 = token,
  // 0 = padding]]. Returns {sequence_output (N, S, H)[, pooled (N, H)][, logits (N, labels)]}.
  std::vector<Tensor> forward_list(const std::vector<Tensor>& inputs) override;
  // input_ids alone: logits with a head, else pooled output with a pooler, else the sequence.
  Tensor forward(const Tensor& input_ids) override;

  BertConfig config;
  std::shared_ptr<nn::Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> embeddings_norm;
  std::shared_ptr<nn::Dropout> embeddings_dropout;
  std::shared_ptr<nn::ModuleList> layers;
  std::shared_ptr<nn::Linear> pooler, classifier;
};

}  // namespace deepseek::models
