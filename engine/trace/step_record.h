// engine/trace/step_record.h — everything captured for one token, handed from the generator
// (worker thread) to the TraceModel (reader thread) as one value through an SPSC queue, and written
// to / read from session files. Plain values: no pointers into engine memory.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mlascope {

constexpr int kMaxTopK = 16;   // routed experts per token we can record (DeepSeek uses 2..8)
constexpr int kTopLogits = 20;  // alternatives kept per step

// What the engine captures while it runs (the cost grows down the list; Off costs nothing).
enum class CapturePolicy : uint8_t {
  Off = 0,               // tokens and probabilities only
  Routing = 1,           // + routing of every MoE layer (ids, weights, all scores, groups, margin)
  RoutingAttention = 2,  // + attention probabilities of the chosen layers
  Everything = 3,        // + attention of every layer with its nope/rope parts
};
const char* to_string(CapturePolicy p);

struct CaptureSettings {
  CapturePolicy policy = CapturePolicy::Routing;
  uint64_t attention_layers = ~0ull;  // bit L: capture attention of layer L (RoutingAttention)
};

struct TopEntry {
  int32_t id = -1;
  float prob = 0.0f;
};

// One routing decision: one token in one MoE layer.
struct RouteRow {
  uint8_t k = 0;
  std::array<int16_t, kMaxTopK> expert{};  // descending selection score
  std::array<float, kMaxTopK> weight{};    // final multipliers
  uint64_t kept_groups = ~0ull;            // bit g: group g survived the group limit
  float margin = 0.0f;                     // smallest gap that decided this routing
};

struct AttentionRow {
  int32_t layer = 0;
  int32_t n_heads = 0;
  int32_t n_keys = 0;        // position + 1
  std::vector<float> probs;  // [n_heads, n_keys]
  std::vector<float> nope;   // [n_heads, n_keys] content part of the scaled score (may be empty)
  std::vector<float> rope;   // [n_heads, n_keys] positional part of the scaled score (may be empty)
};

struct StepRecord {
  int32_t position = 0;
  int32_t id = -1;
  bool is_prompt = false;
  int32_t message = -1;        // index of the chat message this token belongs to
  std::string text;            // display string (token_display)
  float prob = -1.0f;          // probability of this token when it was chosen (sampler's final distribution);
                               // for prompt tokens: under the model's raw softmax; -1 when unknown (position 0)
  float raw_prob = -1.0f;      // probability under the raw softmax of the logits
  std::vector<TopEntry> top_raw;      // top-20 of softmax(logits) before the sampler
  std::vector<TopEntry> top_sampled;  // top-20 after temperature/top-k/top-p/min-p/penalties
  float ms = 0.0f;             // wall time that produced this token (prompt: share of the prefill)
  uint64_t kv_bytes = 0;       // KV cache bytes in use after this token (latent cache when absorbed)

  std::vector<RouteRow> routes;     // [n_moe_layers] in layer order; empty when not captured
  std::vector<float> scores;        // [n_moe_layers, n_routed_experts] unbiased; may be empty
  std::vector<float> selection;     // [n_moe_layers, n_routed_experts] biased selection scores; may be empty
  std::vector<AttentionRow> attention;  // the captured layers, ascending layer order
};

}  // namespace mlascope
