// engine/backend/cuda/cuda_device.cu — device discovery for the CUDA backend.
#include <cuda_runtime.h>

#include <string>

#include "engine/backend/backend.h"
#include "engine/error.h"

namespace mlascope {

bool cuda_device_available(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    if (why) *why = e != cudaSuccess ? std::string("no usable CUDA device: ") + cudaGetErrorString(e) : "no CUDA device";
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return false;
  }
  return true;
}

}  // namespace mlascope
