// Linear algebra: matmul (batched, broadcast batch dims; 1-D operands as torch.matmul), mm,
// bmm, linear, addmm, and einsum (a composite that contracts operands pairwise through bmm).
// Backward rules are matrix products of the transposed operands, summed back over broadcast
// batch dims, so double backward and tracing of the backward pass come for free.
#include <algorithm>
#include <map>
#include <numeric>

#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::BackwardContext;
using ops::OpKind;
using ops::TensorMeta;
using Grads = std::vector<Tensor>;

DType check_operands(const std::vector<Tensor>& in, const char* op, size_t first = 0) {
  DType t = in[first].dtype();
  for (size_t i = first; i < in.size(); ++i) {
    DS_CHECK(is_floating(in[i].dtype()), "[", op, "] expects floating-point operands, got ",
             dtype_name(in[i].dtype()), " (operand ", i, ")");
    DS_CHECK(in[i].dtype() == t, "[", op, "] expects operands of one dtype, got ", dtype_name(t),
             " and ", dtype_name(in[i].dtype()), "; cast one of them first");
  }
  return t;
}

Tensor mT(const Tensor& t) { return transpose(t, -1, -2); }

double matmul_flops(const std::vector<TensorMeta>& in, const std::vector<TensorMeta>& out, const Attrs&) {
  return 2.0 * static_cast<double>(numel(out[0].sizes)) * static_cast<double>(in[0].sizes.back());
}

// The batched product's backward: transposed products, summed over broadcast batch dims.
Grads product_backward(const BackwardContext& c, const Tensor& a, const Tensor& b, double alpha) {
  const Tensor& g = c.grads[0];
  Grads r(2);
  if (c.needs_grad[0]) {
    r[0] = matmul(g, mT(b));
    if (alpha != 1) r[0] = mul(r[0], alpha);
    r[0] = ops::reduce_grad_to(r[0], ops::meta_of(a));
  }
  if (c.needs_grad[1]) {
    r[1] = matmul(mT(a), g);
    if (alpha != 1) r[1] = mul(r[1], alpha);
    r[1] = ops::reduce_grad_to(r[1], ops::meta_of(b));
  }
  return r;
}

ops::ChannelRule matmul_channels() {
  ops::ChannelRule r;
  r.links = {{0, -2, -2}, {1, -1, -1}, {0, -1, -1000}, {1, -2, -1000}};
  return r;
}

