// SecretBytes: an owning byte buffer for key material (unwrapped CKKS seeds, AES data keys)
// that is wiped with OPENSSL_cleanse when it goes away, so a secret lives in memory only as
// long as the scope that needs it. It cannot be copied (a copy would be a second secret to
// forget); it can be moved. The pages are mlock'ed when the OS allows it so the secret is
// not written to swap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace deepseek::security::hsm {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size);
  SecretBytes(const std::uint8_t* data, std::size_t size);
  ~SecretBytes() { wipe(); }

  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const std::uint8_t> span() const { return {data_, size_}; }
  std::span<std::uint8_t> mutable_span() { return {data_, size_}; }

  // Shrinks the visible size (the tail is wiped); used after a library reports fewer bytes.
  void resize_down(std::size_t size);
  // Zeroizes and frees now; the object is then empty.
  void wipe();

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  bool locked_ = false;
};

}  // namespace deepseek::security::hsm
