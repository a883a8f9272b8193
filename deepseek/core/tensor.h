// Tensor: a cheap, shared handle to a TensorImpl (sizes, strides, offset, dtype over a shared
// Storage) plus the autograd metadata. Core only stores that metadata; autograd/ gives it
// meaning. Methods that compute (t.add(u), t.sum()) forward to the public ops in ops/ops.h.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deepseek/core/device.h"
#include "deepseek/core/dtype.h"
#include "deepseek/core/scalar.h"
#include "deepseek/core/shape.h"
#include "deepseek/core/storage.h"

namespace deepseek {

namespace autograd {
class Node;
}

class Tensor;
struct TensorImpl;

// Memory layout of a 4-D (N, C, H, W) tensor, as PyTorch's torch.memory_format: row-major, or
// channels_last (stored as (N, H, W, C): the channel is the innermost dim).
enum class MemoryFormat { contiguous, channels_last };
const char* memory_format_name(MemoryFormat f);
MemoryFormat memory_format_from_name(const std::string& name);

// Autograd state of one tensor. Present only for tensors that take part in autograd.
struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<TensorImpl> grad;              // .grad of a leaf (or a retained non-leaf)
  std::shared_ptr<autograd::Node> grad_fn;       // null for leaves
  uint32_t output_nr = 0;                        // which output of grad_fn this is
  uint32_t history_version = 0;  // storage version when grad_fn was set (views re-derive it)
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves: the node that writes .grad
  std::vector<std::function<std::optional<Tensor>(const Tensor&)>> hooks;  // on the gradient
  std::vector<std::function<void(const Tensor&)>> post_accumulate_hooks;   // after .grad is written
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Strides strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  std::unique_ptr<AutogradMeta> autograd;
  // Set on tensors made by a view op: the tensor whose storage they alias. In-place writes
  // into such a view must also update the base's autograd history.
  std::shared_ptr<TensorImpl> view_base;
  std::string name;  // optional: parameter path for tracing and error messages
  // A 0-d tensor made from a C++ number: type promotion treats it as a "wrapped number".
  bool wrapped_number = false;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Makes an uninitialized contiguous tensor (no data on meta).
  static Tensor empty(const Shape& sizes, DType dtype = DType::f32, Device device = kCPU);
  // Uninitialized, dense in `format` (channels_last needs 4-D sizes).
  static Tensor empty(const Shape& sizes, DType dtype, Device device, MemoryFormat format);
  // A new tensor over `storage` with the given geometry (a view when storage is shared).
  static Tensor make(std::shared_ptr<Storage> storage, Shape sizes, Strides strides,
                     int64_t offset, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  const Shape& sizes() const { return impl_->sizes; }
  const Shape& shape() const { return impl_->sizes; }
  const Strides& strides() const { return impl_->strides; }
  int64_t dim() const { return static_cast<int64_t>(impl_->sizes.size()); }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t numel() const { return deepseek::numel(impl_->sizes); }
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  size_t element_size() const { return itemsize(impl_->dtype); }
  size_t nbytes() const { return numel() * element_size(); }
  bool is_contiguous() const;
  // Dense in `format`'s order (size-1 dims may have any stride, as in PyTorch).
  bool is_contiguous(MemoryFormat format) const;
  bool is_non_overlapping_and_dense() const;
  bool is_meta() const { return device().is_meta(); }

  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  void* raw_data() const;  // pointer to element 0 (offset applied); null on meta
  template <typename T> T* data() const {
    DS_CHECK(dtype_of<T>() == dtype(), "data<", dtype_name(dtype_of<T>()), ">() on a ",
             dtype_name(dtype()), " tensor");
    return static_cast<T*>(raw_data());
  }
  // The value of a one-element tensor, converted to T.
  template <typename T> T item() const;
  Scalar item() const;
  // Copies into a flat vector (any dtype converted to T); handy in tests.
  template <typename T> std::vector<T> to_vector() const;

  uint32_t version() const { return impl_->storage->version(); }
  void bump_version() const { impl_->storage->bump_version(); }

  // --- autograd state (meaning given by autograd/) ---
  bool requires_grad() const { return impl_->autograd && impl_->autograd->requires_grad; }
  Tensor& requires_grad_(bool value = true);
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  bool is_leaf() const { return !impl_->autograd || !impl_->autograd->grad_fn; }
  AutogradMeta& autograd_meta() const;  // creates it on first use
  bool has_autograd_meta() const { return impl_->autograd != nullptr; }
  void retain_grad() const;
  // Gradient hook: may return a replacement gradient. Returns the hook's index.
  size_t register_hook(std::function<std::optional<Tensor>(const Tensor&)> hook) const;
  void register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const;
  // Defined in autograd/: runs backward from this tensor.
  void backward(const Tensor& gradient = {}, bool retain_graph = false,
                bool create_graph = false) const;
  // A tensor sharing data but no autograd history.
  Tensor detach() const;
  Tensor& detach_();

  const std::string& name() const { return impl_->name; }
  void set_name(std::string n) const { impl_->name = std::move(n); }

  std::string to_string() const;  // short: "Tensor[f32, cpu, [2, 3]]"
  std::string repr() const;       // with values

  // --- methods forwarding to ops/ (defined in ops/tensor_methods.cpp) ---
  Tensor to(DType t) const;
  Tensor to(Device d) const;
  Tensor clone() const;
  Tensor contiguous() const;
  Tensor contiguous(MemoryFormat format) const;  // this tensor if already dense in format, else a copy
  Tensor view(const Shape& s) const;
  Tensor reshape(const Shape& s) const;
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor t() const;
  Tensor expand(const Shape& s) const;
  Tensor squeeze(std::optional<int64_t> dim = std::nullopt) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }

  Tensor sum(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor mean(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor matmul(const Tensor& o) const;
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor pow(const Scalar& e) const;

  // In place (bump the version counter; autograd records them).
  Tensor& add_(const Tensor& o, const Scalar& alpha = 1);
  Tensor& sub_(const Tensor& o);
  Tensor& mul_(const Tensor& o);
  Tensor& mul_(const Scalar& s);
  Tensor& div_(const Tensor& o);
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(const Scalar& v);
  Tensor& zero_();

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// The layout ops give outputs computed from `t` (PyTorch's suggest_memory_format):
// channels_last when t is a 4-D channels_last tensor that is not also row-major.
MemoryFormat suggest_memory_format(const Tensor& t);

}  // namespace deepseek
