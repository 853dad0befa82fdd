// views/kv_figures.cpp — see kv_figures.h.
#include "kv_figures.h"

#include <algorithm>
#include <cmath>

#include "chart.h"

namespace mlascope::views {

int kv_dtype_size(const std::string& d) {
  if (d == "f32" || d == "fp32") return 4;
  if (d == "bf16" || d == "f16" || d == "fp16") return 2;
  if (d == "fp8" || d == "f8") return 1;
  return 0;
}

std::string KvShown::text() const { return "KV " + format_bytes(bytes) + " " + dtype; }

KvShown kv_shown(const TraceModel& tm, size_t n_tokens) {
  const ModelConfig& c = tm.config();
  KvShown k;
  k.n_tokens = std::min(n_tokens, tm.size());
  k.n_layers = c.num_hidden_layers;
  const bool naive = tm.meta().mla_mode == "naive";
  k.scheme = naive ? "MLA naive" : "MLA latent";
  const int64_t H = c.num_attention_heads;
  k.values_per_token_layer = naive ? H * (c.qk_nope_head_dim + c.qk_rope_head_dim) + H * c.v_head_dim : c.latent_cache_dim();
  const double values = static_cast<double>(k.values_per_token_layer) * k.n_layers * static_cast<double>(k.n_tokens);
  const uint64_t measured = k.n_tokens > 0 ? tm.token(k.n_tokens - 1).kv_bytes : 0;
  k.measured = measured > 0;
  k.bytes_per_elem = kv_dtype_size(tm.meta().kv_dtype);
  if (k.bytes_per_elem > 0) {
    k.dtype = tm.meta().kv_dtype;
  } else {
    k.dtype_inferred = true;
    // Sessions from before the dtype was recorded: what the cache held per value decides it; with
    // nothing measured either, the engine's default cache dtype (f32).
    const double per = k.measured && values > 0 ? static_cast<double>(measured) / values : 4.0;
    k.bytes_per_elem = per > 3 ? 4 : per > 1.5 ? 2 : 1;
    k.dtype = k.bytes_per_elem == 4 ? "f32" : k.bytes_per_elem == 2 ? "f16/bf16" : "fp8";
  }
  k.bytes = k.measured ? static_cast<double>(measured) : values * k.bytes_per_elem;
  return k;
}

const char* to_string(KvBaseline b) {
  switch (b) {
    case KvBaseline::MhaSameHeads: return "MHA, same heads (K incl. rope)";
    case KvBaseline::MhaNoRope: return "MHA, same heads (K without rope, as the V2 paper counts)";
    case KvBaseline::MhaNHeads: return "MHA with N heads of d_h";
    case KvBaseline::Gqa: return "GQA with g groups";
    case KvBaseline::Mqa: return "MQA (one K/V head)";
  }
  return "?";
}

const char* kv_baseline_id(KvBaseline b) {
  switch (b) {
    case KvBaseline::MhaSameHeads: return "mha-same";
    case KvBaseline::MhaNoRope: return "mha-no-rope";
    case KvBaseline::MhaNHeads: return "mha-n";
    case KvBaseline::Gqa: return "gqa";
    case KvBaseline::Mqa: return "mqa";
  }
  return "?";
}

bool parse_kv_baseline(const std::string& id, KvBaseline* out) {
  for (KvBaseline b : {KvBaseline::MhaSameHeads, KvBaseline::MhaNoRope, KvBaseline::MhaNHeads, KvBaseline::Gqa, KvBaseline::Mqa})
    if (id == kv_baseline_id(b)) {
      *out = b;
      return true;
    }
  return false;
}

namespace {
int64_t d_h(const ModelConfig& c) { return c.v_head_dim > 0 ? c.v_head_dim : c.qk_nope_head_dim; }
}  // namespace

int64_t kv_baseline_values(const ModelConfig& c, KvBaseline b, int n) {
  const int64_t H = c.num_attention_heads;
  switch (b) {
    case KvBaseline::MhaSameHeads: return H * (c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim);
    case KvBaseline::MhaNoRope: return H * (c.qk_nope_head_dim + c.v_head_dim);
    case KvBaseline::MhaNHeads: return 2 * std::max(1, n) * d_h(c);
    case KvBaseline::Gqa: return 2 * std::clamp<int64_t>(n, 1, std::max<int64_t>(1, H)) * d_h(c);
    case KvBaseline::Mqa: return 2 * d_h(c);
  }
  return 0;
}

std::string kv_baseline_formula(const ModelConfig& c, KvBaseline b, int n) {
  const std::string H = format_count(c.num_attention_heads), dh = format_count(d_h(c));
  const std::string total = " = " + format_count(kv_baseline_values(c, b, n));
  switch (b) {
    case KvBaseline::MhaSameHeads:
      return H + " heads x (" + format_count(c.qk_nope_head_dim) + " + " + format_count(c.qk_rope_head_dim) + " + " +
             format_count(c.v_head_dim) + ")" + total;
    case KvBaseline::MhaNoRope:
      return H + " heads x (" + format_count(c.qk_nope_head_dim) + " + " + format_count(c.v_head_dim) + ")" + total;
    case KvBaseline::MhaNHeads: return "2 x " + format_count(std::max(1, n)) + " heads x " + dh + total;
    case KvBaseline::Gqa:
      return "2 x " + format_count(std::clamp(n, 1, std::max(1, c.num_attention_heads))) + " groups x " + dh + total;
    case KvBaseline::Mqa: return "2 x 1 head x " + dh + total;
  }
  return {};
}

double mla_fraction_of(const ModelConfig& c, KvBaseline b, int n) {
  const int64_t base = kv_baseline_values(c, b, n);
  return base > 0 ? static_cast<double>(c.latent_cache_dim()) / static_cast<double>(base) : 0.0;
}

double mha_heads_for_fraction(const ModelConfig& c, double fraction) {
  if (!(fraction > 0) || d_h(c) <= 0) return 0.0;
  return static_cast<double>(c.latent_cache_dim()) / (2.0 * static_cast<double>(d_h(c)) * fraction);
}

std::vector<int> gqa_group_choices(int n_heads) {
  std::vector<int> g;
  for (int i = 1; i <= std::max(1, n_heads); ++i)
    if (n_heads <= 0 || n_heads % i == 0) g.push_back(i);
  return g;
}

int snap_gqa_groups(int want, int n_heads) {
  int g = 1;
  for (int c : gqa_group_choices(n_heads))
    if (c <= want) g = c;
  return g;
}

ContextFit longest_context(double budget, double per_token, int64_t max_pos) {
  ContextFit f;
  if (per_token <= 0 || !(budget > 0)) return f;
  const double n = std::floor(budget / per_token);
  f.tokens = n > 9.0e18 ? INT64_MAX : static_cast<int64_t>(n);
  f.beyond_max = max_pos > 0 && f.tokens > max_pos;
  return f;
}

}  // namespace mlascope::views
