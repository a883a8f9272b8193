#include "deepseek/security/hsm/secret_bytes.h"

#include <openssl/crypto.h>
#include <sys/mman.h>

#include <cstring>
#include <new>
#include <utility>

namespace deepseek::security::hsm {

SecretBytes::SecretBytes(std::size_t size) : size_(size), capacity_(size) {
  if (size == 0) return;
  data_ = new std::uint8_t[size]();
  // Best effort: an unprivileged process may be over RLIMIT_MEMLOCK; the secret is still
  // wiped on destruction, it just may reach swap.
  locked_ = ::mlock(data_, size) == 0;
}

SecretBytes::SecretBytes(const std::uint8_t* data, std::size_t size) : SecretBytes(size) {
  if (size) std::memcpy(data_, data, size);
}

SecretBytes::SecretBytes(SecretBytes&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      capacity_(std::exchange(o.capacity_, 0)),
      locked_(std::exchange(o.locked_, false)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    wipe();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
    locked_ = std::exchange(o.locked_, false);
  }
  return *this;
}

void SecretBytes::resize_down(std::size_t size) {
  if (size >= size_) return;
  OPENSSL_cleanse(data_ + size, size_ - size);
  size_ = size;
}

void SecretBytes::wipe() {
  if (!data_) return;
  OPENSSL_cleanse(data_, capacity_);
  if (locked_) ::munlock(data_, capacity_);
  delete[] data_;
  data_ = nullptr;
  size_ = capacity_ = 0;
  locked_ = false;
}

}  // namespace deepseek::security::hsm
