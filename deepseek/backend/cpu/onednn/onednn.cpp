#include "deepseek/backend/cpu/onednn/onednn.h"

#include <cstring>

#include "deepseek/backend/cpu/loops.h"

namespace deepseek::cpu::onednn {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

dnnl::memory::data_type to_dnnl(DType t) {
  using dt = dnnl::memory::data_type;
  switch (t) {
    case DType::f32: return dt::f32;
    case DType::bf16: return dt::bf16;
    case DType::f16: return dt::f16;
    case DType::i8: return dt::s8;
    case DType::u8: return dt::u8;
    case DType::i32: return dt::s32;
    default: DS_THROW("oneDNN has no data type for ", dtype_name(t));
  }
}

dnnl::memory::dims to_dims(const std::vector<int64_t>& v) { return dnnl::memory::dims(v.begin(), v.end()); }

Key& Key::operator<<(const dnnl::memory::desc& md) {
  // The C struct is plain data; zero-initialized by oneDNN, so its bytes are a faithful key.
  s_.append(reinterpret_cast<const char*>(&md.data), sizeof md.data);
  return *this;
}

std::shared_ptr<void> PrimitiveCache::get(const std::string& key,
                                          const std::function<std::shared_ptr<void>()>& make) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++hits_;
      return it->second->second;
    }
    ++misses_;
  }
  // Built outside the lock: creating a primitive can take milliseconds (JIT code generation).
  std::shared_ptr<void> v = make();
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(key);
  if (it != map_.end()) return it->second->second;  // another thread built it meanwhile
  lru_.emplace_front(key, v);
  map_[key] = lru_.begin();
  while (lru_.size() > capacity_) {
    map_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return v;
}

CacheStats PrimitiveCache::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return {hits_, misses_, static_cast<int64_t>(lru_.size())};
}

void PrimitiveCache::clear() {
  std::lock_guard<std::mutex> lk(mu_);
  lru_.clear();
  map_.clear();
}

PrimitiveCache& primitive_cache() {
  static PrimitiveCache* c = new PrimitiveCache(1024);  // leaked: outlives static destructors
  return *c;
}
CacheStats primitive_cache_stats() { return primitive_cache().stats(); }

dnnl::memory::desc md_of(const Tensor& t, const std::vector<int64_t>& sizes,
                         const std::vector<int64_t>& strides) {
  return dnnl::memory::desc(to_dims(sizes), to_dnnl(t.dtype()), to_dims(strides));
}
dnnl::memory::desc md_of(const Tensor& t) { return md_of(t, t.sizes(), t.strides()); }

dnnl::memory mem(const dnnl::memory::desc& md, const Tensor& t) {
  return dnnl::memory(md, engine(), t.raw_data());
}

dnnl::memory scratch(const dnnl::memory::desc& md, Tensor& holder) {
  int64_t bytes = static_cast<int64_t>(md.get_size());
  holder = Tensor::empty({std::max<int64_t>(bytes, 1)}, DType::u8);
  return dnnl::memory(md, engine(), holder.raw_data());
}

void execute(const dnnl::primitive& prim, const dnnl::primitive_desc_base& pd,
             std::unordered_map<int, dnnl::memory> args) {
  Tensor pad;
  dnnl::memory::desc smd = pd.scratchpad_desc();
  if (smd.get_size() > 0) args[DNNL_ARG_SCRATCHPAD] = scratch(smd, pad);
  prim.execute(stream(), args);
  stream().wait();
}

namespace {
struct ReorderEntry {
  dnnl::reorder::primitive_desc pd;
  dnnl::reorder prim;
};

std::shared_ptr<ReorderEntry> reorder_prim(const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  Key k;
  k << "reorder" << from << to;
  return cached<ReorderEntry>(k, [&] {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto pd = dnnl::reorder::primitive_desc(engine(), from, engine(), to, attr);
    return std::make_shared<ReorderEntry>(ReorderEntry{pd, dnnl::reorder(pd)});
  });
}

// Reordered weights: (storage identity, offset, version, descriptors) -> buffer.
struct WeightEntry {
  std::weak_ptr<Storage> storage;
  uint32_t version;
  Tensor buffer;
};
std::mutex g_wmu;
std::list<std::pair<std::string, WeightEntry>> g_wlru;
int64_t g_whits = 0, g_wmisses = 0;
constexpr size_t kWeightCacheEntries = 64;

std::mutex g_impl_mu;
std::unordered_map<std::string, std::string> g_impls;
}  // namespace

