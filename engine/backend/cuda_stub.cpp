// engine/backend/cuda_stub.cpp — linked instead of engine/backend/cuda/ when built without nvcc.
#include "../error.h"
#include "backend.h"

namespace mlascope {

bool cuda_device_available(std::string* why) {
  if (why) *why = "this build of mlascope has no CUDA backend (nvcc was not found at build time)";
  return false;
}

std::unique_ptr<Backend> make_cuda_backend(const Model&, const BackendOptions&) {
  fail("cuda", "", "this build of mlascope has no CUDA backend (nvcc was not found at build time); use --device cpu");
}

}  // namespace mlascope
