// Transformer encoder and decoder layers, as torch.nn.TransformerEncoderLayer /
// TransformerDecoderLayer: same submodule names (self_attn, linear1, norm1, ...), post-norm by
// default or pre-norm with norm_first, relu or gelu activation, dropout after attention and
// in the feed-forward block.
#pragma once

#include <string>

#include "deepseek/nn/activation.h"
#include "deepseek/nn/attention.h"
#include "deepseek/nn/linear.h"
#include "deepseek/nn/norm.h"

namespace deepseek::nn {

struct TransformerLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // relu, gelu, gelu_tanh, silu
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;
  bool bias = true;
};

class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions options = {},
                          TensorOptions to = {});
  // src_mask: (S, S) or (N·heads, S, S); src_key_padding_mask: (N, S); true = masked.
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = {},
                 bool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor()); }
  // {src[, src_mask[, src_key_padding_mask]]}
  std::vector<Tensor> forward_list(const std::vector<Tensor>& inputs) override;

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  Tensor sa_block(const Tensor& x, const Tensor& mask, const Tensor& kpm, bool is_causal);
  Tensor ff_block(const Tensor& x);
  ModulePtr activation_;
};

class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions options = {},
                          TensorOptions to = {});
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                 const Tensor& memory_key_padding_mask = {}, bool tgt_is_causal = false);
  // {tgt, memory[, tgt_mask[, memory_mask[, tgt_key_padding_mask[, memory_key_padding_mask]]]]}
  std::vector<Tensor> forward_list(const std::vector<Tensor>& inputs) override;

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;

 private:
  ModulePtr activation_;
};

}  // namespace deepseek::nn
