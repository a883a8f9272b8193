#include "deepseek/core/storage.h"

#include "deepseek/core/accelerator.h"

namespace deepseek {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_meta() || nbytes == 0) return;
  allocator_ = allocator_for(device);
  if (device.is_cuda()) cuda_set_device(device.index);  // the allocator serves the current device
  data_ = allocator_->allocate(nbytes);
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void()> release)
    : data_(data), nbytes_(nbytes), device_(device), release_(std::move(release)) {}

Storage::~Storage() {
  if (release_) release_();
  else if (allocator_) allocator_->deallocate(data_, nbytes_);
}

}  // namespace deepseek
