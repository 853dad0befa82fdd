// tests/support/golden_compare.h — one golden run of any backend and its comparison with the
// reference, shared by the CPU golden tests (test_golden.cpp) and the CUDA ones (test_cuda_golden.cpp)
// so that both backends are held to the same checks and tolerances (tests/data/golden/README.md):
//   Produced p = run_golden(*backend, model.config(), /*prefill=*/true, g.prompt_ids(), n_greedy);
//   std::vector<std::string> fails = check_all(p, g, model.config());  // empty: within tolerance
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/generator.h"
#include "engine/model/model.h"
#include "engine/trace/activation_recorder.h"
#include "golden.h"

namespace mlascope::test {

// What the engine produced for one run, by golden tensor name.
struct Produced {
  std::map<std::string, RecordedTensor> t;
};

// Model::load once per folder for the whole test executable.
std::shared_ptr<Model> golden_model(const std::filesystem::path& dir);

// The prompt through `backend` (empty cache), as one batch (prefill) or one token per forward call,
// every trace point recorded; then n_greedy greedy steps from host argmax (greedy_ids, greedy_logits).
Produced run_golden(Backend& backend, const ModelConfig& c, bool prefill, const std::vector<int32_t>& prompt,
                    int n_greedy);

// "position 3, index 7" / "head h, position q, key k" for a flat index into a golden tensor.
std::string where_of(const std::vector<int64_t>& shape, size_t flat);
// First divergence of one tensor (shape, then |got - golden| <= tol), or nothing.
std::optional<std::string> compare(const std::string& name, const RecordedTensor& got, const GoldenTensor& want,
                                   double tol);
// route_idx.L as sets per position, route_w.L matched by expert id (case tolerance).
std::optional<std::string> compare_routes(int layer, const Produced& p, const Golden& g);
// Every check in forward order (embed, per layer kv_latent/k_rope/attn/router_probs/routes/hidden,
// final_norm, logits, greedy_ids exact, greedy_logits); one message per failing tensor.
std::vector<std::string> check_all(const Produced& p, const Golden& g, const ModelConfig& c);
// The Generator as the applications run it: feeds prompt_ids, generates N-1 greedy tokens (going
// on after an EOS, as the reference does; each
// step's selection through Backend::forward_top), then feeds greedy_ids[N-1]. Checks the ids, each
// record's raw probability and top entry against greedy_logits, and routes when captured. The
// generator must be fresh, with room for T + N positions.
std::vector<std::string> check_generated_greedy(Generator& gen, const Golden& g);

// The prompt through a fresh CPU backend in one forward call, the logits of every position into
// `logits` ([prompt.size(), vocab]).
StepStatus cpu_prompt_logits(const Model& model, std::span<const int32_t> prompt, std::vector<float>& logits, int n_threads,
                             MlaMode mla = BackendOptions{}.mla);

// "first divergence: ... (n tensors out of tolerance in all)" and the next few, for FAIL().
std::string describe_failures(const std::vector<std::string>& fails);

}  // namespace mlascope::test
