// Losses, as composites of public ops (autograd and tracing come for free), except
// cross_entropy over 2-D logits on devices with the fused softmax_cross_entropy kernel. Each
// checks its arguments up front so a bad call fails with an Error naming the loss, not an
// inner op. Semantics follow torch.nn.functional: reduction "mean" / "sum" / "none" (kl_div
// also takes "batchmean"); nll_loss/cross_entropy "mean" divides by the summed weights of the
// targets that are not ignore_index.
#include <cmath>

#include "deepseek/ops/defs/common.h"
#include "deepseek/ops/autocast.h"
#include "deepseek/ops/softmax_cross_entropy.h"

namespace deepseek {
namespace {

enum class Red { none, mean, sum, batchmean };

Red parse_reduction(const std::string& r, const char* op, bool allow_batchmean = false) {
  if (r == "mean") return Red::mean;
  if (r == "sum") return Red::sum;
  if (r == "none") return Red::none;
  if (allow_batchmean && r == "batchmean") return Red::batchmean;
  DS_THROW("[", op, "] reduction must be \"mean\", \"sum\" or \"none\"",
           allow_batchmean ? " (or \"batchmean\")" : "", ", got \"", r, "\"");
}

Tensor apply_reduction(const Tensor& l, Red r) {
  switch (r) {
    case Red::none: return l;
    case Red::sum: return sum(l);
    case Red::batchmean: return l.dim() == 0 ? sum(l) : div(sum(l), static_cast<double>(l.sizes()[0]));
    default: return mean(l);
  }
}

void check_defined(const Tensor& t, const char* op, const char* what) {
  DS_CHECK(t.defined(), "[", op, "] ", what, " is an undefined tensor");
}
void check_floating(const Tensor& t, const char* op, const char* what) {
  check_defined(t, op, what);
  DS_CHECK(is_floating(t.dtype()), "[", op, "] ", what, " must be a floating-point tensor, got ",
           dtype_name(t.dtype()));
}
// Pointwise losses: input and target of one shape (no silent broadcasting), floating.
void check_pair(const Tensor& input, const Tensor& target, const char* op) {
  check_floating(input, op, "input");
  check_floating(target, op, "target");
  DS_CHECK(input.sizes() == target.sizes(), "[", op, "] input shape ", to_string(input.sizes()),
           " and target shape ", to_string(target.sizes()), " must match");
}
void check_broadcasts_to(const Tensor& t, const Shape& s, const char* op, const char* what) {
  check_floating(t, op, what);
  bool ok = t.dim() <= static_cast<int64_t>(s.size());
  for (int64_t i = 0; ok && i < t.dim(); ++i) {
    int64_t a = t.sizes()[t.dim() - 1 - i], b = s[s.size() - 1 - i];
    ok = a == 1 || a == b;
  }
  DS_CHECK(ok, "[", op, "] ", what, " of shape ", to_string(t.sizes()),
           " does not broadcast to the input's shape ", to_string(s));
}

bool is_index_dtype(DType d) { return d == DType::i64 || d == DType::i32; }

// Checks (log_probs or logits, class-index target, weight) for nll_loss/cross_entropy; returns
// the class dim.
int64_t check_class_target(const Tensor& input, const Tensor& target, const Tensor& weight,
                           int64_t ignore_index, const char* op) {
  check_floating(input, op, "input");
  check_defined(target, op, "target");
  DS_CHECK(input.dim() >= 1, "[", op, "] input must have a class dim, got a 0-d tensor");
  DS_CHECK(is_index_dtype(target.dtype()), "[", op,
           "] target must hold integer class indices (i64 or i32), got ", dtype_name(target.dtype()));
  int64_t cd = input.dim() == 1 ? 0 : 1;
  int64_t classes = input.sizes()[cd];
  Shape want = input.sizes();
  want.erase(want.begin() + cd);
  DS_CHECK(target.sizes() == want, "[", op, "] target shape ", to_string(target.sizes()),
           " does not match input shape ", to_string(input.sizes()), " (expected ", to_string(want),
           ")");
  if (weight.defined()) {
    check_floating(weight, op, "weight");
    DS_CHECK(weight.sizes() == Shape{classes}, "[", op, "] weight must have shape [", classes,
             "] (one per class), got ", to_string(weight.sizes()));
  }
  // Class range: checked here so the error names the loss (and never reaches a kernel).
  if (target.device().is_cpu()) {
    for (int64_t t : target.to_vector<int64_t>())
      DS_CHECK(t == ignore_index || (t >= 0 && t < classes), "[", op, "] target ", t,
               " is out of bounds for ", classes, " classes");
  }
  return cd;
}

Tensor nll_impl(const Tensor& lp, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                Red red, int64_t cd) {
  Tensor valid = ne(target, ignore_index);
  Tensor safe = where(valid, target, 0);
  Tensor picked = squeeze(gather(lp, cd, unsqueeze(safe, cd)), cd);
  Tensor wt;
  if (weight.defined()) {
    wt = reshape(gather(cast(weight, lp.dtype()), 0, flatten(safe)), target.sizes());
    wt = where(valid, wt, 0.0);
  } else {
    wt = cast(valid, lp.dtype());
  }
  Tensor loss = neg(mul(picked, wt));
  if (red == Red::mean) return div(sum(loss), sum(wt));
  return apply_reduction(loss, red);
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  Red r = parse_reduction(reduction, "mse_loss");
  check_pair(input, target, "mse_loss");
  return apply_reduction(square(sub(input, target)), r);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  Red r = parse_reduction(reduction, "l1_loss");
  check_pair(input, target, "l1_loss");
  return apply_reduction(abs(sub(input, target)), r);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction,
                      double beta) {
  Red r = parse_reduction(reduction, "smooth_l1_loss");
  check_pair(input, target, "smooth_l1_loss");
  DS_CHECK(beta >= 0, "[smooth_l1_loss] beta must be >= 0, got ", beta);
  Tensor d = abs(sub(input, target));
  if (beta == 0) return apply_reduction(d, r);
  // 0.5 d^2 / beta below beta, d - 0.5 beta above.
  Tensor l = where(lt(d, beta), mul(square(d), 0.5 / beta), sub(d, 0.5 * beta));
  return apply_reduction(l, r);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const Tensor& weight, const std::string& reduction,
                                        const Tensor& pos_weight) {
  const char* op = "binary_cross_entropy_with_logits";
  Red r = parse_reduction(reduction, op);
  check_pair(input, target, op);
  if (weight.defined()) check_broadcasts_to(weight, input.sizes(), op, "weight");
  if (pos_weight.defined()) check_broadcasts_to(pos_weight, input.sizes(), op, "pos_weight");
  // -log sigmoid(x) = log1p(exp(-|x|)) + max(-x, 0): never overflows.
  Tensor neg_log_sig = add(log1p(exp(neg(abs(input)))), relu(neg(input)));
  Tensor l;
  if (pos_weight.defined()) {
    Tensor log_weight = add(mul(sub(pos_weight, 1.0), target), 1.0);
    l = add(mul(rsub(target, 1.0), input), mul(log_weight, neg_log_sig));
  } else {
    l = add(mul(rsub(target, 1.0), input), neg_log_sig);
  }
  if (weight.defined()) l = mul(l, weight);
  return apply_reduction(l, r);
}

Tensor kl_div(const Tensor& input, const Tensor& target, const std::string& reduction,
              bool log_target) {
  Red r = parse_reduction(reduction, "kl_div", true);
  check_pair(input, target, "kl_div");
  Tensor l;
  if (log_target) {
    l = mul(exp(target), sub(target, input));
  } else {
    // xlogy(t, t) - t * input, with 0 log 0 = 0 and a finite gradient at t = 0.
    Tensor safe = where(gt(target, 0.0), target, ones_like(target));
    l = sub(mul(target, log(safe)), mul(target, input));
  }
  return apply_reduction(l, r);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                int64_t ignore_index, const std::string& reduction) {
  Red r = parse_reduction(reduction, "nll_loss");
  int64_t cd = check_class_target(log_probs, target, weight, ignore_index, "nll_loss");
  return nll_impl(log_probs, target, weight, ignore_index, r, cd);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                     int64_t ignore_index, const std::string& reduction, double label_smoothing) {
  const char* op = "cross_entropy";
  Red r = parse_reduction(reduction, op);
  DS_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "[cross_entropy] label_smoothing must be in [0, 1], got ",
           label_smoothing);
  check_floating(logits, op, "input");
  check_defined(target, op, "target");
  DS_CHECK(logits.dim() >= 1, "[cross_entropy] input must have a class dim, got a 0-d tensor");
  int64_t cd = logits.dim() == 1 ? 0 : 1;
  int64_t classes = logits.sizes()[cd];
  Shape wshape(logits.dim(), 1);
  wshape[cd] = classes;

