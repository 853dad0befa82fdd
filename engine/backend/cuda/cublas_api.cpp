// engine/backend/cuda/cublas_api.cpp — see cublas_api.h.
#include "cublas_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "../../error.h"

namespace mlascope::blas {

namespace {

struct Api {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
};

const std::string& soname() {
  static const std::string s = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  return s;
}

const Api& api() {
  static Api a;
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    // The loader's search path first (LD_LIBRARY_PATH, ld.so.cache), then the toolkit this was
    // built against.
    void* h = ::dlopen(soname().c_str(), RTLD_NOW | RTLD_LOCAL);
#ifdef MLASCOPE_CUDA_LIBRARY_DIR
    if (!h) h = ::dlopen((std::string(MLASCOPE_CUDA_LIBRARY_DIR) + "/" + soname()).c_str(), RTLD_NOW | RTLD_LOCAL);
#endif
    if (!h) {
      const char* e = ::dlerror();
      error = std::string("cannot load cuBLAS: ") + (e ? e : "not found");
      return;
    }
    auto sym = [&](const char* name) {
      void* p = ::dlsym(h, name);
      if (!p && error.empty()) error = std::string("cuBLAS has no symbol ") + name;
      return p;
    };
    a.create = reinterpret_cast<decltype(a.create)>(sym("cublasCreate_v2"));
    a.destroy = reinterpret_cast<decltype(a.destroy)>(sym("cublasDestroy_v2"));
    a.set_stream = reinterpret_cast<decltype(a.set_stream)>(sym("cublasSetStream_v2"));
    a.set_math_mode = reinterpret_cast<decltype(a.set_math_mode)>(sym("cublasSetMathMode"));
    a.sgemm = reinterpret_cast<decltype(a.sgemm)>(sym("cublasSgemm_v2"));
  });
  if (!error.empty()) fail("cuda", soname(), error);
  return a;
}

}  // namespace

cublasStatus_t create(cublasHandle_t* handle) { return api().create(handle); }
cublasStatus_t destroy(cublasHandle_t handle) { return api().destroy(handle); }
cublasStatus_t set_stream(cublasHandle_t handle, cudaStream_t stream) { return api().set_stream(handle, stream); }
cublasStatus_t set_math_mode(cublasHandle_t handle, cublasMath_t mode) { return api().set_math_mode(handle, mode); }
cublasStatus_t sgemm(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                     const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta, float* C,
                     int ldc) {
  return api().sgemm(handle, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace mlascope::blas
