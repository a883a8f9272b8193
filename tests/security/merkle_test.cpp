// RFC 9162 Merkle tree: known roots, and proofs checked for every index / size pair up to 40.
#include "deepseek/security/audit/merkle.h"

#include <gtest/gtest.h>

#include <string>

using namespace deepseek::security::audit;

namespace {

std::vector<Hash> leaves_of(std::size_t n) {
  std::vector<Hash> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(leaf_hash("leaf " + std::to_string(i)));
  return out;
}

// The Certificate Transparency reference test vectors (RFC 6962 trees are RFC 9162 trees).
std::vector<std::string> ct_inputs() {
  return {std::string(),
          std::string("\x00", 1),
          std::string("\x10", 1),
          std::string("\x20\x21", 2),
          std::string("\x30\x31", 2),
          std::string("\x40\x41\x42\x43", 4),
          std::string("\x50\x51\x52\x53\x54\x55\x56\x57", 8),
          std::string("\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f", 16)};
}

}  // namespace

TEST(Merkle, MatchesCertificateTransparencyVectors) {
  const char* roots[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  std::vector<Hash> leaves;
  for (auto& s : ct_inputs()) leaves.push_back(leaf_hash(s));
  EXPECT_EQ(hash_hex(tree_root({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  for (std::size_t n = 1; n <= 8; ++n)
    EXPECT_EQ(hash_hex(tree_root(std::span<const Hash>(leaves.data(), n))), roots[n - 1])
        << "size " << n;
}

TEST(Merkle, LeafAndNodeHashesAreDomainSeparated) {
  Hash a = leaf_hash("x"), b = leaf_hash("y");
  std::string as_leaf(1, '\x01');
  as_leaf += std::string(a.begin(), a.end()) + std::string(b.begin(), b.end());
  // The 65 bytes of an interior node, hashed as a leaf, give a different hash.
  EXPECT_NE(leaf_hash(as_leaf.substr(1)), node_hash(a, b));
}

TEST(Merkle, CompactRangeAgreesWithTreeRoot) {
  auto leaves = leaves_of(130);
  CompactRange r;
  EXPECT_EQ(r.root(), tree_root({}));
  for (std::size_t n = 1; n <= leaves.size(); ++n) {
    r.append(leaves[n - 1]);
    ASSERT_EQ(r.root(), tree_root(std::span<const Hash>(leaves.data(), n))) << n;
  }
}

TEST(Merkle, InclusionProofsVerifyAndRejectTampering) {
  auto all = leaves_of(40);
  for (std::uint64_t n = 1; n <= all.size(); ++n) {
    std::span<const Hash> leaves(all.data(), n);
    Hash root = tree_root(leaves);
    for (std::uint64_t i = 0; i < n; ++i) {
      auto proof = inclusion_proof(leaves, i);
      ASSERT_TRUE(verify_inclusion(i, n, leaves[i], proof, root)) << i << "/" << n;
      EXPECT_FALSE(verify_inclusion(i, n, leaf_hash("other"), proof, root));
      if (n > 1) EXPECT_FALSE(verify_inclusion((i + 1) % n, n, leaves[i], proof, root));
      EXPECT_FALSE(verify_inclusion(n, n, leaves[i], proof, root));
      for (std::size_t k = 0; k < proof.size(); ++k) {
        auto bad = proof;
        bad[k][3] ^= 1;
        EXPECT_FALSE(verify_inclusion(i, n, leaves[i], bad, root));
      }
      if (!proof.empty()) {
        auto shorter = proof;
        shorter.pop_back();
        EXPECT_FALSE(verify_inclusion(i, n, leaves[i], shorter, root));
      }
      auto longer = proof;
      longer.push_back(root);
      EXPECT_FALSE(verify_inclusion(i, n, leaves[i], longer, root));
    }
  }
}

TEST(Merkle, ConsistencyProofsVerifyAndRejectTampering) {
  auto all = leaves_of(40);
  for (std::uint64_t n = 1; n <= all.size(); ++n) {
    std::span<const Hash> leaves(all.data(), n);
    Hash new_root = tree_root(leaves);
    for (std::uint64_t m = 1; m <= n; ++m) {
      Hash old_root = tree_root(leaves.subspan(0, m));
      auto proof = consistency_proof(leaves, m);
      ASSERT_TRUE(verify_consistency(m, n, old_root, new_root, proof)) << m << "->" << n;
      if (m < n) {
        EXPECT_FALSE(verify_consistency(m, n, leaf_hash("x"), new_root, proof));
        EXPECT_FALSE(verify_consistency(m, n, old_root, leaf_hash("x"), proof));
        EXPECT_FALSE(verify_consistency(m, n, old_root, new_root, {}));
        for (std::size_t k = 0; k < proof.size(); ++k) {
          auto bad = proof;
          bad[k][0] ^= 0x80;
          EXPECT_FALSE(verify_consistency(m, n, old_root, new_root, bad))
              << m << "->" << n << " k" << k;
        }
        // A proof for a different old size does not carry over.
        if (m + 1 < n)
          EXPECT_FALSE(
              verify_consistency(m + 1, n, tree_root(leaves.subspan(0, m + 1)), new_root, proof));
      }
    }
  }
  // A changed leaf breaks consistency with the old root.
  auto changed = all;
  changed[2] = leaf_hash("forged");
  auto proof = consistency_proof(changed, 5);
  EXPECT_FALSE(verify_consistency(5, 40, tree_root(std::span<const Hash>(all.data(), 5)),
                                  tree_root(changed), proof));
}
