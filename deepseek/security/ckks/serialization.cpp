#include "deepseek/security/ckks/serialization.h"

#include <cmath>
#include <cstring>

namespace deepseek::security::ckks {

namespace {

constexpr std::uint8_t kMagic[4] = {'D', 'S', 'C', 'K'};
constexpr std::uint16_t kVersion = 1;
enum ObjType : std::uint16_t {
  kPlaintext = 1,
  kCiphertext = 2,
  kPublicKey = 3,
  kRelinKeys = 4,
  kGaloisKeys = 5,
  kSecretKey = 6
};

std::uint64_t fnv1a(const std::uint8_t* p, std::size_t n) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

class Writer {
 public:
  explicit Writer(const CkksContext& ctx, ObjType type) {
    bytes(kMagic, 4);
    u16(kVersion);
    u16(type);
    u64v(ctx.id());
  }
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { bytes(&v, 2); }
  void u32(std::uint32_t v) { bytes(&v, 4); }
  void u64v(std::uint64_t v) { bytes(&v, 8); }
  void f64(double v) { bytes(&v, 8); }
  // Bit-packs n residues of `width` bits.
  void packed(const u64* v, std::size_t n, int width) {
    u64 acc = 0;
    int fill = 0;
    for (std::size_t i = 0; i < n; ++i) {
      u64 x = v[i];
      acc |= x << fill;
      int used = 64 - fill;
      if (width >= used) {
        u64v(acc);
        acc = used == 64 ? 0 : (x >> used);
        fill = width - used;
      } else {
        fill += width;
      }
    }
    if (fill > 0) bytes(&acc, std::size_t((fill + 7) / 8));
  }
  Bytes finish() {
    std::uint64_t h = fnv1a(out_.data(), out_.size());
    u64v(h);
    return std::move(out_);
  }

