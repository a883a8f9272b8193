#include "deepseek/core/tensor.h"

#include <cmath>
#include <sstream>

namespace deepseek {

Tensor Tensor::empty(const Shape& sizes, DType dtype, Device device) {
  for (auto d : sizes) DS_CHECK(d >= 0, "[empty] negative dimension in shape ", deepseek::to_string(sizes));
  DS_CHECK(static_cast<int>(dtype) < kNumDTypes, "[empty] dtype ", dtype_name(dtype),
           " is reserved and cannot be allocated yet");
  auto storage = std::make_shared<Storage>(deepseek::numel(sizes) * itemsize(dtype), device);
  return make(std::move(storage), sizes, contiguous_strides(sizes), 0, dtype);
}

Tensor Tensor::empty(const Shape& sizes, DType dtype, Device device, MemoryFormat format) {
  Tensor t = empty(sizes, dtype, device);
  if (format == MemoryFormat::channels_last) t.impl_->strides = channels_last_strides(sizes);
  return t;
}

const char* memory_format_name(MemoryFormat f) {
  return f == MemoryFormat::channels_last ? "channels_last" : "contiguous";
}

MemoryFormat memory_format_from_name(const std::string& name) {
  if (name == "channels_last") return MemoryFormat::channels_last;
  DS_CHECK(name == "contiguous", "unknown memory format '", name, "' (expected contiguous or channels_last)");
  return MemoryFormat::contiguous;
}

MemoryFormat suggest_memory_format(const Tensor& t) {
  return t.dim() == 4 && !t.is_contiguous() && t.is_contiguous(MemoryFormat::channels_last)
             ? MemoryFormat::channels_last
             : MemoryFormat::contiguous;
}

Tensor Tensor::make(std::shared_ptr<Storage> storage, Shape sizes, Strides strides,
                    int64_t offset, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const { return impl_->sizes[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return impl_->strides[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (impl_->sizes[i] == 1) continue;
    if (impl_->strides[i] != expected) return numel() == 0;
    expected *= impl_->sizes[i];
  }
  return true;
}

bool Tensor::is_contiguous(MemoryFormat format) const {
  if (format == MemoryFormat::contiguous) return is_contiguous();
  if (dim() != 4) return false;
  int64_t expected = 1;
  for (int64_t i : {1, 3, 2, 0}) {
    if (impl_->sizes[i] == 1) continue;
    if (impl_->strides[i] != expected) return numel() == 0;
    expected *= impl_->sizes[i];
  }
  return true;
}

bool Tensor::is_non_overlapping_and_dense() const {
  // Dense in some permutation of dims: sort by stride and check it is contiguous that way.
  std::vector<int64_t> order;
  for (int64_t i = 0; i < dim(); ++i)
    if (impl_->sizes[i] != 1) order.push_back(i);
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return impl_->strides[a] < impl_->strides[b]; });
  int64_t expected = 1;
  for (auto i : order) {
    if (impl_->strides[i] != expected) return numel() == 0;
    expected *= impl_->sizes[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  if (!impl_->storage->data()) return nullptr;
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * element_size();
}

namespace {
// Visits each element's address in row-major logical order (slow path, for small reads).
template <typename F>
void for_each_element(const Tensor& t, F&& f) {
  int64_t n = t.numel();
  if (n == 0) return;
  DS_CHECK(t.device().is_cpu(), "reading values of a ", t.device().str(),
           " tensor: copy it to the CPU first with .to(Device(\"cpu\"))");
  const char* base = static_cast<const char*>(t.raw_data());
  size_t es = t.element_size();
  std::vector<int64_t> idx(t.dim(), 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = 0;
    for (int64_t d = 0; d < t.dim(); ++d) off += idx[d] * t.strides()[d];
    f(base + off * static_cast<int64_t>(es));
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
      if (++idx[d] < t.sizes()[d]) break;
      idx[d] = 0;
    }
  }
}
}  // namespace

template <typename T>
std::vector<T> Tensor::to_vector() const {
  if (defined() && device().is_cuda()) return to(kCPU).to_vector<T>();  // one copy, then read
  std::vector<T> out;
  out.reserve(numel());
  visit_dtype(dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    for_each_element(*this, [&](const char* p) {
      out.push_back(static_cast<T>(static_cast<opmath_t<S>>(*reinterpret_cast<const S*>(p))));
    });
  });
  return out;
}

template <typename T>
T Tensor::item() const {
  DS_CHECK(numel() == 1, "item() needs a tensor with one element, got shape ", deepseek::to_string(sizes()));
  return to_vector<T>()[0];
}

Scalar Tensor::item() const {
  if (is_floating(dtype())) return Scalar(item<double>());
  if (dtype() == DType::b8) return Scalar(item<int64_t>() != 0);
  return Scalar(item<int64_t>());
}

#define DS_INSTANTIATE(T)                                    \
  template std::vector<T> Tensor::to_vector<T>() const;     \
  template T Tensor::item<T>() const;
DS_INSTANTIATE(float)
DS_INSTANTIATE(double)
DS_INSTANTIATE(int64_t)
DS_INSTANTIATE(int32_t)
DS_INSTANTIATE(int16_t)
DS_INSTANTIATE(int8_t)
DS_INSTANTIATE(uint8_t)
DS_INSTANTIATE(bool)
#undef DS_INSTANTIATE

AutogradMeta& Tensor::autograd_meta() const {
  if (!impl_->autograd) impl_->autograd = std::make_unique<AutogradMeta>();
  return *impl_->autograd;
}

Tensor& Tensor::requires_grad_(bool value) {
  DS_CHECK(!value || is_floating(dtype()), "requires_grad_: only floating-point tensors can "
           "require gradients, got ", dtype_name(dtype()));
  DS_CHECK(value || is_leaf(), "requires_grad_(false) on a non-leaf tensor: use detach()");
  autograd_meta().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  if (!impl_->autograd || !impl_->autograd->grad) return Tensor();
  return Tensor(impl_->autograd->grad);
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined()) {
    DS_CHECK(g.sizes() == sizes(), "set_grad: gradient shape ", deepseek::to_string(g.sizes()),
             " does not match tensor shape ", deepseek::to_string(sizes()));
  }
  autograd_meta().grad = g.impl_ptr();
}