void define() {
  // matmul: both operands at least 2-D here (the public function handles 1-D operands).
  auto& m = ops::define_op("matmul", OpKind::opaque, 2);
  m.infer = [](std::vector<Tensor>& in, const Attrs&) {
    const Tensor &a = in[0], &b = in[1];
    DS_CHECK(a.dim() >= 2 && b.dim() >= 2, "[matmul] operands must be at least 2-D here, got shapes ",
             to_string(a.sizes()), " and ", to_string(b.sizes()));
    DType t = check_operands(in, "matmul");
    int64_t K = a.sizes().back();
    DS_CHECK(K == b.sizes()[b.dim() - 2], "[matmul] inner dims do not match: ", to_string(a.sizes()),
             " @ ", to_string(b.sizes()), " (", K, " != ", b.sizes()[b.dim() - 2], ")");
    Shape ba(a.sizes().begin(), a.sizes().end() - 2), bb(b.sizes().begin(), b.sizes().end() - 2);
    Shape s = broadcast_shapes(ba, bb, "matmul");
    s.push_back(a.sizes()[a.dim() - 2]);
    s.push_back(b.sizes().back());
    return std::vector<TensorMeta>{{s, t, a.device()}};
  };
  m.flops = matmul_flops;
  m.channels = matmul_channels();
  m.backward = [](const BackwardContext& c) { return product_backward(c, c.inputs[0], c.inputs[1], 1); };

  auto& mm_ = ops::define_op("mm", OpKind::opaque, 2);
  mm_.infer = [](std::vector<Tensor>& in, const Attrs&) {
    DS_CHECK(in[0].dim() == 2, "[mm] first operand must be 2-D (M, K), got shape ", to_string(in[0].sizes()));
    DS_CHECK(in[1].dim() == 2, "[mm] second operand must be 2-D (K, N), got shape ", to_string(in[1].sizes()));
    DType t = check_operands(in, "mm");
    DS_CHECK(in[0].sizes()[1] == in[1].sizes()[0], "[mm] inner dims do not match: ",
             to_string(in[0].sizes()), " @ ", to_string(in[1].sizes()));
    return std::vector<TensorMeta>{{{in[0].sizes()[0], in[1].sizes()[1]}, t, in[0].device()}};
  };
  mm_.flops = matmul_flops;
  mm_.channels = matmul_channels();
  mm_.backward = [](const BackwardContext& c) {
    Grads r(2);
    if (c.needs_grad[0]) r[0] = mm(c.grads[0], mT(c.inputs[1]));
    if (c.needs_grad[1]) r[1] = mm(mT(c.inputs[0]), c.grads[0]);
    return r;
  };

  auto& bm = ops::define_op("bmm", OpKind::opaque, 2);
  bm.infer = [](std::vector<Tensor>& in, const Attrs&) {
    DS_CHECK(in[0].dim() == 3, "[bmm] first operand must be 3-D (B, M, K), got shape ", to_string(in[0].sizes()));
    DS_CHECK(in[1].dim() == 3, "[bmm] second operand must be 3-D (B, K, N), got shape ", to_string(in[1].sizes()));
    DType t = check_operands(in, "bmm");
    DS_CHECK(in[0].sizes()[0] == in[1].sizes()[0], "[bmm] batch sizes differ: ",
             to_string(in[0].sizes()), " and ", to_string(in[1].sizes()));
    DS_CHECK(in[0].sizes()[2] == in[1].sizes()[1], "[bmm] inner dims do not match: ",
             to_string(in[0].sizes()), " @ ", to_string(in[1].sizes()));
    return std::vector<TensorMeta>{{{in[0].sizes()[0], in[0].sizes()[1], in[1].sizes()[2]}, t, in[0].device()}};
  };
  bm.flops = matmul_flops;
  bm.channels = matmul_channels();
  bm.backward = [](const BackwardContext& c) {
    Grads r(2);
    if (c.needs_grad[0]) r[0] = bmm(c.grads[0], mT(c.inputs[1]));
    if (c.needs_grad[1]) r[1] = bmm(mT(c.inputs[0]), c.grads[0]);
    return r;
  };

  // linear(x, weight[, bias]): x [*, in] @ weight[out, in]^T + bias[out].
  auto& l = ops::define_op("linear", OpKind::opaque, -1);
  l.infer = [](std::vector<Tensor>& in, const Attrs&) {
    DS_CHECK(in.size() == 2 || in.size() == 3, "[linear] expects (input, weight[, bias]), got ",
             in.size(), " tensors");
    const Tensor &x = in[0], &w = in[1];
    DS_CHECK(x.dim() >= 1, "[linear] input must be at least 1-D (*, in_features), got a 0-d tensor");
    DS_CHECK(w.dim() == 2, "[linear] weight must be 2-D (out_features, in_features), got shape ",
             to_string(w.sizes()));
    DType t = check_operands(in, "linear");
    DS_CHECK(x.sizes().back() == w.sizes()[1], "[linear] input's last dim (", x.sizes().back(),
             ") does not match weight's in_features (", w.sizes()[1], "): input ",
             to_string(x.sizes()), ", weight ", to_string(w.sizes()));
    if (in.size() == 3)
      DS_CHECK(in[2].dim() == 1 && in[2].sizes()[0] == w.sizes()[0], "[linear] bias must be 1-D of size ",
               w.sizes()[0], " (out_features), got shape ", to_string(in[2].sizes()));
    Shape s = x.sizes();
    s.back() = w.sizes()[0];
    return std::vector<TensorMeta>{{s, t, x.device()}};
  };
  l.flops = [](const std::vector<TensorMeta>& in, const std::vector<TensorMeta>& out, const Attrs&) {
    double n = static_cast<double>(numel(out[0].sizes));
    return 2.0 * n * static_cast<double>(in[0].sizes.back()) + (in.size() > 2 ? n : 0.0);
  };
  l.channels.links = {{1, 0, -1}, {2, 0, -1}, {0, -1, -1000}, {1, 1, -1000}};
  l.backward = [](const BackwardContext& c) {
    const Tensor &g = c.grads[0], &x = c.inputs[0], &w = c.inputs[1];
    int64_t N = w.sizes()[0], K = w.sizes()[1];
    Grads r(c.inputs.size());
    if (c.needs_grad[0]) r[0] = matmul(g, w);
    if (c.needs_grad[1]) r[1] = mm(mT(reshape(g, {-1, N})), reshape(x, {-1, K}));
    if (c.inputs.size() > 2 && c.needs_grad[2]) r[2] = sum_to(g, {N});
    return r;
  };

  // addmm(bias, a, b): beta * bias + alpha * a @ b, bias broadcast to (M, N).
  auto& am = ops::define_op("addmm", OpKind::opaque, 3);
  am.infer = [](std::vector<Tensor>& in, const Attrs&) {
    DS_CHECK(in[1].dim() == 2, "[addmm] first matrix must be 2-D (M, K), got shape ", to_string(in[1].sizes()));
    DS_CHECK(in[2].dim() == 2, "[addmm] second matrix must be 2-D (K, N), got shape ", to_string(in[2].sizes()));
    DType t = check_operands(in, "addmm");
    DS_CHECK(in[1].sizes()[1] == in[2].sizes()[0], "[addmm] inner dims do not match: ",
             to_string(in[1].sizes()), " @ ", to_string(in[2].sizes()));
    Shape s{in[1].sizes()[0], in[2].sizes()[1]};
    DS_CHECK(in[0].dim() <= 2 && broadcast_shapes(in[0].sizes(), s, "addmm") == s, "[addmm] bias of shape ",
             to_string(in[0].sizes()), " does not broadcast to the product's shape ", to_string(s));
    return std::vector<TensorMeta>{{s, t, in[1].device()}};
  };
  am.flops = [](const std::vector<TensorMeta>& in, const std::vector<TensorMeta>& out, const Attrs&) {
    double n = static_cast<double>(numel(out[0].sizes));
    return 2.0 * n * static_cast<double>(in[1].sizes.back()) + 2.0 * n;
  };
  am.channels.links = {{1, 0, 0}, {2, 1, 1}, {1, 1, -1000}, {2, 0, -1000}};
  am.backward = [](const BackwardContext& c) {
    double alpha = c.attrs.get<double>("alpha", 1.0), beta = c.attrs.get<double>("beta", 1.0);
    const Tensor& g = c.grads[0];
    Grads r(3);
    if (c.needs_grad[0]) r[0] = ops::reduce_grad_to(beta == 1 ? g : mul(g, beta), c.input_meta[0]);
    if (c.needs_grad[1]) r[1] = mm(g, mT(c.inputs[2]));
    if (c.needs_grad[2]) r[2] = mm(mT(c.inputs[1]), g);
    if (alpha != 1)
      for (int i : {1, 2})
        if (r[i].defined()) r[i] = mul(r[i], alpha);
    return r;
  };
}
DS_REGISTER(define);

Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  static const auto op = ops::op_id("matmul");
  return ops::dispatch1(op, {a, b});
}

