#include "deepseek/security/ckks/rns_poly.h"

#include <map>
#include <mutex>

namespace deepseek::security::ckks {

namespace {
constexpr std::size_t kCacheLimit = std::size_t(512) << 20;
constexpr std::size_t kMinCached = std::size_t(64) << 10;  // small blocks: malloc is fine
struct BlockCache {
  std::mutex mu;
  std::multimap<std::size_t, void*> free_blocks;
  std::size_t cached = 0;
  ~BlockCache() {
    for (auto& [sz, p] : free_blocks) std::free(p);
  }
};
BlockCache& cache() {
  static BlockCache* c = new BlockCache();  // leaked on purpose: outlives static destructors
  return *c;
}
std::size_t rounded(std::size_t bytes) { return (bytes + 63) & ~std::size_t(63); }
}  // namespace

void* ckks_aligned_alloc(std::size_t bytes) {
  bytes = rounded(bytes ? bytes : 64);
  if (bytes >= kMinCached) {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(bytes);
    if (it != c.free_blocks.end()) {
      void* p = it->second;
      c.free_blocks.erase(it);
      c.cached -= bytes;
      return p;
    }
  }
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

void ckks_aligned_free(void* p, std::size_t bytes) {
  if (!p) return;
  bytes = rounded(bytes ? bytes : 64);
  if (bytes >= kMinCached) {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.cached + bytes <= kCacheLimit) {
      c.free_blocks.emplace(bytes, p);
      c.cached += bytes;
      return;
    }
  }
  std::free(p);
}

}  // namespace deepseek::security::ckks
