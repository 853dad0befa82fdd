// sessions/synthetic.cpp — synthetic per-token captures shaped like the real engine's.
#include "synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

namespace mlascope::sessions {

StepRecord synthetic_step(const ModelConfig& c, const CaptureSettings& capture, uint64_t seed, int32_t position,
                          int32_t n_prompt) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(position));
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  StepRecord r;
  r.position = position;
  r.id = static_cast<int32_t>(rng() % static_cast<uint64_t>(std::max(1, c.vocab_size)));
  r.is_prompt = position < n_prompt;
  r.message = r.is_prompt ? 0 : 1;
  char text[48];
  // Every seventh token carries a comma and quotes to exercise CSV/JSON quoting.
  std::snprintf(text, sizeof text, position % 7 == 3 ? "t%d, \"q\"" : "t%d", r.id);
  r.text = text;
  r.prob = position == 0 ? -1.0f : u(rng);
  r.raw_prob = position == 0 ? -1.0f : u(rng);
  r.ms = 1.0f + u(rng);
  r.kv_bytes = static_cast<uint64_t>(position + 1) * static_cast<uint64_t>(c.latent_cache_dim()) *
               static_cast<uint64_t>(c.num_hidden_layers) * 2u;
  for (int i = 0; i < kTopLogits; ++i) {
    r.top_raw.push_back({static_cast<int32_t>(rng() % 4096), u(rng) / static_cast<float>(i + 1)});
    r.top_sampled.push_back({static_cast<int32_t>(rng() % 4096), u(rng) / static_cast<float>(i + 1)});
  }
  if (capture.policy == CapturePolicy::Off) return r;

  const int E = c.n_routed_experts;
  const int K = std::min(c.num_experts_per_tok, kMaxTopK);
  r.scores.assign(static_cast<size_t>(c.n_moe_layers()) * static_cast<size_t>(E), 0.0f);
  r.selection.assign(r.scores.size(), 0.0f);
  for (int layer = 0; layer < c.num_hidden_layers; ++layer) {
    if (!c.is_moe_layer(layer)) continue;
    std::vector<float> scores(static_cast<size_t>(E)), selection(static_cast<size_t>(E));
    for (int e = 0; e < E; ++e) {
      scores[static_cast<size_t>(e)] = u(rng);
      selection[static_cast<size_t>(e)] = scores[static_cast<size_t>(e)] + 0.1f * (u(rng) - 0.5f);
    }
    std::vector<int> order(static_cast<size_t>(E));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return selection[static_cast<size_t>(a)] > selection[static_cast<size_t>(b)]; });
    RouteRow row;
    row.k = static_cast<uint8_t>(K);
    float sum = 0.0f;
    for (int i = 0; i < K; ++i) sum += scores[static_cast<size_t>(order[static_cast<size_t>(i)])];
    for (int i = 0; i < K; ++i) {
      row.expert[static_cast<size_t>(i)] = static_cast<int16_t>(order[static_cast<size_t>(i)]);
      row.weight[static_cast<size_t>(i)] = scores[static_cast<size_t>(order[static_cast<size_t>(i)])] / sum *
                                           static_cast<float>(c.routed_scaling_factor);
    }
    row.kept_groups = c.n_group > 1 ? (rng() & ((1ull << c.n_group) - 1)) | 1ull : ~0ull;
    row.margin = K < E ? selection[static_cast<size_t>(order[static_cast<size_t>(K - 1)])] -
                             selection[static_cast<size_t>(order[static_cast<size_t>(K)])]
                       : 0.0f;
    const size_t off = r.routes.size() * static_cast<size_t>(E);
    std::copy(scores.begin(), scores.end(), r.scores.begin() + static_cast<long>(off));
    std::copy(selection.begin(), selection.end(), r.selection.begin() + static_cast<long>(off));
    r.routes.push_back(row);
  }

  if (capture.policy == CapturePolicy::Routing) return r;
  const int H = c.num_attention_heads;
  const int n_keys = position + 1;
  for (int layer = 0; layer < c.num_hidden_layers; ++layer) {
    const bool chosen = capture.policy == CapturePolicy::Everything || ((capture.attention_layers >> std::min(layer, 63)) & 1ull);
    if (!chosen) continue;
    AttentionRow a;
    a.layer = layer;
    a.n_heads = H;
    a.n_keys = n_keys;
    a.probs.resize(static_cast<size_t>(H) * static_cast<size_t>(n_keys));
    const bool parts = capture.policy == CapturePolicy::Everything;
    if (parts) {
      a.nope = std::vector<float>(a.probs.size());
      a.rope = std::vector<float>(a.probs.size());
    }
    for (int h = 0; h < H; ++h) {
      float* p = a.probs.data() + static_cast<size_t>(h) * static_cast<size_t>(n_keys);
      float mx = -1e30f;
      for (int k = 0; k < n_keys; ++k) {
        const float nope = 3.0f * (u(rng) - 0.5f), rope = 2.0f * (u(rng) - 0.5f);
        p[k] = nope + rope;
        if (parts) {
          a.nope[static_cast<size_t>(h) * static_cast<size_t>(n_keys) + static_cast<size_t>(k)] = nope;
          a.rope[static_cast<size_t>(h) * static_cast<size_t>(n_keys) + static_cast<size_t>(k)] = rope;
        }
        mx = std::max(mx, p[k]);
      }
      float sum = 0.0f;
      for (int k = 0; k < n_keys; ++k) sum += p[k] = std::exp(p[k] - mx);
      for (int k = 0; k < n_keys; ++k) p[k] /= sum;
    }
    r.attention.push_back(std::move(a));
  }
  return r;
}

}  // namespace mlascope::sessions