// ---- einsum ----
// Labels are ints: letters 0..51 (A-Z, a-z), ellipsis dims 100+ (aligned from the right).
struct Term {
  std::vector<int> labels;
  bool ellipsis = false;
  size_t ellipsis_at = 0;  // position of "..." among the letters
};

int letter_id(char ch) {
  // Upper case sorts first, as PyTorch orders an implicit output.
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return 26 + (ch - 'a');
  DS_THROW("[einsum] invalid subscript '", ch, "': only letters a-z, A-Z and '...' are allowed");
}

Term parse_term(const std::string& s) {
  Term t;
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    if (ch == ' ') continue;
    if (ch == '.') {
      DS_CHECK(s.compare(i, 3, "...") == 0, "[einsum] malformed ellipsis in '", s, "'");
      DS_CHECK(!t.ellipsis, "[einsum] more than one ellipsis in '", s, "'");
      t.ellipsis = true;
      t.ellipsis_at = t.labels.size();
      i += 2;
      continue;
    }
    t.labels.push_back(letter_id(ch));
  }
  return t;
}

std::vector<int> expand_term(const Term& t, int64_t ndim, int64_t ell_dims, size_t operand) {
  int64_t n_ell = ndim - static_cast<int64_t>(t.labels.size());
  DS_CHECK(t.ellipsis ? n_ell >= 0 : n_ell == 0, "[einsum] operand ", operand, " has ", ndim,
           " dims but its subscripts name ", t.labels.size());
  std::vector<int> out(t.labels.begin(), t.labels.begin() + t.ellipsis_at);
  if (!t.ellipsis) return std::vector<int>(t.labels);
  for (int64_t k = 0; k < n_ell; ++k) out.push_back(100 + static_cast<int>(ell_dims - n_ell + k));
  out.insert(out.end(), t.labels.begin() + t.ellipsis_at, t.labels.end());
  return out;
}

struct Operand {
  Tensor t;
  std::vector<int> labels;
};

int64_t dim_of(const Operand& o, int label) {
  auto it = std::find(o.labels.begin(), o.labels.end(), label);
  return it == o.labels.end() ? -1 : it - o.labels.begin();
}

