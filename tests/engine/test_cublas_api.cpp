// tests/engine/test_cublas_api.cpp — cuBLAS is opened on first use rather than linked: the loader
// must find the library and every symbol the backend calls. Needs the toolkit, not a GPU: without
// a device cublasCreate answers with an error status, which still proves the call went through.
#include <gtest/gtest.h>

#ifdef MLASCOPE_HAVE_CUDA
#include "engine/backend/cuda/cublas_api.h"
#include "engine/error.h"

TEST(CublasApi, LoadsTheLibraryAndItsSymbolsOnFirstUse) {
  cublasHandle_t h = nullptr;
  cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
  ASSERT_NO_THROW(st = mlascope::blas::create(&h));
  if (st == CUBLAS_STATUS_SUCCESS) {  // a machine with a device: the other entry points work too
    EXPECT_EQ(mlascope::blas::set_math_mode(h, CUBLAS_PEDANTIC_MATH), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(mlascope::blas::destroy(h), CUBLAS_STATUS_SUCCESS);
  }
}
#else
TEST(CublasApi, LoadsTheLibraryAndItsSymbolsOnFirstUse) { GTEST_SKIP() << "built without CUDA"; }
#endif
