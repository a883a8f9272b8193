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

// PyTorch's copy.deepcopy of a layer: same configuration, dtype, device, mode and values.
template <typename Layer>
std::shared_ptr<Layer> clone_layer(const Layer& layer) {
  const Tensor& w = layer.linear1->weight;
  auto copy = std::make_shared<Layer>(layer.self_attn->embed_dim, layer.self_attn->num_heads,
                                      layer.options, TensorOptions(w.dtype(), w.device()));
  copy->load_state_dict(layer.state_dict());
  copy->train(layer.is_training());
  return copy;
}

template <typename Layer>
std::shared_ptr<ModuleList> clone_layers(const Layer& layer, int64_t n, const char* owner) {
  DS_CHECK(n >= 0, "[", owner, "] num_layers must be >= 0, got ", n);
  auto list = std::make_shared<ModuleList>();
  for (int64_t i = 0; i < n; ++i) list->push_back(clone_layer(layer));
  return list;
}

// The (L, S) boolean causal mask (true above the diagonal = masked) that an is_causal flag
// without an explicit mask stands for; the explicit mask wins when given, as in
// MultiheadAttention. Built once here so the layers can be called through call() (hooks).
Tensor causal_or(const Tensor& mask, bool is_causal, int64_t L, int64_t S, Device device) {
  if (mask.defined() || !is_causal) return mask;
  return triu(ones({L, S}, {DType::b8, device}), 1);
}
std::shared_ptr<LayerNorm> make_norm(int64_t d, const TransformerLayerOptions& o, TensorOptions to) {
  return std::make_shared<LayerNorm>(Shape{d}, o.layer_norm_eps, true, o.bias, to);
}
// An attention block's output (before its dropout): queries q over keys and values kv.
Tensor attend(MultiheadAttention& m, const Tensor& q, const Tensor& kv, const Tensor& mask, const Tensor& kpm,
              bool is_causal) {
  AttentionArgs a;
  a.attn_mask = mask;
  a.key_padding_mask = kpm;
  a.need_weights = false;
  a.is_causal = is_causal;
  return m(q, kv, kv, a).first;
}
int64_t seq_len(const Tensor& x, bool batch_first, const char* owner) {
  DS_CHECK(x.dim() == 3, "[", owner, "] input must be 3-D, got ", to_string(x.sizes()));
  return x.size(batch_first ? 1 : 0);
}
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
  norm1 = register_module("norm1", make_norm(d, o, to));
  norm2 = register_module("norm2", make_norm(d, o, to));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
  // Not registered: PyTorch keeps the activation as a plain function, outside the module tree.
  activation_ = make_activation(o.activation);
}

Tensor TransformerEncoderLayer::sa_block(const Tensor& x, const Tensor& mask, const Tensor& kpm,
                                         bool is_causal) {
  return (*dropout1)(attend(*self_attn, x, x, mask, kpm, is_causal));
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

std::shared_ptr<TransformerEncoderLayer> TransformerEncoderLayer::clone() const {
  return clone_layer(*this);
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
  norm1 = register_module("norm1", make_norm(d, o, to));
  norm2 = register_module("norm2", make_norm(d, o, to));
  norm3 = register_module("norm3", make_norm(d, o, to));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(o.dropout));
  activation_ = make_activation(o.activation);
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory,
                                        const Tensor& tgt_mask, const Tensor& memory_mask,
                                        const Tensor& tgt_kpm, const Tensor& memory_kpm,
                                        bool tgt_is_causal, bool memory_is_causal) {
  auto sa = [&](const Tensor& x) { return (*dropout1)(attend(*self_attn, x, x, tgt_mask, tgt_kpm, tgt_is_causal)); };
  auto mha = [&](const Tensor& x) {
    return (*dropout2)(attend(*multihead_attn, x, memory, memory_mask, memory_kpm, memory_is_causal));
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

std::shared_ptr<TransformerDecoderLayer> TransformerDecoderLayer::clone() const {
  return clone_layer(*this);
}

// ---- stacks ----

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayer& encoder_layer, int64_t n,
                                       ModulePtr norm_module)
    : Module("TransformerEncoder"), num_layers(n) {
  layers = register_module("layers", clone_layers(encoder_layer, n, "TransformerEncoder"));
  if (norm_module) norm = register_module("norm", std::move(norm_module));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& kpm,
                                   bool is_causal) {
  Tensor m = mask;
  if (is_causal && !mask.defined() && num_layers > 0) {
    int64_t S = seq_len(src, layer(0)->options.batch_first, "TransformerEncoder");
    m = causal_or(mask, is_causal, S, S, src.device());
  }
  Tensor x = src;
  for (const auto& l : *layers) x = first(l->call({x, m, kpm}));
  if (norm) x = (*norm)(x);
  return x;
}

std::vector<Tensor> TransformerEncoder::forward_list(const std::vector<Tensor>& in) {
  DS_CHECK(!in.empty() && in.size() <= 3,
           "[TransformerEncoder] takes src[, mask[, src_key_padding_mask]], got ", in.size(),
           " inputs");
  return {forward(in[0], at(in, 1), at(in, 2))};
}

TransformerDecoder::TransformerDecoder(const TransformerDecoderLayer& decoder_layer, int64_t n,
                                       ModulePtr norm_module)
    : Module("TransformerDecoder"), num_layers(n) {
  layers = register_module("layers", clone_layers(decoder_layer, n, "TransformerDecoder"));
  if (norm_module) norm = register_module("norm", std::move(norm_module));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_kpm,
                                   const Tensor& memory_kpm, bool tgt_is_causal,
                                   bool memory_is_causal) {
  Tensor tm = tgt_mask, mm = memory_mask;
  if (num_layers > 0 && ((tgt_is_causal && !tm.defined()) || (memory_is_causal && !mm.defined()))) {
    bool bf = layer(0)->options.batch_first;
    int64_t T = seq_len(tgt, bf, "TransformerDecoder");
    int64_t S = seq_len(memory, bf, "TransformerDecoder");
    tm = causal_or(tm, tgt_is_causal, T, T, tgt.device());
    mm = causal_or(mm, memory_is_causal, T, S, tgt.device());
  }
  Tensor x = tgt;
  for (const auto& l : *layers) x = first(l->call({x, memory, tm, mm, tgt_kpm, memory_kpm}));
  if (norm) x = (*norm)(x);
  return x;
}

std::vector<Tensor> TransformerDecoder::forward_list(const std::vector<Tensor>& in) {
  DS_CHECK(in.size() >= 2 && in.size() <= 6,
           "[TransformerDecoder] takes tgt, memory[, tgt_mask, memory_mask, "
           "tgt_key_padding_mask, memory_key_padding_mask], got ",
           in.size(), " inputs");
  return {forward(in[0], in[1], at(in, 2), at(in, 3), at(in, 4), at(in, 5))};
}

}  // namespace deepseek::nn