// Sums out dims whose label is not in `keep`.
Operand sum_unused(Operand o, const std::vector<int>& keep) {
  std::vector<int64_t> dims;
  std::vector<int> left;
  for (size_t i = 0; i < o.labels.size(); ++i) {
    if (std::find(keep.begin(), keep.end(), o.labels[i]) == keep.end()) dims.push_back(static_cast<int64_t>(i));
    else left.push_back(o.labels[i]);
  }
  if (!dims.empty()) o.t = sum(o.t, dims);
  o.labels = left;
  return o;
}

Operand contract(Operand A, Operand B, const std::vector<int>& keep) {
  std::vector<int> keep_a = keep, keep_b = keep;
  keep_a.insert(keep_a.end(), B.labels.begin(), B.labels.end());
  keep_b.insert(keep_b.end(), A.labels.begin(), A.labels.end());
  A = sum_unused(A, keep_a);
  B = sum_unused(B, keep_b);
  auto kept = [&](int l) { return std::find(keep.begin(), keep.end(), l) != keep.end(); };
  std::vector<int> batch, contr, a_only, b_only;
  for (int l : A.labels) {
    if (dim_of(B, l) >= 0) (kept(l) ? batch : contr).push_back(l);
    else a_only.push_back(l);
  }
  for (int l : B.labels)
    if (dim_of(A, l) < 0) b_only.push_back(l);
  // Labels shared by both operands broadcast (size 1 against n).
  std::map<int, int64_t> size;
  for (int l : A.labels) size[l] = A.t.sizes()[dim_of(A, l)];
  for (int l : B.labels) {
    int64_t s = B.t.sizes()[dim_of(B, l)];
    if (size.count(l) && size[l] != s)
      DS_CHECK(size[l] == 1 || s == 1, "[einsum] subscript ", l < 26 ? char('A' + l) : l < 52 ? char('a' + l - 26) : '.',
               " has size ", size[l], " in one operand and ", s, " in another");
    size[l] = size.count(l) ? std::max(size[l], s) : s;
  }
  auto arrange = [&](const Operand& o, const std::vector<std::vector<int>>& groups) {
    std::vector<int64_t> perm;
    Shape full;
    for (auto& g : groups)
      for (int l : g) {
        perm.push_back(dim_of(o, l));
        full.push_back(size[l]);
      }
    Tensor t = permute(o.t, perm);
    if (t.sizes() != full) t = expand(t, full);
    Shape s;
    for (auto& g : groups) {
      int64_t p = 1;
      for (int l : g) p *= size[l];
      s.push_back(p);
    }
    return reshape(t, s);
  };
  Tensor a3 = arrange(A, {batch, a_only, contr});
  Tensor b3 = arrange(B, {batch, contr, b_only});
  Tensor r = bmm(a3, b3);
  Operand out;
  Shape s;
  for (auto* g : {&batch, &a_only, &b_only})
    for (int l : *g) {
      out.labels.push_back(l);
      s.push_back(size[l]);
    }
  out.t = reshape(r, s);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  DS_CHECK(a.defined() && b.defined(), "[matmul] got an undefined tensor");
  DS_CHECK(a.dim() >= 1 && b.dim() >= 1, "[matmul] both operands need at least 1 dim, got shapes ",
           to_string(a.sizes()), " and ", to_string(b.sizes()));
  if (a.dim() == 1 && b.dim() == 1) {
    DS_CHECK(a.sizes()[0] == b.sizes()[0], "[matmul] 1-D operands of different sizes: ", a.sizes()[0],
             " and ", b.sizes()[0]);
    return reshape(matmul_nd(unsqueeze(a, 0), unsqueeze(b, 1)), {});
  }
  if (a.dim() == 1) return squeeze(matmul_nd(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul_nd(a, unsqueeze(b, 1)), -1);
  if (b.dim() == 2 && a.dim() > 2 && a.sizes().back() == b.sizes()[0] && a.is_contiguous()) {
    // (*, M, K) @ (K, N): one large 2-D product instead of a batch of small ones.
    Shape s = a.sizes();
    s.back() = b.sizes()[1];
    return reshape(matmul_nd(reshape(a, {-1, a.sizes().back()}), b), s);
  }
  return matmul_nd(a, b);
}

Tensor mm(const Tensor& a, const Tensor& b) {
  static const auto op = ops::op_id("mm");
  return ops::dispatch1(op, {a, b});
}
Tensor bmm(const Tensor& a, const Tensor& b) {
  static const auto op = ops::op_id("bmm");
  return ops::dispatch1(op, {a, b});
}
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  static const auto op = ops::op_id("linear");
  if (bias.defined()) return ops::dispatch1(op, {x, weight, bias});
  return ops::dispatch1(op, {x, weight});
}
Tensor addmm(const Tensor& bias, const Tensor& a, const Tensor& b, const Scalar& beta, const Scalar& alpha) {
  static const auto op = ops::op_id("addmm");
  Attrs at;
  if (alpha.to_double() != 1) at.set("alpha", ops::AttrValue(alpha.to_double()));
  if (beta.to_double() != 1) at.set("beta", ops::AttrValue(beta.to_double()));
  return ops::dispatch1(op, {bias, a, b}, at);
}

