#include "deepseek/security/encrypted/homo_encryptor.h"

#include <map>
#include <mutex>

namespace deepseek::security {

namespace {

class SeedKeySource : public KeySource {
 public:
  explicit SeedKeySource(const std::string& uri) : uri_(uri) {
    const std::string body = uri.substr(5);
    if (body == "random") {
      seed_ = ckks::random_seed();
      return;
    }
    DS_CHECK(body.size() == 64, "[encrypted] key URI 'seed:' needs 64 hex digits or 'random', got ", body.size(),
             " characters");
    for (std::size_t i = 0; i < 32; ++i) {
      auto hex = [&](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        DS_THROW("[encrypted] key URI 'seed:' has a non-hex digit '", c, "'");
      };
      seed_[i] = std::uint8_t(hex(body[2 * i]) * 16 + hex(body[2 * i + 1]));
    }
  }
  ~SeedKeySource() override { seed_.fill(0); }
  ckks::Seed secret_seed() override { return seed_; }
  std::string uri() const override { return uri_; }

 private:
  std::string uri_;
  ckks::Seed seed_{};
};

std::mutex g_mu;
std::map<std::string, KeySourceFactory>& factories() {
  static std::map<std::string, KeySourceFactory> f;
  return f;
}

}  // namespace

void register_key_source(const std::string& scheme, KeySourceFactory factory) {
  std::lock_guard<std::mutex> lock(g_mu);
  factories()[scheme] = std::move(factory);
}

std::unique_ptr<KeySource> open_key_source(const std::string& uri) {
  const auto colon = uri.find(':');
  DS_CHECK(colon != std::string::npos, "[encrypted] key URI '", uri, "' has no scheme (e.g. seed:..., pkcs11:...)");
  const std::string scheme = uri.substr(0, colon);
  if (scheme == "seed") return std::make_unique<SeedKeySource>(uri);
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = factories().find(scheme);
  DS_CHECK(it != factories().end(), "[encrypted] no key source registered for '", scheme,
           ":' URIs (pkcs11: keys need the HSM module to call register_key_source)");
  return it->second(uri);
}

HomoEncryptor::HomoEncryptor(const std::string& key_uri, const ckks::CkksParameters& params)
    : HomoEncryptor(open_key_source(key_uri), params) {}

HomoEncryptor::HomoEncryptor(std::unique_ptr<KeySource> source, const ckks::CkksParameters& params) {
  DS_CHECK(source != nullptr, "[encrypted] HomoEncryptor needs a key source");
  uri_ = source->uri();
  ctx_ = ckks::CkksContext::create(params);
  ckks::Seed seed = source->secret_seed();
  kg_ = std::make_unique<ckks::KeyGenerator>(ctx_, seed);
  seed.fill(0);
  encoder_ = std::make_unique<ckks::CkksEncoder>(ctx_);
  encryptor_ = std::make_unique<ckks::Encryptor>(ctx_, kg_->create_public_key());
  decryptor_ = std::make_unique<ckks::Decryptor>(ctx_, kg_->secret_key());
  galois_ = std::make_shared<ckks::GaloisKeys>();
  eval_ = std::make_unique<ckks::Evaluator>(ctx_, std::make_shared<ckks::RelinKeys>(kg_->create_relin_keys()),
                                            galois_);
}

void HomoEncryptor::add_rotations(const std::vector<int>& steps) {
  std::vector<int> missing;
  for (int s : steps) {
    auto g = ctx_->galois_element(s);
    if (g != 1 && !galois_->has(g)) missing.push_back(s);
  }
  if (missing.empty()) return;
  auto fresh = kg_->create_galois_keys(missing);
  auto merged = std::make_shared<ckks::GaloisKeys>(*galois_);
  for (auto& [g, k] : fresh.keys) merged->keys.emplace(g, std::move(k));
  galois_ = merged;
  eval_->set_galois_keys(galois_);
}

EncryptedTensor HomoEncryptor::encrypt(const PlainTensor& raw) const {
  std::size_t numel = 1;
  for (auto d : raw.shape) numel *= d;
  DS_CHECK(!raw.shape.empty() && numel == raw.data.size(), "[encrypted] encrypt: ", raw.data.size(),
           " values for shape of ", numel, " elements");
  const std::size_t last = raw.shape.back(), rows = numel / last, slots = ctx_->slots();
  std::size_t width = 1;
  while (width < last) width <<= 1;
  DS_CHECK(width <= slots, "[encrypted] encrypt: rows of ", last, " values exceed the ", slots, " slots");
  const std::size_t per_ct = slots / width;
  EncryptedTensor t;
  t.shape = raw.shape;
  t.layout = SlotLayout::kRowMajor;
  t.period = width;
  t.batch = per_ct;
  for (std::size_t r0 = 0; r0 < rows; r0 += per_ct) {
    std::vector<double> v(slots, 0.0);
    for (std::size_t r = r0; r < std::min(rows, r0 + per_ct); ++r)
      for (std::size_t j = 0; j < last; ++j) v[(r - r0) * width + j] = raw.data[r * last + j];
    t.cts.push_back(encryptor_->encrypt(encoder_->encode(v)));
  }
  return t;
}

std::vector<double> HomoEncryptor::decrypt_slots(const ckks::Ciphertext& ct) const {
  return encoder_->decode(decryptor_->decrypt(ct));
}

PlainTensor HomoEncryptor::decrypt(const EncryptedTensor& t) const {
  DS_CHECK(t.layout == SlotLayout::kRowMajor, "[encrypted] decrypt: use decrypt_interleaved for interleaved tensors");
  PlainTensor out;
  out.shape = t.shape;
  const std::size_t numel = t.numel();
  out.data.assign(numel, 0.0);
  const std::size_t last = t.shape.back(), width = t.period ? t.period : last, per_ct = t.batch ? t.batch : 1;
  for (std::size_t c = 0; c < t.cts.size(); ++c) {
    auto v = decrypt_slots(t.cts[c]);
    for (std::size_t r = 0; r < per_ct; ++r) {
      const std::size_t row = c * per_ct + r;
      if (row * last >= numel) break;
      for (std::size_t j = 0; j < last; ++j) out.data[row * last + j] = v[r * width + j];
    }
  }
  return out;
}

EncryptedTensor HomoEncryptor::encrypt_interleaved(const std::vector<std::vector<double>>& vectors,
                                                   std::size_t period) const {
  EncryptedTensor t;
  t.layout = SlotLayout::kInterleaved;
  t.period = period;
  t.batch = vectors.size();
  t.shape = {vectors.size(), vectors.empty() ? 0 : vectors[0].size()};
  std::vector<double> slots(ctx_->slots(), 0.0);
  const std::size_t B = vectors.size();
  DS_CHECK(B >= 1 && period * B <= ctx_->slots() && ctx_->slots() % (period * B) == 0,
           "[encrypted] encrypt_interleaved: ", B, " vectors of period ", period, " do not tile the slots");
  for (std::size_t rep = 0; rep < ctx_->slots() / (period * B); ++rep)
    for (std::size_t b = 0; b < B; ++b) {
      DS_CHECK(vectors[b].size() <= period, "[encrypted] encrypt_interleaved: vector longer than the period");
      for (std::size_t i = 0; i < vectors[b].size(); ++i) slots[rep * period * B + i * B + b] = vectors[b][i];
    }
  t.cts.push_back(encryptor_->encrypt(encoder_->encode(slots)));
  return t;
}

std::vector<std::vector<double>> HomoEncryptor::decrypt_interleaved(const EncryptedTensor& t, std::size_t length) const {
  std::vector<std::vector<double>> out(t.batch, std::vector<double>(length));
  auto v = decrypt_slots(t.cts.at(0));
  for (std::size_t b = 0; b < t.batch; ++b)
    for (std::size_t i = 0; i < length; ++i) out[b][i] = v[i * t.batch + b];
  return out;
}

EncryptedTensor HomoEncryptor::encrypt_square_matrix(const std::vector<double>& m, std::size_t d) const {
  DS_CHECK(m.size() == d * d && d * d <= ctx_->slots() && ctx_->slots() % (d * d) == 0,
           "[encrypted] encrypt_square_matrix: bad size");
  std::vector<double> v(ctx_->slots());
  for (std::size_t s = 0; s < v.size(); ++s) v[s] = m[s % (d * d)];
  EncryptedTensor t;
  t.shape = {d, d};
  t.cts.push_back(encryptor_->encrypt(encoder_->encode(v)));
  t.period = d * d;
  return t;
}

ckks::Ciphertext HomoEncryptor::refresh(const ckks::Ciphertext& ct) const {
  ++refreshes_;
  auto v = encoder_->decode_complex(decryptor_->decrypt(ct));
  return encryptor_->encrypt(encoder_->encode(std::span<const std::complex<double>>(v)));
}

}  // namespace deepseek::security