 private:
  Bytes out_;
};

class Reader {
 public:
  Reader(const CkksContext& ctx, std::span<const std::uint8_t> in, ObjType type, const char* what)
      : in_(in), what_(what) {
    DS_CHECK(in.size() >= 24, "[ckks] deserialize ", what, ": truncated (", in.size(), " bytes)");
    std::uint64_t stored;
    std::memcpy(&stored, in.data() + in.size() - 8, 8);
    DS_CHECK(stored == fnv1a(in.data(), in.size() - 8), "[ckks] deserialize ", what,
             ": checksum mismatch (corrupted or truncated data)");
    end_ = in.size() - 8;
    std::uint8_t m[4];
    bytes(m, 4);
    DS_CHECK(std::memcmp(m, kMagic, 4) == 0, "[ckks] deserialize ", what, ": not a DeepSeek CKKS object");
    DS_CHECK(u16() == kVersion, "[ckks] deserialize ", what, ": unsupported format version");
    std::uint16_t t = u16();
    DS_CHECK(t == type, "[ckks] deserialize ", what, ": object is of another type (", t, ")");
    DS_CHECK(u64v() == ctx.id(), "[ckks] deserialize ", what, ": object belongs to another parameter set");
  }
  void bytes(void* p, std::size_t n) {
    DS_CHECK(n <= end_ - pos_, "[ckks] deserialize ", what_, ": truncated");
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  std::uint8_t u8() {
    std::uint8_t v;
    bytes(&v, 1);
    return v;
  }
  std::uint16_t u16() {
    std::uint16_t v;
    bytes(&v, 2);
    return v;
  }
  std::uint32_t u32() {
    std::uint32_t v;
    bytes(&v, 4);
    return v;
  }
  std::uint64_t u64v() {
    std::uint64_t v;
    bytes(&v, 8);
    return v;
  }
  double f64() {
    double v;
    bytes(&v, 8);
    return v;
  }
  void packed(u64* v, std::size_t n, int width, u64 bound) {
    const std::size_t nbytes = (n * std::size_t(width) + 7) / 8;
    DS_CHECK(nbytes <= end_ - pos_, "[ckks] deserialize ", what_, ": truncated");
    const std::uint8_t* p = in_.data() + pos_;
    const u64 mask = width == 64 ? ~u64(0) : ((u64(1) << width) - 1);
    std::size_t bit = 0;
    for (std::size_t i = 0; i < n; ++i, bit += std::size_t(width)) {
      // Read up to 9 bytes spanning the field (little-endian bit order, as the writer).
      std::size_t byte = bit >> 3;
      int off = int(bit & 7);
      u64 lo = 0;
      std::size_t avail = std::min<std::size_t>(8, nbytes - byte);
      std::memcpy(&lo, p + byte, avail);
      u64 x = lo >> off;
      if (off + width > 64) x |= u64(p[byte + 8]) << (64 - off);
      x &= mask;
      DS_CHECK(x < bound, "[ckks] deserialize ", what_, ": residue out of range");
      v[i] = x;
    }
    pos_ += nbytes;
  }
  void done() const {
    DS_CHECK(pos_ == end_, "[ckks] deserialize ", what_, ": ", end_ - pos_, " unexpected trailing bytes");
  }

 private:
  std::span<const std::uint8_t> in_;
  const char* what_;
  std::size_t pos_ = 0, end_ = 0;
};

// Limbs of a poly whose limb i is modulo prime idx[i].
void write_poly(Writer& w, const CkksContext& ctx, const RnsPoly& p, const std::vector<std::size_t>& idx) {
  for (std::size_t i = 0; i < idx.size(); ++i) w.packed(p.limb(i), ctx.n(), ctx.modulus(idx[i]).bits);
}
void read_poly(Reader& r, const CkksContext& ctx, RnsPoly& p, const std::vector<std::size_t>& idx) {
  p = RnsPoly(ctx.n(), idx.size());
  for (std::size_t i = 0; i < idx.size(); ++i) {
    const Modulus& q = ctx.modulus(idx[i]);
    r.packed(p.limb(i), ctx.n(), q.bits, q.value);
  }
}
std::vector<std::size_t> all_indices(const CkksContext& ctx) { return qp_indices(ctx, ctx.max_level()); }

int read_level(Reader& r, const CkksContext& ctx) {
  std::uint32_t level = r.u32();
  DS_CHECK(level <= std::uint32_t(ctx.max_level()), "[ckks] deserialize: level ", level, " above max ",
           ctx.max_level());
  return int(level);
}
double read_scale(Reader& r) {
  double s = r.f64();
  DS_CHECK(std::isfinite(s) && s >= 1 && s < std::ldexp(1.0, 1800), "[ckks] deserialize: invalid scale");
  return s;
}

void write_switch_key(Writer& w, const CkksContext& ctx, const KeySwitchKey& k) {
  w.bytes(k.seed.data(), 32);
  w.u32(std::uint32_t(k.b.size()));
  for (const auto& b : k.b) write_poly(w, ctx, b, all_indices(ctx));
}
KeySwitchKey read_switch_key(Reader& r, const CkksContext& ctx) {
  KeySwitchKey k;
  r.bytes(k.seed.data(), 32);
  std::uint32_t digits = r.u32();
  DS_CHECK(digits == ctx.num_digits(ctx.max_level()), "[ckks] deserialize: key has ", digits,
           " digits, the parameter set needs ", ctx.num_digits(ctx.max_level()));
  k.b.resize(digits);
  k.a.resize(digits);
  for (std::uint32_t j = 0; j < digits; ++j) {
    read_poly(r, ctx, k.b[j], all_indices(ctx));
    expand_uniform(ctx, k.seed, kDomainKeySwitchA, j * 64, k.a[j], true);
  }
  k.context_id = ctx.id();
  return k;
}

}  // namespace

Bytes serialize(const CkksContext& ctx, const Ciphertext& ct) {
  DS_CHECK(ct.context_id == ctx.id(), "[ckks] serialize: ciphertext belongs to another parameter set");
  Writer w(ctx, kCiphertext);
  w.u32(std::uint32_t(ct.level));
  w.f64(ct.scale);
  w.u8(std::uint8_t(ct.size()));
  const bool seeded = ct.c1_seed.has_value() && ct.size() == 2;
  w.u8(seeded ? 1 : 0);
  if (seeded) w.bytes(ct.c1_seed->data(), 32);
  const auto idx = q_indices(ct.level);
  for (std::size_t k = 0; k < ct.size(); ++k) {
    if (seeded && k == 1) continue;
    write_poly(w, ctx, ct.parts[k], idx);
  }
  return w.finish();
}

Ciphertext deserialize_ciphertext(const CkksContext& ctx, std::span<const std::uint8_t> in) {
  Reader r(ctx, in, kCiphertext, "ciphertext");
  Ciphertext ct;
  ct.context_id = ctx.id();
  ct.level = read_level(r, ctx);
  ct.scale = read_scale(r);
  std::uint8_t parts = r.u8();
  DS_CHECK(parts == 2 || parts == 3, "[ckks] deserialize ciphertext: ", int(parts), " parts (must be 2 or 3)");
  std::uint8_t seeded = r.u8();
  DS_CHECK(seeded <= 1 && !(seeded && parts != 2), "[ckks] deserialize ciphertext: bad seed flag");
  Seed seed{};
  if (seeded) r.bytes(seed.data(), 32);
  const auto idx = q_indices(ct.level);
  ct.parts.resize(parts);
  for (std::size_t k = 0; k < parts; ++k) {
    if (seeded && k == 1) {
      ct.parts[1] = RnsPoly(ctx.n(), idx.size());
      expand_uniform(ctx, seed, kDomainSymmetricA, 0, ct.parts[1], false);
      ct.c1_seed = seed;
    } else {
      read_poly(r, ctx, ct.parts[k], idx);
    }
  }
  r.done();
  return ct;
}

Bytes serialize(const CkksContext& ctx, const Plaintext& pt) {
  DS_CHECK(pt.context_id == ctx.id(), "[ckks] serialize: plaintext belongs to another parameter set");
  Writer w(ctx, kPlaintext);
  w.u32(std::uint32_t(pt.level));
  w.f64(pt.scale);
  write_poly(w, ctx, pt.poly, q_indices(pt.level));
  return w.finish();
}

Plaintext deserialize_plaintext(const CkksContext& ctx, std::span<const std::uint8_t> in) {
  Reader r(ctx, in, kPlaintext, "plaintext");
  Plaintext pt;
  pt.context_id = ctx.id();
  pt.level = read_level(r, ctx);
  pt.scale = read_scale(r);
  read_poly(r, ctx, pt.poly, q_indices(pt.level));
  r.done();
  return pt;
}

Bytes serialize(const CkksContext& ctx, const PublicKey& pk) {
  DS_CHECK(pk.context_id == ctx.id(), "[ckks] serialize: public key belongs to another parameter set");
  Writer w(ctx, kPublicKey);
  w.bytes(pk.seed.data(), 32);
  write_poly(w, ctx, pk.b, all_indices(ctx));
  return w.finish();
}

PublicKey deserialize_public_key(const CkksContext& ctx, std::span<const std::uint8_t> in) {
  Reader r(ctx, in, kPublicKey, "public key");
  PublicKey pk;
  pk.context_id = ctx.id();
  r.bytes(pk.seed.data(), 32);
  read_poly(r, ctx, pk.b, all_indices(ctx));
  r.done();
  expand_uniform(ctx, pk.seed, kDomainPublicA, 0, pk.a, true);
  return pk;
}

Bytes serialize(const CkksContext& ctx, const RelinKeys& rk) {
  DS_CHECK(rk.key.context_id == ctx.id(), "[ckks] serialize: relinearization key belongs to another parameter set");
  Writer w(ctx, kRelinKeys);
  write_switch_key(w, ctx, rk.key);
  return w.finish();
}

RelinKeys deserialize_relin_keys(const CkksContext& ctx, std::span<const std::uint8_t> in) {
  Reader r(ctx, in, kRelinKeys, "relinearization keys");
  RelinKeys rk{read_switch_key(r, ctx)};
  r.done();
  return rk;
}

Bytes serialize(const CkksContext& ctx, const GaloisKeys& gk) {
  Writer w(ctx, kGaloisKeys);
  w.u32(std::uint32_t(gk.keys.size()));
  for (const auto& [g, k] : gk.keys) {
    DS_CHECK(k.context_id == ctx.id(), "[ckks] serialize: Galois key belongs to another parameter set");
    w.u64v(g);
    write_switch_key(w, ctx, k);
  }
  return w.finish();
}

GaloisKeys deserialize_galois_keys(const CkksContext& ctx, std::span<const std::uint8_t> in) {
  Reader r(ctx, in, kGaloisKeys, "Galois keys");
  GaloisKeys gk;
  std::uint32_t count = r.u32();
  DS_CHECK(count <= ctx.n(), "[ckks] deserialize Galois keys: implausible key count ", count);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint64_t g = r.u64v();
    DS_CHECK((g & 1) && g > 1 && g < 2 * ctx.n(), "[ckks] deserialize Galois keys: invalid Galois element ", g);
    DS_CHECK(!gk.has(g), "[ckks] deserialize Galois keys: duplicate Galois element ", g);
    gk.keys.emplace(g, read_switch_key(r, ctx));
  }
  r.done();
  return gk;
}

Bytes serialize_secret(const CkksContext& ctx, const SecretKey& sk) {
  DS_CHECK(sk.context_id == ctx.id(), "[ckks] serialize: secret key belongs to another parameter set");
  Writer w(ctx, kSecretKey);
  if (sk.seed) {
    w.u8(1);
    w.bytes(sk.seed->data(), 32);
  } else {
    w.u8(0);
    // Ternary coefficients, 2 bits each (0 -> 0, 1 -> 1, 2 -> -1), from limb 0.
    U64Vec c(sk.s.limb(0), sk.s.limb(0) + ctx.n());
    ctx.ntt(0).inverse(c.data());
    const u64 q = ctx.modulus(0).value;
    U64Vec t(ctx.n());
    for (std::size_t i = 0; i < ctx.n(); ++i) {
      DS_CHECK(c[i] <= 1 || c[i] == q - 1, "[ckks] serialize: secret key is not ternary");
      t[i] = c[i] == q - 1 ? 2 : c[i];
    }
    w.packed(t.data(), ctx.n(), 2);
  }
  return w.finish();
}

SecretKey deserialize_secret_key(const CkksContext& ctx, std::span<const std::uint8_t> in) {
  Reader r(ctx, in, kSecretKey, "secret key");
  SecretKey sk;
  sk.context_id = ctx.id();
  std::uint8_t form = r.u8();
  DS_CHECK(form <= 1, "[ckks] deserialize secret key: unknown form ", int(form));
  if (form == 1) {
    Seed seed;
    r.bytes(seed.data(), 32);
    r.done();
    sk.s = secret_from_seed(ctx, seed);
    sk.seed = seed;
  } else {
    U64Vec t(ctx.n());
    r.packed(t.data(), ctx.n(), 2, 3);
    r.done();
    std::vector<std::int64_t> s(ctx.n());
    for (std::size_t i = 0; i < ctx.n(); ++i) s[i] = t[i] == 2 ? -1 : std::int64_t(t[i]);
    small_to_ntt(ctx, s.data(), sk.s, all_indices(ctx));
  }
  return sk;
}

}  // namespace deepseek::security::ckks
