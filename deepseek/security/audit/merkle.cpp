#include "deepseek/security/audit/merkle.h"

#include <openssl/sha.h>

#include "deepseek/core/error.h"
#include "deepseek/security/hsm/atomic_file.h"

namespace deepseek::security::audit {
namespace {

std::uint64_t largest_pow2_below(std::uint64_t n) {  // k < n <= 2k, for n >= 2
  std::uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

void path(std::span<const Hash> d, std::uint64_t m, std::vector<Hash>& out) {
  if (d.size() <= 1) return;
  std::uint64_t k = largest_pow2_below(d.size());
  if (m < k) {
    path(d.subspan(0, k), m, out);
    out.push_back(tree_root(d.subspan(k)));
  } else {
    path(d.subspan(k), m - k, out);
    out.push_back(tree_root(d.subspan(0, k)));
  }
}

void subproof(std::span<const Hash> d, std::uint64_t m, bool b, std::vector<Hash>& out) {
  std::uint64_t n = d.size();
  if (m == n) {
    if (!b) out.push_back(tree_root(d));
    return;
  }
  std::uint64_t k = largest_pow2_below(n);
  if (m <= k) {
    subproof(d.subspan(0, k), m, b, out);
    out.push_back(tree_root(d.subspan(k)));
  } else {
    subproof(d.subspan(k), m - k, false, out);
    out.push_back(tree_root(d.subspan(0, k)));
  }
}

}  // namespace

Hash sha256(std::span<const std::uint8_t> data) {
  Hash h;
  SHA256(data.data(), data.size(), h.data());
  return h;
}

Hash leaf_hash(std::span<const std::uint8_t> data) {
  // One-shot SHA256 over 0x00 || data (the streaming SHA256_* calls are deprecated in
  // OpenSSL 3 and the EVP ones cost more than the hash for records this small).
  thread_local std::vector<std::uint8_t> buf;
  buf.resize(data.size() + 1);
  buf[0] = 0x00;
  std::copy(data.begin(), data.end(), buf.begin() + 1);
  Hash h;
  SHA256(buf.data(), buf.size(), h.data());
  return h;
}

Hash node_hash(const Hash& l, const Hash& r) {
  std::uint8_t buf[65];
  buf[0] = 0x01;
  std::copy(l.begin(), l.end(), buf + 1);
  std::copy(r.begin(), r.end(), buf + 33);
  Hash h;
  SHA256(buf, sizeof buf, h.data());
  return h;
}

std::string hash_hex(const Hash& h) { return hsm::to_hex(h); }

Hash hash_from_hex(std::string_view hex, std::string_view what) {
  DS_CHECK(hex.size() == 64, "[audit] ", what, " must be 64 hex digits, got ", hex.size());
  auto bytes = hsm::from_hex(hex, what);
  Hash h;
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

Hash tree_root(std::span<const Hash> d) {
  if (d.empty()) return sha256({});
  if (d.size() == 1) return d[0];
  std::uint64_t k = largest_pow2_below(d.size());
  return node_hash(tree_root(d.subspan(0, k)), tree_root(d.subspan(k)));
}

std::vector<Hash> inclusion_proof(std::span<const Hash> leaves, std::uint64_t index) {
  DS_CHECK(index < leaves.size(), "[audit] inclusion proof for record ", index, " of a tree with ",
           leaves.size(), " records");
  std::vector<Hash> out;
  path(leaves, index, out);
  return out;
}

std::vector<Hash> consistency_proof(std::span<const Hash> leaves, std::uint64_t m) {
  DS_CHECK(m > 0 && m <= leaves.size(), "[audit] consistency proof from size ", m, " to size ",
           leaves.size(), " (need 0 < m <= n)");
  std::vector<Hash> out;
  subproof(leaves, m, true, out);
  return out;
}

bool verify_inclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf,
                      std::span<const Hash> proof, const Hash& root) {
  if (index >= size) return false;
  std::uint64_t fn = index, sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t m, std::uint64_t n, const Hash& old_root,
                        const Hash& new_root, std::span<const Hash> proof) {
  if (m > n) return false;
  if (m == n) return proof.empty() && old_root == new_root;
  if (m == 0) return proof.empty();  // the empty tree is a prefix of every tree
  if (proof.empty()) return false;
  std::vector<Hash> path(proof.begin(), proof.end());
  if ((m & (m - 1)) == 0) path.insert(path.begin(), old_root);
  std::uint64_t fn = m - 1, sn = n - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == old_root && sr == new_root && sn == 0;
}

void CompactRange::append(const Hash& leaf) {
  hashes_.push_back(leaf);
  heights_.push_back(0);
  while (heights_.size() >= 2 && heights_[heights_.size() - 1] == heights_[heights_.size() - 2]) {
    Hash merged = node_hash(hashes_[hashes_.size() - 2], hashes_.back());
    int h = heights_.back() + 1;
    hashes_.pop_back();
    heights_.pop_back();
    hashes_.back() = merged;
    heights_.back() = h;
  }
  ++size_;
}

Hash CompactRange::root() const {
  if (hashes_.empty()) return sha256({});
  Hash r = hashes_.back();
  for (std::size_t i = hashes_.size() - 1; i-- > 0;) r = node_hash(hashes_[i], r);
  return r;
}

}  // namespace deepseek::security::audit
