// Transformer encoder and decoder layers, as torch.nn.TransformerEncoderLayer /
// TransformerDecoderLayer: same submodule names (self_attn, linear1, norm1, ...), post-norm by
// default or pre-norm with norm_first, relu or gelu activation, dropout after attention and
// in the feed-forward block. TransformerEncoder / TransformerDecoder stack clones of a layer
// under "layers.0", "layers.1", ... with an optional final "norm", as torch.nn.TransformerEncoder
// / TransformerDecoder, so PyTorch state_dicts load unchanged.
#pragma once

#include <string>

#include "deepseek/nn/activation.h"
#include "deepseek/nn/attention.h"
#include "deepseek/nn/container.h"
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
  // A new layer with the same configuration, dtype, device, mode and parameter values
  // (PyTorch's copy.deepcopy of a layer; the copy shares no storage with this one).
  std::shared_ptr<TransformerEncoderLayer> clone() const;

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
                 const Tensor& memory_key_padding_mask = {}, bool tgt_is_causal = false,
                 bool memory_is_causal = false);
  // {tgt, memory[, tgt_mask[, memory_mask[, tgt_key_padding_mask[, memory_key_padding_mask]]]]}
  std::vector<Tensor> forward_list(const std::vector<Tensor>& inputs) override;
  std::shared_ptr<TransformerDecoderLayer> clone() const;

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;

 private:
  ModulePtr activation_;
};

// num_layers clones of encoder_layer (each starts with encoder_layer's values, as PyTorch's
// deepcopy; the prototype itself is not registered) and an optional final norm (any module,
// usually LayerNorm). Masks as in TransformerEncoderLayer, passed to every layer.
// Unlike PyTorch's eval-mode nested-tensor fast path, padded positions are not zeroed.
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const TransformerEncoderLayer& encoder_layer, int64_t num_layers,
                     ModulePtr norm = nullptr);
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = {},
                 bool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor()); }
  // {src[, mask[, src_key_padding_mask]]}
  std::vector<Tensor> forward_list(const std::vector<Tensor>& inputs) override;
  std::shared_ptr<TransformerEncoderLayer> layer(int64_t i) const {
    return layers->at<TransformerEncoderLayer>(i);
  }

  int64_t num_layers;
  std::shared_ptr<ModuleList> layers;
  ModulePtr norm;  // null when absent (no "norm.*" keys)
};

class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerDecoderLayer& decoder_layer, int64_t num_layers,
                     ModulePtr norm = nullptr);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                 const Tensor& memory_key_padding_mask = {}, bool tgt_is_causal = false,
                 bool memory_is_causal = false);
  // {tgt, memory[, tgt_mask[, memory_mask[, tgt_key_padding_mask[, memory_key_padding_mask]]]]}
  std::vector<Tensor> forward_list(const std::vector<Tensor>& inputs) override;
  std::shared_ptr<TransformerDecoderLayer> layer(int64_t i) const {
    return layers->at<TransformerDecoderLayer>(i);
  }

  int64_t num_layers;
  std::shared_ptr<ModuleList> layers;
  ModulePtr norm;
};

}  // namespace deepseek::nn
