// The Merkle tree behind the audit log, exactly as RFC 9162 (Certificate Transparency v2)
// §2.1 defines it: leaf hash SHA-256(0x00 || data), interior node SHA-256(0x01 || left ||
// right), trees of any size split at the largest power of two below their size, plus
// inclusion proofs ("record i is in the tree of size n with this root") and consistency
// proofs ("the tree of size m is a prefix of the tree of size n") and their verifiers. The
// domain separation bytes keep a leaf from being passed off as an interior node.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace deepseek::security::audit {

using Hash = std::array<std::uint8_t, 32>;

Hash sha256(std::span<const std::uint8_t> data);
Hash leaf_hash(std::span<const std::uint8_t> data);
inline Hash leaf_hash(std::string_view s) {
  return leaf_hash({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}
Hash node_hash(const Hash& left, const Hash& right);
std::string hash_hex(const Hash& h);
Hash hash_from_hex(std::string_view hex, std::string_view what);  // throws Error

// MTH over leaf hashes (already through leaf_hash); MTH({}) = SHA-256("").
Hash tree_root(std::span<const Hash> leaves);

// PATH(index, D[n]) with n = leaves.size(); index < n.
std::vector<Hash> inclusion_proof(std::span<const Hash> leaves, std::uint64_t index);
// PROOF(m, D[n]) with 0 < m <= n = leaves.size() (empty when m == n).
std::vector<Hash> consistency_proof(std::span<const Hash> leaves, std::uint64_t m);

// RFC 9162 §2.1.3.2 and §2.1.4.2. They return false on any mismatch or malformed input.
bool verify_inclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf,
                      std::span<const Hash> proof, const Hash& root);
bool verify_consistency(std::uint64_t m, std::uint64_t n, const Hash& old_root,
                        const Hash& new_root, std::span<const Hash> proof);

// The O(log n) state needed to append leaves and compute the current root: the roots of the
// perfect subtrees the tree decomposes into, largest first.
class CompactRange {
 public:
  void append(const Hash& leaf);
  Hash root() const;
  std::uint64_t size() const { return size_; }

 private:
  std::vector<Hash> hashes_;
  std::vector<int> heights_;
  std::uint64_t size_ = 0;
};

}  // namespace deepseek::security::audit
