#include "deepseek/autograd/engine.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "deepseek/autograd/grad_mode.h"
#include "deepseek/autograd/node.h"
#include "deepseek/ops/defs/common.h"
#include "deepseek/ops/ops.h"

namespace deepseek::autograd {
namespace {

thread_local std::vector<std::function<void()>>* tl_callbacks = nullptr;

struct Capture {
  Node* node;
  uint32_t nr;
  size_t slot;
};

// Runs hooks registered on the tensor whose gradient this is; they may replace it.
Tensor run_tensor_hooks(const std::weak_ptr<TensorImpl>& out, Tensor g) {
  auto impl = out.lock();
  if (!impl || !impl->autograd || !g.defined()) return g;
  for (auto& hook : impl->autograd->hooks)
    if (auto r = hook(g)) g = *r;
  if (impl->autograd->retains_grad && impl->autograd->grad_fn) {
    Tensor t(impl);
    Tensor cur = t.grad();
    t.set_grad(cur.defined() ? add(cur, g) : (GradMode::enabled() ? g : clone(g.detach())));
  }
  return g;
}

std::vector<Tensor> run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                        bool retain_graph, bool create_graph, const std::vector<Tensor>* inputs,
                        bool allow_unused) {
  DS_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "backward: got ",
           grad_outputs.size(), " gradients for ", outputs.size(), " outputs");
  // Roots: (edge, gradient).
  std::vector<std::pair<Edge, Tensor>> roots;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& o = outputs[i];
    DS_CHECK(o.defined(), "backward: output ", i, " is undefined");
    DS_CHECK(o.requires_grad(), "element ", i, " of tensors does not require grad and does not "
             "have a grad_fn (", o.to_string(), ")");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      DS_CHECK(o.numel() == 1, "grad can be implicitly created only for scalar outputs; pass "
               "a gradient for output of shape ", to_string(o.sizes()));
      g = ones_like(o.detach());
    } else {
      DS_CHECK(g.sizes() == o.sizes(), "gradient of shape ", to_string(g.sizes()),
               " does not match output shape ", to_string(o.sizes()));
    }
    roots.push_back({gradient_edge(o), g});
  }

  // Dependencies: how many edges point at each node from the reachable graph.
  std::unordered_map<Node*, int> deps;
  std::unordered_map<Node*, std::shared_ptr<Node>> owner;
  std::vector<Node*> stack;
  for (auto& [e, g] : roots)
    if (e.valid() && !owner.count(e.fn.get())) {
      owner[e.fn.get()] = e.fn;
      stack.push_back(e.fn.get());
    }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& e : n->next_edges) {
      if (!e.valid()) continue;
      ++deps[e.fn.get()];
      if (!owner.count(e.fn.get())) {
        owner[e.fn.get()] = e.fn;
        stack.push_back(e.fn.get());
      }
    }
  }

  // For grad(): where to capture, and which nodes lead there (others need not run).
  std::vector<Capture> captures;
  std::vector<Tensor> results(inputs ? inputs->size() : 0);
  std::unordered_set<Node*> needed;
  if (inputs) {
    for (size_t i = 0; i < inputs->size(); ++i) {
      const Tensor& t = (*inputs)[i];
      DS_CHECK(t.defined() && t.requires_grad(), "grad: input ", i, " does not require grad");
      Edge e = gradient_edge(t);
      captures.push_back({e.fn.get(), e.input_nr, i});
      needed.insert(e.fn.get());
    }
    // A node is needed when one of its next edges leads to a needed node: iterate to a fixpoint.
    bool changed = true;
    while (changed) {
      changed = false;
      for (auto& [n, sp] : owner) {
        if (needed.count(n)) continue;
        for (auto& e : n->next_edges)
          if (e.valid() && needed.count(e.fn.get())) {
            needed.insert(n);
            changed = true;
            break;
          }
      }
    }
  }

  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  auto deliver = [&](const Edge& e, Tensor g) {
    if (!e.valid() || !g.defined()) return;
    auto& buf = buffers[e.fn.get()];
    if (buf.size() < e.fn->output_meta.size()) buf.resize(std::max<size_t>(e.fn->output_meta.size(), 1));
    if (buf.size() <= e.input_nr) buf.resize(e.input_nr + 1);
    buf[e.input_nr] = buf[e.input_nr].defined() ? add(buf[e.input_nr], g) : g;
  };

  auto cmp = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
  const bool prev_grad_mode = GradMode::enabled();
  GradMode::set_enabled(create_graph);
  std::vector<std::function<void()>> callbacks;
  auto* prev_callbacks = tl_callbacks;
  tl_callbacks = &callbacks;
  std::vector<Node*> executed;
  try {
    for (auto& [e, g] : roots) {
      deliver(e, g);
    }
    for (auto& [e, g] : roots)
      if (e.valid() && deps[e.fn.get()] == 0) {
        deps[e.fn.get()] = -1;  // queued
        ready.push(e.fn.get());
      }
    while (!ready.empty()) {
      Node* n = ready.top();
      ready.pop();
      std::vector<Tensor> grads = std::move(buffers[n]);
      buffers.erase(n);
      grads.resize(std::max(grads.size(), n->output_meta.size()));
      for (size_t i = 0; i < grads.size() && i < n->outputs.size(); ++i)
        grads[i] = run_tensor_hooks(n->outputs[i], grads[i]);
      for (auto& c : captures)
        if (c.node == n && c.nr < grads.size()) results[c.slot] = grads[c.nr];
      bool skip = inputs && (!needed.count(n) || dynamic_cast<AccumulateGrad*>(n));
      if (auto* acc = dynamic_cast<AccumulateGrad*>(n); acc && !skip) {
        // Leaf hooks run on the gradient before it is accumulated.
        std::weak_ptr<TensorImpl> leaf = acc->leaf();
        grads[0] = run_tensor_hooks(leaf, grads[0]);
      }
      std::vector<Tensor> out;
      if (!skip) {
        out = n->apply(std::move(grads));
        executed.push_back(n);
      }
      for (size_t i = 0; i < n->next_edges.size(); ++i) {
        const Edge& e = n->next_edges[i];
        if (!e.valid()) continue;
        if (i < out.size()) deliver(e, out[i]);
        if (--deps[e.fn.get()] == 0) {
          deps[e.fn.get()] = -1;
          ready.push(e.fn.get());
        }
      }
    }
  } catch (...) {
    GradMode::set_enabled(prev_grad_mode);
    tl_callbacks = prev_callbacks;
    throw;
  }
  GradMode::set_enabled(prev_grad_mode);
  tl_callbacks = prev_callbacks;
  if (!retain_graph)
    for (Node* n : executed) n->release_saved();
  for (auto& cb : callbacks) cb();
  if (inputs && !allow_unused)
    for (size_t i = 0; i < results.size(); ++i)
      DS_CHECK(results[i].defined(), "grad: input ", i, " was not used to compute the outputs "
               "(pass allow_unused=true to get an undefined gradient instead)");
  return results;
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool retain_graph, bool create_graph) {
  run(outputs, grad_outputs, retain_graph || create_graph, create_graph, nullptr, true);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph,
                         bool create_graph, bool allow_unused) {
  return run(outputs, grad_outputs, retain_graph || create_graph, create_graph, &inputs,
             allow_unused);
}

void queue_callback(std::function<void()> callback) {
  DS_CHECK(tl_callbacks, "queue_callback can only be called during a backward pass");
  tl_callbacks->push_back(std::move(callback));
}

}  // namespace deepseek::autograd

namespace deepseek {
void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  autograd::backward({*this}, gradient.defined() ? std::vector<Tensor>{gradient} : std::vector<Tensor>{},
                     retain_graph, create_graph);
}
}  // namespace deepseek
