// engine/backend/cpu/cpu_backend.cpp — the CPU Backend: a thread pool created once, the KV cache,
// and the float32 Transformer over the mmapped weights.
#include <algorithm>
#include <string>

#include "../../error.h"
#include "../../kv_cache.h"
#include "../../model/model.h"
#include "../../model/transformer.h"
#include "../../trace/step_record.h"
#include "../backend.h"
#include "thread_pool.h"

namespace mlascope {

namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend(const Model& model, const BackendOptions& opt)
      : model_(model),
        pool_(opt.n_threads),
        max_context_(opt.max_context > 0 ? opt.max_context
                                         : std::min(model.config().max_position_embeddings > 0
                                                        ? model.config().max_position_embeddings
                                                        : 4096,
                                                    4096)),
        cache_(model.config(), opt.mla, max_context_, opt.kv_dtype),
        transformer_(model, opt.mla) {
    if (model.config().num_experts_per_tok > kMaxTopK)
      fail("cpu", model.name(), "num_experts_per_tok " + std::to_string(model.config().num_experts_per_tok) +
                                    " exceeds the supported maximum of " + std::to_string(kMaxTopK));
  }

  std::string name() const override {
    return "cpu (" + std::to_string(pool_.size()) + (pool_.size() == 1 ? " thread)" : " threads)");
  }
  DeviceKind kind() const override { return DeviceKind::Cpu; }
  MlaMode mla_mode() const override { return cache_.mode(); }
  int max_context() const override { return max_context_; }

  StepStatus forward(const ForwardRequest& req, std::vector<float>& logits) override {
    const int n = static_cast<int>(req.tokens.size());
    if (n == 0) {
      logits.clear();
      return StepStatus::Ok;
    }
    if (req.start_pos != cache_.n_cached())
      fail("cpu", "forward", "start_pos " + std::to_string(req.start_pos) + " differs from the " +
                                 std::to_string(cache_.n_cached()) + " cached positions");
    if (cache_.n_cached() + n > max_context_) return StepStatus::ContextFull;
    const int V = model_.config().vocab_size;
    for (int32_t id : req.tokens)
      if (id < 0 || id >= V)
        fail("cpu", "forward", "token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
    transformer_.forward(pool_, cache_, req.tokens, req.start_pos, req.all_logits, req.trace, logits);
    cache_.set_n_cached(cache_.n_cached() + n);
    return StepStatus::Ok;
  }

  void truncate(int n_positions) override { cache_.set_n_cached(std::clamp(n_positions, 0, cache_.n_cached())); }
  int n_cached() const override { return cache_.n_cached(); }
  uint64_t kv_bytes_in_use() const override { return cache_.bytes_in_use(); }
  KvDType kv_dtype() const override { return cache_.dtype(); }

 private:
  const Model& model_;
  cpu::ThreadPool pool_;
  int max_context_;
  KvCache cache_;
  Transformer transformer_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const Model& model, const BackendOptions& opt) {
  return std::make_unique<CpuBackend>(model, opt);
}

}  // namespace mlascope
