// Creation ops: no tensor inputs; shape, dtype and device come from attrs. Random ops draw a
// (seed, offset) range from the device generator when called and keep it in their attrs, so a
// traced graph replays the same numbers.
#include "deepseek/ops/defs/common.h"

namespace deepseek {
namespace {
using ops::Attrs;
using ops::OpKind;

Attrs creation_attrs(const Shape& s, const TensorOptions& o) {
  return Attrs()
      .set("shape", ops::AttrValue(std::vector<int64_t>(s.begin(), s.end())))
      .set("dtype", ops::dtype_attr(o.dtype))
      .set("device", o.device.str());
}

ops::TensorMeta creation_meta(const Attrs& a) {
  auto shape = a.get<std::vector<int64_t>>("shape");
  for (auto d : shape) DS_CHECK(d >= 0, "negative dimension in shape ", to_string(shape));
  DType dt = dtype_from_name(a.get<std::string>("dtype"));
  DS_CHECK(static_cast<int>(dt) < kNumDTypes, "dtype ", dtype_name(dt), " is reserved");
  return {Shape(shape.begin(), shape.end()), dt, Device(a.get<std::string>("device"))};
}

Tensor finish(Tensor t, const TensorOptions& o) {
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}

void define() {
  auto creation = [](const char* name) -> ops::OpDef& {
    auto& d = ops::define_op(name, OpKind::creation, 0);
    d.differentiable = false;
    d.infer = [](std::vector<Tensor>&, const Attrs& a) {
      return std::vector<ops::TensorMeta>{creation_meta(a)};
    };
    return d;
  };
  creation("empty");
  creation("full");
  auto& ey = creation("eye");
  ey.infer = [](std::vector<Tensor>&, const Attrs& a) {
    auto m = creation_meta(a);
    DS_CHECK(m.sizes.size() == 2, "needs a 2-D shape, got ", to_string(m.sizes));
    return std::vector<ops::TensorMeta>{m};
  };
  creation("rand").random = true;
  creation("randn").random = true;
  auto& ri = creation("randint");
  ri.random = true;
  ri.infer = [](std::vector<Tensor>&, const Attrs& a) {
    DS_CHECK(a.get<int64_t>("low") < a.get<int64_t>("high"), "low (", a.get<int64_t>("low"),
             ") must be less than high (", a.get<int64_t>("high"), ")");
    return std::vector<ops::TensorMeta>{creation_meta(a)};
  };
  auto& ar = creation("arange");
  ar.infer = [](std::vector<Tensor>&, const Attrs& a) {
    double start = a.get<double>("start"), end = a.get<double>("end"), step = a.get<double>("step");
    DS_CHECK(step != 0, "step must be nonzero");
    DS_CHECK(std::isfinite(start) && std::isfinite(end), "start and end must be finite");
    DS_CHECK((end - start) / step >= 0, "upper bound and step sign are inconsistent (start=",
             start, ", end=", end, ", step=", step, ")");
    auto m = creation_meta(a);
    m.sizes = {static_cast<int64_t>(std::ceil((end - start) / step))};
    return std::vector<ops::TensorMeta>{m};
  };
  auto& ls = creation("linspace");
  ls.infer = [](std::vector<Tensor>&, const Attrs& a) {
    auto shape = a.get<std::vector<int64_t>>("shape");
    DS_CHECK(shape.size() == 1 && shape[0] >= 0, "number of steps must be one non-negative count");
    auto m = creation_meta(a);
    DS_CHECK(is_floating(m.dtype), "needs a floating dtype, got ", dtype_name(m.dtype));
    return std::vector<ops::TensorMeta>{m};
  };
}
DS_REGISTER(define);

ops::OpId id(const char* name) { return ops::op_id(name); }

}  // namespace

Tensor empty(const Shape& s, TensorOptions o) {
  static const auto op = id("empty");
  return finish(ops::dispatch1(op, {}, creation_attrs(s, o)), o);
}

Tensor full(const Shape& s, const Scalar& v, TensorOptions o) {
  static const auto op = id("full");
  return finish(ops::dispatch1(op, {}, creation_attrs(s, o).set("value", v)), o);
}
Tensor zeros(const Shape& s, TensorOptions o) { return full(s, 0, o); }
Tensor ones(const Shape& s, TensorOptions o) { return full(s, 1, o); }

Tensor arange(const Scalar& end, TensorOptions o) { return arange(0, end, 1, o); }
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, TensorOptions o) {
  static const auto op = id("arange");
  Attrs a = creation_attrs({0}, o);
  a.set("start", start.to_double()).set("end", end.to_double()).set("step", step.to_double());
  return finish(ops::dispatch1(op, {}, a), o);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions o) {
  static const auto op = id("linspace");
  DS_CHECK(steps >= 0, "[linspace] number of steps must be non-negative, got ", steps);
  Attrs a = creation_attrs({steps}, o);
  a.set("start", start).set("end", end);
  return finish(ops::dispatch1(op, {}, a), o);
}

