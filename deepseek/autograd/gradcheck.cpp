#include "deepseek/autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "deepseek/autograd/engine.h"
#include "deepseek/autograd/grad_mode.h"
#include "deepseek/ops/ops.h"

namespace deepseek::autograd {
namespace {

std::vector<Tensor> differentiable_outputs(const DiffFn& fn, const std::vector<Tensor>& in) {
  std::vector<Tensor> outs;
  for (auto& o : fn(in))
    if (o.defined() && is_floating(o.dtype())) outs.push_back(o);
  return outs;
}

// Flattened values of all outputs, computed without autograd.
std::vector<double> eval(const DiffFn& fn, const std::vector<Tensor>& in) {
  NoGradGuard ng;
  std::vector<double> v;
  for (auto& o : differentiable_outputs(fn, in)) {
    auto x = o.to_vector<double>();
    v.insert(v.end(), x.begin(), x.end());
  }
  return v;
}

}  // namespace

GradcheckResult gradcheck(const DiffFn& fn, const std::vector<Tensor>& inputs,
                          GradcheckOptions opts) {
  // Work on private contiguous copies so perturbing them touches nothing of the caller's.
  std::vector<Tensor> in;
  for (auto& t : inputs) {
    if (!t.defined() || !t.requires_grad()) {
      in.push_back(t);
      continue;
    }
    DS_CHECK(t.dtype() == DType::f64, "gradcheck: inputs that require grad must be f64, got ",
             dtype_name(t.dtype()));
    Tensor c;
    {
      NoGradGuard ng;
      c = clone(t.detach());
    }
    c.requires_grad_(true);
    in.push_back(c);
  }
  auto outs = differentiable_outputs(fn, in);
  std::vector<int64_t> out_sizes;
  int64_t total_out = 0;
  for (auto& o : outs) {
    out_sizes.push_back(o.numel());
    total_out += o.numel();
  }
  std::vector<Tensor> wrt;
  std::vector<size_t> wrt_index;
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined() && in[i].requires_grad()) {
      wrt.push_back(in[i]);
      wrt_index.push_back(i);
    }
  if (wrt.empty() || total_out == 0) return {};

  // Analytical Jacobian rows: one backward per output element.
  std::vector<std::vector<std::vector<double>>> analytical(wrt.size());  // [input][out_elem][in_elem]
  for (auto& a : analytical) a.resize(total_out);
  int64_t row = 0;
  for (size_t oi = 0; oi < outs.size(); ++oi) {
    for (int64_t k = 0; k < out_sizes[oi]; ++k, ++row) {
      std::vector<Tensor> gos;
      for (size_t oj = 0; oj < outs.size(); ++oj) {
        Tensor g = zeros(outs[oj].sizes(), {outs[oj].dtype()});
        if (oj == oi) g.data<double>()[k] = 1.0;
        gos.push_back(g);
      }
      auto gr = grad(outs, wrt, gos, /*retain_graph=*/true, false, /*allow_unused=*/true);
      for (size_t w = 0; w < wrt.size(); ++w)
        analytical[w][row] = gr[w].defined() ? gr[w].to_vector<double>()
                                             : std::vector<double>(wrt[w].numel(), 0.0);
    }
  }
  // Numerical Jacobian columns by central differences.
  for (size_t w = 0; w < wrt.size(); ++w) {
    double* p = wrt[w].data<double>();
    for (int64_t j = 0; j < wrt[w].numel(); ++j) {
      double orig = p[j];
      p[j] = orig + opts.eps;
      auto plus = eval(fn, in);
      p[j] = orig - opts.eps;
      auto minus = eval(fn, in);
      p[j] = orig;
      for (int64_t r = 0; r < total_out; ++r) {
        double num = (plus[r] - minus[r]) / (2 * opts.eps);
        double ana = analytical[w][r][j];
        if (!(std::abs(num - ana) <= opts.atol + opts.rtol * std::abs(num))) {
          std::ostringstream os;
          os << "gradcheck: Jacobian mismatch for input " << wrt_index[w] << ", element " << j
             << ", output element " << r << ": numerical " << num << " vs analytical " << ana;
          return {false, os.str()};
        }
      }
    }
  }
  return {};
}

GradcheckResult gradgradcheck(const DiffFn& fn, const std::vector<Tensor>& inputs,
                              GradcheckOptions opts) {
  // Check the function x -> vjp(fn)(x, v) for a fixed random v, itself with gradcheck.
  std::vector<Tensor> probe_in;
  for (auto& t : inputs) probe_in.push_back(t.defined() && t.requires_grad() ? t.detach().requires_grad_(true) : t);
  std::vector<Tensor> vs;
  for (auto& o : differentiable_outputs(fn, probe_in)) vs.push_back(randn(o.sizes(), {DType::f64}));
  DiffFn backward_fn = [&](const std::vector<Tensor>& in) {
    // gradcheck evaluates under no_grad for its finite differences; the vjp still needs a graph.
    EnableGradGuard eg;
    auto outs = differentiable_outputs(fn, in);
    std::vector<Tensor> wrt;
    for (auto& t : in)
      if (t.defined() && t.requires_grad()) wrt.push_back(t);
    auto g = grad(outs, wrt, vs, true, /*create_graph=*/true, /*allow_unused=*/true);
    std::vector<Tensor> res;
    for (auto& x : g)
      if (x.defined()) res.push_back(x);
    return res;
  };
  return gradcheck(backward_fn, inputs, opts);
}

}  // namespace deepseek::autograd