void reorder_into(const dnnl::memory& src, const dnnl::memory& dst) {
  auto r = reorder_prim(src.get_desc(), dst.get_desc());
  execute(r->prim, r->pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
}

dnnl::memory reorder_to(const dnnl::memory& src, const dnnl::memory::desc& want, Tensor& holder) {
  if (src.get_desc() == want) return src;
  dnnl::memory dst = scratch(want, holder);
  reorder_into(src, dst);
  return dst;
}

dnnl::memory cached_weights(const Tensor& w, const dnnl::memory& user, const dnnl::memory::desc& want,
                            Tensor& holder) {
  if (user.get_desc() == want) return user;
  Key k;
  k << reinterpret_cast<int64_t>(w.storage().get()) << w.offset() << user.get_desc() << want;
  {
    std::lock_guard<std::mutex> lk(g_wmu);
    for (auto it = g_wlru.begin(); it != g_wlru.end(); ++it) {
      if (it->first != k.str()) continue;
      auto live = it->second.storage.lock();
      if (live.get() == w.storage().get() && it->second.version == w.version()) {
        g_wlru.splice(g_wlru.begin(), g_wlru, it);
        ++g_whits;
        holder = g_wlru.front().second.buffer;
        return dnnl::memory(want, engine(), holder.raw_data());
      }
      g_wlru.erase(it);  // stale: the storage died or was written since
      break;
    }
    ++g_wmisses;
  }
  dnnl::memory out = scratch(want, holder);
  reorder_into(user, out);
  std::lock_guard<std::mutex> lk(g_wmu);
  g_wlru.emplace_front(k.str(), WeightEntry{w.storage(), w.version(), holder});
  while (g_wlru.size() > kWeightCacheEntries) g_wlru.pop_back();
  return out;
}

CacheStats weight_cache_stats() {
  std::lock_guard<std::mutex> lk(g_wmu);
  return {g_whits, g_wmisses, static_cast<int64_t>(g_wlru.size())};
}

void copy_into(Tensor& dst, const Tensor& src) {
  DS_CHECK(dst.sizes() == src.sizes(), "copy_into: shape mismatch");
  visit_dtype(dst.dtype(), [&](auto to) {
    using O = typename decltype(to)::type;
    visit_dtype(src.dtype(), [&](auto from) {
      using I = typename decltype(from)::type;
      if constexpr (std::is_same_v<O, I>) {
        elementwise<O, I>(dst, {&src}, [](I v) { return v; });
      } else if constexpr (std::is_floating_point_v<opmath_t<O>> && std::is_floating_point_v<opmath_t<I>>) {
        elementwise<O, I>(dst, {&src}, [](I v) { return O(static_cast<opmath_t<O>>(static_cast<opmath_t<I>>(v))); });
      } else {
        DS_THROW("copy_into: unsupported conversion ", dtype_name(src.dtype()), " -> ", dtype_name(dst.dtype()));
      }
    });
  });
}

Tensor dense_copy(const Tensor& t, DType to) {
  Tensor out = Tensor::empty(t.sizes(), to, t.device());
  copy_into(out, t);
  return out;
}

void note_impl(const std::string& kind, const dnnl::primitive_desc_base& pd) { note_impl(kind, pd.impl_info_str()); }

void note_impl(const std::string& kind, const std::string& name) {
  std::lock_guard<std::mutex> lk(g_impl_mu);
  g_impls[kind] = name;
}

std::string impl_name(const std::string& kind) {
  std::lock_guard<std::mutex> lk(g_impl_mu);
  auto it = g_impls.find(kind);
  return it == g_impls.end() ? std::string() : it->second;
}

}  // namespace deepseek::cpu::onednn
