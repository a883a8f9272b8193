// Binary and ternary elementwise kernels. Inputs arrive already promoted to one dtype (the
// op definitions insert casts), so each kernel is instantiated once per dtype.
#include <cmath>
#include <type_traits>

#include "deepseek/backend/cpu/vec/vec.h"

namespace deepseek::cpu::DS_CPU_CAPABILITY {
namespace {

template <typename T> using M = opmath_t<T>;

template <typename MakeFn>
ops::KernelFn arith(MakeFn make) {
  return [make](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs& a) {
    visit_dtype(in[0].dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      auto f = make.template operator()<M<T>>(a);
      elementwise<T, T, T>(out[0], {&in[0], &in[1]}, [f](T x, T y) {
        return static_cast<T>(f(static_cast<M<T>>(x), static_cast<M<T>>(y)));
      });
    });
  };
}

template <typename Cmp>
ops::KernelFn compare(Cmp cmp) {
  return [cmp](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
    visit_dtype(in[0].dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      elementwise<bool, T, T>(out[0], {&in[0], &in[1]}, [cmp](T x, T y) {
        return cmp(static_cast<M<T>>(x), static_cast<M<T>>(y));
      });
    });
  };
}

}  // namespace

void register_binary_kernels() {
  reg("add", arith([]<typename V>(const ops::Attrs& a) {
    V alpha = a.has("alpha") ? a.scalar("alpha").to<V>() : V(1);
    return [alpha](V x, V y) { if constexpr (std::is_same_v<V, bool>) return x || y; else return x + alpha * y; };
  }));
  reg("sub", arith([]<typename V>(const ops::Attrs& a) {
    V alpha = a.has("alpha") ? a.scalar("alpha").to<V>() : V(1);
    return [alpha](V x, V y) { return static_cast<V>(x - alpha * y); };
  }));
  reg("mul", arith([]<typename V>(const ops::Attrs&) {
    return [](V x, V y) { if constexpr (std::is_same_v<V, bool>) return x && y; else return x * y; };
  }));
  reg("div", arith([]<typename V>(const ops::Attrs&) { return [](V x, V y) { return x / y; }; }));
  reg("pow", arith([]<typename V>(const ops::Attrs&) {
    return [](V x, V y) {
      if constexpr (std::is_same_v<V, bool>) {
        return static_cast<V>(x || !y);
      } else if constexpr (std::is_integral_v<V>) {
        if (y < 0) return static_cast<V>(x == 1 ? 1 : (x == -1 ? ((y & 1) ? -1 : 1) : 0));
        // Wraps on overflow, as PyTorch: the products in an unsigned type at least as wide
        // as unsigned int (signed overflow, and unsigned short promoted to int, are undefined).
        using U = std::conditional_t<(sizeof(V) < sizeof(unsigned)), unsigned, std::make_unsigned_t<V>>;
        U r = 1, b = static_cast<U>(x);
        for (auto e = y; e > 0; e >>= 1) { if (e & 1) r *= b; b *= b; }
        return static_cast<V>(r);
      } else {
        return static_cast<V>(std::pow(x, y));
      }
    };
  }));
  reg("maximum", arith([]<typename V>(const ops::Attrs&) {
    return [](V x, V y) { return (x != x) ? x : (y != y ? y : (x > y ? x : y)); };
  }));
  reg("minimum", arith([]<typename V>(const ops::Attrs&) {
    return [](V x, V y) { return (x != x) ? x : (y != y ? y : (x < y ? x : y)); };
  }));
  reg("eq", compare([](auto x, auto y) { return x == y; }));
  reg("ne", compare([](auto x, auto y) { return x != y; }));
  reg("lt", compare([](auto x, auto y) { return x < y; }));
  reg("le", compare([](auto x, auto y) { return x <= y; }));
  reg("gt", compare([](auto x, auto y) { return x > y; }));
  reg("ge", compare([](auto x, auto y) { return x >= y; }));
  reg("logical_and", compare([](auto x, auto y) { return x != 0 && y != 0; }));
  reg("logical_or", compare([](auto x, auto y) { return x != 0 || y != 0; }));
  reg("where", [](const std::vector<Tensor>& in, std::vector<Tensor>& out, const ops::Attrs&) {
    visit_dtype(in[1].dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      elementwise<T, bool, T, T>(out[0], {&in[0], &in[1], &in[2]},
                                 [](bool c, T x, T y) { return c ? x : y; });
    });
  });
}

}  // namespace deepseek::cpu::DS_CPU_CAPABILITY