Tensor Tensor::matmul(const Tensor& o) const { return deepseek::matmul(*this, o); }

Tensor einsum(const std::string& equation, const std::vector<Tensor>& operands) {
  DS_CHECK(!operands.empty(), "[einsum] needs at least one operand");
  for (size_t i = 0; i < operands.size(); ++i)
    DS_CHECK(operands[i].defined(), "[einsum] operand ", i, " is undefined");
  std::string lhs = equation, rhs;
  bool explicit_out = false;
  if (auto arrow = equation.find("->"); arrow != std::string::npos) {
    lhs = equation.substr(0, arrow);
    rhs = equation.substr(arrow + 2);
    explicit_out = true;
  }
  std::vector<Term> terms;
  size_t start = 0;
  while (true) {
    size_t comma = lhs.find(',', start);
    terms.push_back(parse_term(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  DS_CHECK(terms.size() == operands.size(), "[einsum] the equation names ", terms.size(),
           " operands but ", operands.size(), " were given");
  int64_t ell_dims = 0;
  for (size_t i = 0; i < terms.size(); ++i)
    if (terms[i].ellipsis)
      ell_dims = std::max<int64_t>(ell_dims, operands[i].dim() - static_cast<int64_t>(terms[i].labels.size()));
  std::vector<Operand> ops_;
  std::map<int, int> count;
  for (size_t i = 0; i < terms.size(); ++i) {
    auto labels = expand_term(terms[i], operands[i].dim(), ell_dims, i);
    for (size_t x = 0; x < labels.size(); ++x)
      for (size_t y = x + 1; y < labels.size(); ++y)
        DS_CHECK(labels[x] != labels[y], "[einsum] repeated subscript in operand ", i,
                 " (taking a diagonal) is not supported");
    for (int l : labels) ++count[l];
    ops_.push_back({operands[i], labels});
  }
  std::vector<int> out;
  if (explicit_out) {
    Term t = parse_term(rhs);
    out = expand_term(t, static_cast<int64_t>(t.labels.size()) + (t.ellipsis ? ell_dims : 0), ell_dims, 0);
    for (int l : out)
      DS_CHECK(count.count(l), "[einsum] output subscript does not appear in any input");
    for (size_t x = 0; x < out.size(); ++x)
      for (size_t y = x + 1; y < out.size(); ++y)
        DS_CHECK(out[x] != out[y], "[einsum] output subscript repeated");
  } else {
    for (int64_t k = 0; k < ell_dims; ++k) out.push_back(100 + static_cast<int>(k));
    for (auto& [l, n] : count)
      if (l < 100 && n == 1) out.push_back(l);
  }
  DType t = operands[0].dtype();
  for (auto& o : operands)
    DS_CHECK(is_floating(o.dtype()) && o.dtype() == t, "[einsum] expects floating-point operands of one dtype, got ",
             dtype_name(t), " and ", dtype_name(o.dtype()));

  // Labels still needed after operand k: the output's and those of later operands.
  auto needed_after = [&](size_t k) {
    std::vector<int> keep = out;
    for (size_t j = k + 1; j < ops_.size(); ++j) keep.insert(keep.end(), ops_[j].labels.begin(), ops_[j].labels.end());
    return keep;
  };
  auto with = [](std::vector<int> v, const std::vector<int>& more) {
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  Operand acc = sum_unused(ops_[0], with(needed_after(0), ops_.size() > 1 ? ops_[1].labels : std::vector<int>{}));
  for (size_t k = 1; k < ops_.size(); ++k) {
    Operand next = sum_unused(ops_[k], with(needed_after(k), acc.labels));
    acc = contract(acc, next, needed_after(k));
  }
  acc = sum_unused(acc, out);
  std::vector<int64_t> perm;
  for (int l : out) perm.push_back(dim_of(acc, l));
  if (perm.empty()) return acc.t;
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == static_cast<int64_t>(i);
  return identity ? acc.t : permute(acc.t, perm);
}

}  // namespace deepseek