  if (is_floating(target.dtype())) {
    // Class probabilities.
    DS_CHECK(target.sizes() == logits.sizes(), "[cross_entropy] probability target shape ",
             to_string(target.sizes()), " must match input shape ", to_string(logits.sizes()));
    if (weight.defined()) {
      check_floating(weight, op, "weight");
      DS_CHECK(weight.sizes() == Shape{classes}, "[cross_entropy] weight must have shape [", classes,
               "] (one per class), got ", to_string(weight.sizes()));
    }
    Tensor lp = log_softmax(logits, cd);
    Tensor t = label_smoothing > 0 ? add(mul(target, 1.0 - label_smoothing), label_smoothing / classes)
                                   : target;
    Tensor prod = mul(lp, t);
    if (weight.defined()) prod = mul(prod, reshape(weight, wshape));
    Tensor l = neg(sum(prod, {cd}));
    if (r == Red::mean) {
      double n = static_cast<double>(logits.numel()) / std::max<int64_t>(classes, 1);
      return div(sum(l), n);
    }
    return apply_reduction(l, r);
  }

  check_class_target(logits, target, weight, ignore_index, op);
  if (logits.dim() == 2 && !weight.defined() && label_smoothing == 0 && has_softmax_cross_entropy(logits.device())) {
    // The fused op (per-row losses in f32, 0 where ignored); "mean" divides by the number of
    // targets that are not ignored, as the composite. The loss has the logits' dtype, as
    // PyTorch's, except under autocast (its cross_entropy runs in f32).
    Tensor rows = softmax_cross_entropy_rows(logits, target, ignore_index);
    Tensor loss = r == Red::mean ? div(sum(rows), sum(cast(ne(target, ignore_index), rows.dtype())))
                                 : apply_reduction(rows, r);
    return autocast_enabled() ? loss : cast(loss, logits.dtype());
  }
  Tensor lp = log_softmax(logits, cd);
  Tensor nll = nll_impl(lp, target, weight, ignore_index, r, cd);
  if (label_smoothing == 0) return nll;
  // As PyTorch: (1 - eps) * nll + eps / C * smooth, smooth = -sum_c w_c log p_c over the
  // targets that are not ignored, normalized like nll under "mean".
  Tensor valid = ne(target, ignore_index);
  Tensor smooth = neg(sum(weight.defined() ? mul(lp, reshape(cast(weight, lp.dtype()), wshape)) : lp, {cd}));
  smooth = where(valid, smooth, 0.0);
  Tensor ret;
  if (r == Red::mean) {
    Tensor denom;
    if (weight.defined()) {
      Tensor safe = where(valid, target, 0);
      Tensor wt = reshape(gather(cast(weight, lp.dtype()), 0, flatten(safe)), target.sizes());
      denom = sum(where(valid, wt, 0.0));
    } else {
      denom = sum(cast(valid, lp.dtype()));
    }
    ret = div(sum(smooth), denom);
  } else {
    ret = apply_reduction(smooth, r);
  }
  return add(mul(nll, 1.0 - label_smoothing), mul(ret, label_smoothing / classes));
}

}  // namespace deepseek
