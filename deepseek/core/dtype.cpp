#include "deepseek/core/dtype.h"

#include <array>

namespace deepseek {

size_t itemsize(DType t) {
  switch (t) {
    case DType::b8: case DType::u8: case DType::i8: return 1;
    case DType::i16: case DType::f16: case DType::bf16: return 2;
    case DType::i32: case DType::f32: return 4;
    case DType::i64: case DType::f64: case DType::c64: return 8;
    case DType::f8e4m3: case DType::f8e5m2: return 1;
    case DType::i4: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  static const char* names[] = {"bool", "u8", "i8", "i16", "i32", "i64", "f16", "bf16",
                                "f32", "f64", "c64", "f8e4m3", "f8e5m2", "i4"};
  return names[static_cast<int>(t)];
}

DType dtype_from_name(const std::string& name) {
  for (int i = 0; i <= static_cast<int>(DType::i4); ++i)
    if (name == dtype_name(static_cast<DType>(i))) return static_cast<DType>(i);
  if (name == "float32" || name == "float") return DType::f32;
  if (name == "float64" || name == "double") return DType::f64;
  if (name == "float16" || name == "half") return DType::f16;
  if (name == "bfloat16") return DType::bf16;
  if (name == "int64" || name == "long") return DType::i64;
  if (name == "int32" || name == "int") return DType::i32;
  if (name == "b8") return DType::b8;
  DS_THROW("unknown dtype '", name, "'");
}

bool is_floating(DType t) {
  return t == DType::f16 || t == DType::bf16 || t == DType::f32 || t == DType::f64;
}

bool is_integral(DType t, bool include_bool) {
  switch (t) {
    case DType::u8: case DType::i8: case DType::i16: case DType::i32: case DType::i64: return true;
    case DType::b8: return include_bool;
    default: return false;
  }
}

DType promote_types(DType a, DType b) {
  DS_CHECK(static_cast<int>(a) < kNumDTypes && static_cast<int>(b) < kNumDTypes,
           "type promotion: dtype ", dtype_name(static_cast<int>(a) < kNumDTypes ? b : a),
           " is reserved and has no promotion rule yet");
  using D = DType;
  // Rows and columns in enum order: b8 u8 i8 i16 i32 i64 f16 bf16 f32 f64 (PyTorch's table).
  static constexpr D table[kNumDTypes][kNumDTypes] = {
      /* b8  */ {D::b8, D::u8, D::i8, D::i16, D::i32, D::i64, D::f16, D::bf16, D::f32, D::f64},
      /* u8  */ {D::u8, D::u8, D::i16, D::i16, D::i32, D::i64, D::f16, D::bf16, D::f32, D::f64},
      /* i8  */ {D::i8, D::i16, D::i8, D::i16, D::i32, D::i64, D::f16, D::bf16, D::f32, D::f64},
      /* i16 */ {D::i16, D::i16, D::i16, D::i16, D::i32, D::i64, D::f16, D::bf16, D::f32, D::f64},
      /* i32 */ {D::i32, D::i32, D::i32, D::i32, D::i32, D::i64, D::f16, D::bf16, D::f32, D::f64},
      /* i64 */ {D::i64, D::i64, D::i64, D::i64, D::i64, D::i64, D::f16, D::bf16, D::f32, D::f64},
      /* f16 */ {D::f16, D::f16, D::f16, D::f16, D::f16, D::f16, D::f16, D::f32, D::f32, D::f64},
      /* bf16*/ {D::bf16, D::bf16, D::bf16, D::bf16, D::bf16, D::bf16, D::f32, D::bf16, D::f32, D::f64},
      /* f32 */ {D::f32, D::f32, D::f32, D::f32, D::f32, D::f32, D::f32, D::f32, D::f32, D::f64},
      /* f64 */ {D::f64, D::f64, D::f64, D::f64, D::f64, D::f64, D::f64, D::f64, D::f64, D::f64},
  };
  return table[static_cast<int>(a)][static_cast<int>(b)];
}

static int category(DType t) { return is_floating(t) ? 2 : (t == DType::b8 ? 0 : 1); }

DType result_type(const PromotionOperand* ops, int n) {
  // Three tiers, as in PyTorch: dimensioned tensors, then 0-d tensors, then wrapped numbers.
  // A lower tier changes the result only when its category is higher.
  std::array<bool, 3> have{};
  std::array<DType, 3> tier{};
  for (int i = 0; i < n; ++i) {
    int k = static_cast<int>(ops[i].kind);
    DType d = ops[i].dtype;
    if (ops[i].kind == OperandKind::wrapped_number)
      d = is_floating(d) ? DType::f32 : (d == DType::b8 ? DType::b8 : DType::i64);
    tier[k] = have[k] ? promote_types(tier[k], d) : d;
    have[k] = true;
  }
  bool any = false;
  DType result = DType::b8;
  for (int k = 0; k < 3; ++k) {
    if (!have[k]) continue;
    if (!any) {
      result = tier[k];
      any = true;
    } else if (category(tier[k]) > category(result)) {
      result = tier[k];
    }
  }
  return result;
}

}  // namespace deepseek
