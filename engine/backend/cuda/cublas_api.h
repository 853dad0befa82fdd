// engine/backend/cuda/cublas_api.h — the cuBLAS calls the backend makes, through a library opened
// on first use instead of linked. libcublas pulls in libcublasLt (540 MB); linked, the dynamic
// loader relocated it at every process start: 0.4-0.5 s and ~200 MB resident for any mlascope
// command, `--help` included, with or without a GPU. Now only a CUDA backend pays for it.
#pragma once
#include <cublas_v2.h>

namespace mlascope::blas {

// Each throws Error ("[cuda] libcublas.so.N: ...") when the library or a symbol cannot be loaded.
cublasStatus_t create(cublasHandle_t* handle);
cublasStatus_t destroy(cublasHandle_t handle);
cublasStatus_t set_stream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t set_math_mode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t sgemm(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                     const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta, float* C,
                     int ldc);

}  // namespace mlascope::blas
