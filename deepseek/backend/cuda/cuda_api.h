// Error checks for the CUDA runtime, cuBLASLt and cuDNN: a failed call throws deepseek::Error
// naming the call and the library's own message (never an abort).
#pragma once

#include <cuda_runtime_api.h>

#include "deepseek/core/error.h"

#define DS_CUDA_CHECK(expr)                                                               \
  do {                                                                                    \
    cudaError_t ds_err_ = (expr);                                                         \
    if (ds_err_ != cudaSuccess) {                                                         \
      (void)cudaGetLastError();                                                           \
      DS_THROW("CUDA error in ", #expr, ": ", cudaGetErrorString(ds_err_));               \
    }                                                                                     \
  } while (0)

// After a kernel launch: catches bad launch configurations at once (asynchronous faults
// surface at the next synchronizing call).
#define DS_CUDA_LAUNCH_CHECK() DS_CUDA_CHECK(cudaGetLastError())
