// tests/engine/test_mla_forms.cpp — absorbed MLA (latent cache, W_UK/W_UV folded) equals naive MLA
// (per-head K/V cache) beyond the golden prompts: a long random prompt on the demo model, prefill
// in uneven chunks vs token by token, and the cache sizes each form must have.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "support/data_paths.h"

using namespace mlascope;

namespace {

struct Captured : TraceSink {
  std::map<std::pair<int, int>, std::vector<float>> rows;  // (layer, position) -> [H, n_keys]
  std::vector<float> attn;                                  // all rows in (layer, position) order
  Captured() { points = uint32_t(TracePoint::AttnProbs); }
  void on_attention(int layer, int position, int n_heads, int n_keys, const float* probs, const float*, const float*) override {
    rows[{layer, position}].assign(probs, probs + static_cast<size_t>(n_heads) * static_cast<size_t>(n_keys));
  }
  void flatten() {
    for (const auto& [key, v] : rows) attn.insert(attn.end(), v.begin(), v.end());
  }
};

std::vector<float> run(const Model& m, MlaMode mode, const std::vector<int32_t>& ids, const std::vector<int>& chunks,
                       Captured* trace, uint64_t* kv_bytes) {
  BackendOptions o;
  o.device = DeviceKind::Cpu;
  o.n_threads = 2;
  o.mla = mode;
  o.max_context = 512;
  auto be = make_cpu_backend(m, o);
  std::vector<float> all, logits;
  size_t at = 0;
  for (int c : chunks) {
    ForwardRequest r;
    r.tokens = std::span<const int32_t>(ids.data() + at, static_cast<size_t>(c));
    r.start_pos = static_cast<int>(at);
    r.all_logits = true;
    r.trace = trace;
    EXPECT_EQ(be->forward(r, logits), StepStatus::Ok);
    all.insert(all.end(), logits.begin(), logits.end());
    at += static_cast<size_t>(c);
  }
  *kv_bytes = be->kv_bytes_in_use();
  return all;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d;
}

}  // namespace

TEST(MlaForms, AbsorbedEqualsNaiveOnALongPromptInAnyChunking) {
  const auto model = Model::load(test::asset_path("models/mla-moe-demo"));
  const ModelConfig& c = model->config();
  std::mt19937 rng(5);
  std::vector<int32_t> ids(150);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.vocab_size));

  Captured tn, ta, tc;
  uint64_t kv_naive = 0, kv_abs = 0, kv_chunk = 0;
  const std::vector<float> naive = run(*model, MlaMode::Naive, ids, {150}, &tn, &kv_naive);
  const std::vector<float> absorbed = run(*model, MlaMode::Absorbed, ids, {150}, &ta, &kv_abs);
  const std::vector<float> chunked = run(*model, MlaMode::Absorbed, ids, {1, 40, 7, 2, 100}, &tc, &kv_chunk);

  tn.flatten();
  ta.flatten();
  tc.flatten();
  ASSERT_EQ(ta.rows.size(), static_cast<size_t>(150 * c.num_hidden_layers));
  // float32 noise only: the reference's own naive vs absorbed gap is ~1e-5 on these models
  EXPECT_LT(max_diff(naive, absorbed), 1e-3);
  EXPECT_LT(max_diff(tn.attn, ta.attn), 1e-5);
  EXPECT_LT(max_diff(absorbed, chunked), 1e-3);
  EXPECT_LT(max_diff(ta.attn, tc.attn), 1e-5);

  // latent cache: (kv_lora_rank + qk_rope_head_dim) floats per token per layer; naive: H*(qk + v)
  const uint64_t T = 150, L = static_cast<uint64_t>(c.num_hidden_layers);
  EXPECT_EQ(kv_abs, T * L * static_cast<uint64_t>(c.kv_lora_rank + c.qk_rope_head_dim) * 4);
  EXPECT_EQ(kv_naive, T * L * static_cast<uint64_t>(c.num_attention_heads) *
                          static_cast<uint64_t>(c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim) * 4);
  EXPECT_EQ(kv_chunk, kv_abs);
}

TEST(MlaForms, ContextFullIsAStatusAndTruncateRewinds) {
  const auto model = Model::load(test::data_path("golden/v3-tiny"));
  BackendOptions o;
  o.device = DeviceKind::Cpu;
  o.n_threads = 1;
  o.max_context = 8;
  auto be = make_cpu_backend(*model, o);
  std::vector<int32_t> ids = {1, 2, 3, 4, 5, 6};
  std::vector<float> l1, l2, l3;
  ForwardRequest r;
  r.tokens = ids;
  ASSERT_EQ(be->forward(r, l1), StepStatus::Ok);
  r.start_pos = 6;
  r.tokens = std::span<const int32_t>(ids.data(), 3);
  EXPECT_EQ(be->forward(r, l2), StepStatus::ContextFull);
  EXPECT_EQ(be->n_cached(), 6);
  // rewind to 5 and feed the 6th token again: the same logits as the first time
  be->truncate(5);
  r.start_pos = 5;
  r.tokens = std::span<const int32_t>(ids.data() + 5, 1);
  ASSERT_EQ(be->forward(r, l3), StepStatus::Ok);
  ASSERT_EQ(l1.size(), l3.size());
  for (size_t i = 0; i < l1.size(); ++i) ASSERT_NEAR(l1[i], l3[i], 1e-4);
}
