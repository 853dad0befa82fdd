// engine/backend/cuda_stub.cpp — linked instead of engine/backend/cuda/ when built without nvcc.
#include "../error.h"
#include "backend.h"
#include "cuda/cuda_tools.h"

namespace mlascope {

bool cuda_device_available(std::string* why) {
  if (why) *why = "this build of mlascope has no CUDA backend (nvcc was not found at build time)";
  return false;
}

std::unique_ptr<Backend> make_cuda_backend(const Model&, const BackendOptions&) {
  fail("cuda", "", "this build of mlascope has no CUDA backend (nvcc was not found at build time); use --device cpu");
}

// The CUDA backend's extra entry points (bench/bench_gpu.cpp, tests/engine/test_cuda_*.cpp).
namespace {
[[noreturn]] void no_cuda() {
  fail("cuda", "", "this build of mlascope has no CUDA backend (nvcc was not found at build time)");
}
}  // namespace

std::unique_ptr<Backend> make_cuda_backend_synthetic(const ModelConfig&, const BackendOptions&, uint64_t) { no_cuda(); }
CudaBackendInfo cuda_backend_info(const Backend&) { no_cuda(); }
std::vector<int32_t> cuda_decode_greedy(Backend&, int32_t, int) { no_cuda(); }

namespace cuda_check {
std::vector<float> rms_norm(const std::vector<float>&, const std::vector<float>&, int, float) { no_cuda(); }
std::vector<float> gemv(const std::vector<float>&, int, int, const std::vector<float>&, bool) { no_cuda(); }
std::vector<float> matmul(const std::vector<float>&, int, int, const std::vector<float>&, int, bool) { no_cuda(); }
std::vector<float> ffn_slots(const std::vector<Ffn>&, int, const std::vector<int32_t>&, const std::vector<float>&,
                             const std::vector<float>&, bool) {
  no_cuda();
}
Prepared mla_prepare(const std::vector<float>&, const std::vector<float>&, int, int, int, int, int, int,
                     const std::vector<float>&, const std::vector<float>&, float, float) {
  no_cuda();
}
Routed route(const ModelConfig&, const std::vector<float>&, const std::vector<float>&, int) { no_cuda(); }
TopK top_k(const std::vector<float>&, int) { no_cuda(); }
}  // namespace cuda_check

}  // namespace mlascope
