// engine/backend/backend.cpp — backend choice shared by every front end.
#include "backend.h"

namespace mlascope {

const char* to_string(MlaMode m) { return m == MlaMode::Naive ? "naive" : "absorbed"; }

const char* to_string(DeviceKind d) {
  switch (d) {
    case DeviceKind::Auto: return "auto";
    case DeviceKind::Cpu: return "cpu";
    case DeviceKind::Cuda: return "cuda";
  }
  return "?";
}

std::unique_ptr<Backend> make_backend(const Model& model, const BackendOptions& opt) {
  if (opt.device == DeviceKind::Cuda) return make_cuda_backend(model, opt);
  if (opt.device == DeviceKind::Auto && cuda_device_available(nullptr)) return make_cuda_backend(model, opt);
  return make_cpu_backend(model, opt);
}

}  // namespace mlascope