Tensor eye(int64_t n, std::optional<int64_t> m, TensorOptions o) {
  static const auto op = id("eye");
  return finish(ops::dispatch1(op, {}, creation_attrs({n, m.value_or(n)}, o)), o);
}

static Attrs random_attrs(const Shape& s, const TensorOptions& o) {
  auto st = default_generator(o.device).reserve(static_cast<uint64_t>(numel(s)));
  return creation_attrs(s, o)
      .set("seed", static_cast<int64_t>(st.seed))
      .set("offset", static_cast<int64_t>(st.offset));
}

Tensor rand(const Shape& s, TensorOptions o) {
  static const auto op = id("rand");
  return finish(ops::dispatch1(op, {}, random_attrs(s, o)), o);
}
Tensor randn(const Shape& s, TensorOptions o) {
  static const auto op = id("randn");
  return finish(ops::dispatch1(op, {}, random_attrs(s, o)), o);
}
Tensor randint(int64_t low, int64_t high, const Shape& s, TensorOptions o) {
  static const auto op = id("randint");
  return finish(ops::dispatch1(op, {}, random_attrs(s, o).set("low", low).set("high", high)), o);
}

Tensor empty_like(const Tensor& t) { return empty(t.sizes(), {t.dtype(), t.device()}); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), {t.dtype(), t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), {t.dtype(), t.device()}); }
Tensor full_like(const Tensor& t, const Scalar& v) { return full(t.sizes(), v, {t.dtype(), t.device()}); }
Tensor rand_like(const Tensor& t) { return rand(t.sizes(), {t.dtype(), t.device()}); }
Tensor randn_like(const Tensor& t) { return randn(t.sizes(), {t.dtype(), t.device()}); }

Tensor tensor(const std::vector<double>& values, const Shape& s, TensorOptions o) {
  Shape shape = s.empty() && values.size() != 1 ? Shape{static_cast<int64_t>(values.size())} : s;
  DS_CHECK(numel(shape) == static_cast<int64_t>(values.size()), "[tensor] ", values.size(),
           " values do not fill shape ", to_string(shape));
  Tensor cpu = Tensor::empty(shape, o.dtype, kCPU);
  visit_dtype(o.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = cpu.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(static_cast<opmath_t<T>>(values[i]));
  });
  Tensor t = o.device.is_cpu() ? cpu : to_device(cpu, o.device);
  return finish(t, o);
}

Tensor tensor_i64(const std::vector<int64_t>& values, const Shape& s) {
  Shape shape = s.empty() && values.size() != 1 ? Shape{static_cast<int64_t>(values.size())} : s;
  DS_CHECK(numel(shape) == static_cast<int64_t>(values.size()), "[tensor] ", values.size(),
           " values do not fill shape ", to_string(shape));
  Tensor t = Tensor::empty(shape, DType::i64, kCPU);
  std::copy(values.begin(), values.end(), t.data<int64_t>());
  return t;
}

Tensor scalar_tensor(const Scalar& v, TensorOptions o) { return full({}, v, o); }

}  // namespace deepseek
