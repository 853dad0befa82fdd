// engine/backend/cuda/cuda_check.h — every CUDA / cuBLAS call goes through these, so a failure
// becomes one mlascope::Error line naming the call ("[cuda] cudaMalloc(latent_cache): out of memory").
// Internal to engine/backend/cuda/.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "engine/error.h"

namespace mlascope::cuda {

inline void check(cudaError_t e, const char* call) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so the next call is not blamed for this one
    fail("cuda", call, cudaGetErrorString(e));
  }
}

inline const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    case CUBLAS_STATUS_MAPPING_ERROR: return "mapping error";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "unknown cuBLAS status";
  }
}

inline void check(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS) fail("cuda", call, cublas_status_name(s));
}

// Kernel launches report configuration errors only through cudaGetLastError.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace mlascope::cuda

#define MLASCOPE_CUDA_CHECK(call) ::mlascope::cuda::check((call), #call)