const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<autograd::Node> none;
  return impl_->autograd ? impl_->autograd->grad_fn : none;
}

void Tensor::retain_grad() const {
  DS_CHECK(requires_grad(), "retain_grad() on a tensor that does not require grad");
  autograd_meta().retains_grad = true;
}

size_t Tensor::register_hook(std::function<std::optional<Tensor>(const Tensor&)> hook) const {
  DS_CHECK(requires_grad(), "register_hook on a tensor that does not require grad");
  auto& hooks = autograd_meta().hooks;
  hooks.push_back(std::move(hook));
  return hooks.size() - 1;
}

void Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const {
  DS_CHECK(requires_grad() && is_leaf(),
           "post-accumulate-grad hooks can only be registered on leaves that require grad");
  autograd_meta().post_accumulate_hooks.push_back(std::move(hook));
}

Tensor Tensor::detach() const {
  Tensor out = make(impl_->storage, impl_->sizes, impl_->strides, impl_->offset, impl_->dtype);
  out.impl()->name = impl_->name;
  return out;
}

Tensor& Tensor::detach_() {
  DS_CHECK(!impl_->view_base, "detach_() on a view: use detach() instead");
  impl_->autograd.reset();
  return *this;
}

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor[undefined]";
  std::ostringstream os;
  os << "Tensor[" << dtype_name(dtype()) << ", " << device().str() << ", "
     << deepseek::to_string(sizes()) << "]";
  return os.str();
}

std::string Tensor::repr() const {
  if (!defined() || is_meta()) return to_string();
  std::ostringstream os;
  os << to_string() << " {";
  auto v = to_vector<double>();  // a CUDA tensor is copied to the host once
  for (size_t i = 0; i < v.size() && i < 64; ++i) os << (i ? ", " : "") << v[i];
  if (v.size() > 64) os << ", ...";
  os << "}";
  return os.str();
}

}  // namespace deepseek
