#include "deepseek/nn/transformer.h"

#include "deepseek/core/error.h"

namespace deepseek::nn {

namespace {
MultiheadAttentionOptions attn_options(const TransformerLayerOptions& o) {
  MultiheadAttentionOptions a;
  a.dropout = o.dropout;
  a.bias = o.bias;
  a.batch_first = o.batch_first;
  return a;
}
Tensor at(const std::vector<Tensor>& v, size_t i) { return i < v.size() ? v[i] : Tensor(); }
}  // namespace

// ---- encoder ----

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d, int64_t h, TransformerLayerOptions o,
                                                 TensorOptions to)
    : Module("TransformerEncoderLayer"), options(o) {
  self_attn =
      register_module("self_attn", std::make_shared<MultiheadAttention>(d, h, attn_options(o), to));
  linear1 = register_module("linear1", std::make_shared<Linear>(d, o.dim_feedforward, o.bias, to));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, d, o.bias, to));
  norm1 = register_module(
      "norm1", std::make_shared<LayerNorm>(Shape{d}, o.layer_norm_eps, true, o.bias, to));
  norm2 = register_module(
      "norm2", std::make_shared<LayerNorm>(Shape{d}, o.layer_norm_eps, true, o.bias, to));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
  // Not registered: PyTorch keeps the activation as a plain function, outside the module tree.
  activation_ = make_activation(o.activation);
}

Tensor TransformerEncoderLayer::sa_block(const Tensor& x, const Tensor& mask, const Tensor& kpm,
                                         bool is_causal) {
  AttentionArgs a;
  a.attn_mask = mask;
  a.key_padding_mask = kpm;
  a.need_weights = false;
  a.is_causal = is_causal;
  return (*dropout1)((*self_attn)(x, x, x, a).first);
}

Tensor TransformerEncoderLayer::ff_block(const Tensor& x) {
  return (*dropout2)((*linear2)((*dropout)(activation_->forward((*linear1)(x)))));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& mask, const Tensor& kpm,
                                        bool is_causal) {
  Tensor x = src;
  if (options.norm_first) {
    x = add(x, sa_block((*norm1)(x), mask, kpm, is_causal));
    x = add(x, ff_block((*norm2)(x)));
  } else {
    x = (*norm1)(add(x, sa_block(x, mask, kpm, is_causal)));
    x = (*norm2)(add(x, ff_block(x)));
  }
  return x;
}

std::vector<Tensor> TransformerEncoderLayer::forward_list(const std::vector<Tensor>& in) {
  DS_CHECK(!in.empty() && in.size() <= 3,
           "[TransformerEncoderLayer] takes src[, src_mask[, "
           "src_key_padding_mask]], got ",
           in.size(), " inputs");
  return {forward(in[0], at(in, 1), at(in, 2))};
}

// ---- decoder ----

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d, int64_t h, TransformerLayerOptions o,
                                                 TensorOptions to)
    : Module("TransformerDecoderLayer"), options(o) {
  self_attn =
      register_module("self_attn", std::make_shared<MultiheadAttention>(d, h, attn_options(o), to));
  multihead_attn = register_module("multihead_attn",
                                   std::make_shared<MultiheadAttention>(d, h, attn_options(o), to));
  linear1 = register_module("linear1", std::make_shared<Linear>(d, o.dim_feedforward, o.bias, to));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, d, o.bias, to));
  norm1 = register_module(
      "norm1", std::make_shared<LayerNorm>(Shape{d}, o.layer_norm_eps, true, o.bias, to));
  norm2 = register_module(
      "norm2", std::make_shared<LayerNorm>(Shape{d}, o.layer_norm_eps, true, o.bias, to));
  norm3 = register_module(
      "norm3", std::make_shared<LayerNorm>(Shape{d}, o.layer_norm_eps, true, o.bias, to));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(o.dropout));
  activation_ = make_activation(o.activation);
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory,
                                        const Tensor& tgt_mask, const Tensor& memory_mask,
                                        const Tensor& tgt_kpm, const Tensor& memory_kpm,
                                        bool tgt_is_causal) {
  auto sa = [&](const Tensor& x) {
    AttentionArgs a;
    a.attn_mask = tgt_mask;
    a.key_padding_mask = tgt_kpm;
    a.need_weights = false;
    a.is_causal = tgt_is_causal;
    return (*dropout1)((*self_attn)(x, x, x, a).first);
  };
  auto mha = [&](const Tensor& x) {
    AttentionArgs a;
    a.attn_mask = memory_mask;
    a.key_padding_mask = memory_kpm;
    a.need_weights = false;
    return (*dropout2)((*multihead_attn)(x, memory, memory, a).first);
  };
  auto ff = [&](const Tensor& x) {
    return (*dropout3)((*linear2)((*dropout)(activation_->forward((*linear1)(x)))));
  };
  Tensor x = tgt;
  if (options.norm_first) {
    x = add(x, sa((*norm1)(x)));
    x = add(x, mha((*norm2)(x)));
    x = add(x, ff((*norm3)(x)));
  } else {
    x = (*norm1)(add(x, sa(x)));
    x = (*norm2)(add(x, mha(x)));
    x = (*norm3)(add(x, ff(x)));
  }
  return x;
}

std::vector<Tensor> TransformerDecoderLayer::forward_list(const std::vector<Tensor>& in) {
  DS_CHECK(in.size() >= 2 && in.size() <= 6,
           "[TransformerDecoderLayer] takes tgt, memory[, "
           "tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask], got ",
           in.size(), " inputs");
  return {forward(in[0], in[1], at(in, 2), at(in, 3), at(in, 4), at(in, 5))};
}

}  // namespace deepseek::nn
