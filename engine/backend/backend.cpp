// engine/backend/backend.cpp — backend choice shared by every front end.
#include "backend.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <spdlog/spdlog.h>

#include "../error.h"
#include "../model/model.h"

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

const char* to_string(KvDType t) {
  switch (t) {
    case KvDType::F32: return "f32";
    case KvDType::BF16: return "bf16";
    case KvDType::F16: return "f16";
  }
  return "?";
}

int kv_dtype_bytes(KvDType t) { return t == KvDType::F32 ? 4 : 2; }

bool parse_kv_dtype(std::string_view text, KvDType& out) {
  for (KvDType t : {KvDType::F32, KvDType::BF16, KvDType::F16})
    if (text == to_string(t)) {
      out = t;
      return true;
    }
  return false;
}

TopLogits top_logits(std::span<const float> logits, int n) {
  const int V = static_cast<int>(logits.size());
  if (n < 1 || n > kMaxTopLogits || n > V)
    fail("backend", "top_logits", "n = " + std::to_string(n) + " outside 1.." + std::to_string(std::min(V, kMaxTopLogits)));
  std::vector<int32_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + n, order.end(), [&](int32_t a, int32_t b) {
    const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  });
  TopLogits t;
  t.id.assign(order.begin(), order.begin() + n);
  for (int32_t i : t.id) t.logit.push_back(logits[static_cast<size_t>(i)]);
  // Shifted by the maximum so that large logits cannot overflow the sum.
  const float m = t.logit.front();
  double sum = 0.0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - m);
  t.lse = static_cast<float>(m + std::log(sum));
  return t;
}

StepStatus Backend::forward_top(const ForwardRequest& req, int n, TopLogits& top) {
  if (req.all_logits) fail("backend", "forward_top", "all_logits must be false (only the last position is sampled)");
  std::vector<float> logits;
  const StepStatus st = forward(req, logits);
  if (st == StepStatus::Ok && !logits.empty()) top = top_logits(logits, n);
  return st;
}

std::unique_ptr<Backend> make_backend(const Model& model, const BackendOptions& opt) {
  const int max_pos = model.config().max_position_embeddings;
  if (opt.max_context < 0 || (max_pos > 0 && opt.max_context > max_pos))
    fail("backend", model.name(),
         "context " + std::to_string(opt.max_context) + " exceeds the model's max_position_embeddings " +
             std::to_string(max_pos));
  std::unique_ptr<Backend> b;
  if (opt.device == DeviceKind::Cuda || (opt.device == DeviceKind::Auto && cuda_device_available(nullptr)))
    b = make_cuda_backend(model, opt);
  else
    b = make_cpu_backend(model, opt);
  // A backend may keep its own cache type (CUDA caches f32): say so rather than let the user
  // believe the asked-for one is in use. Every KV figure reads b->kv_dtype().
  if (b->kv_dtype() != opt.kv_dtype)
    if (auto log = spdlog::get("engine"))
      log->warn("{} keeps its KV cache in {} (asked for {})", b->name(), to_string(b->kv_dtype()), to_string(opt.kv_dtype));
  return b;
}

bool computes_on_host(DeviceKind device) {
  if (device == DeviceKind::Cpu) return true;
  if (device == DeviceKind::Cuda) return false;
  return !cuda_device_available(nullptr);
}

}  // namespace mlascope
