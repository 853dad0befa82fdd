// tests/engine/test_rope.cpp — decoupled RoPE in the interleaved pair layout, against hand math:
// pair j = dims (2j, 2j+1) turns by position * inv_freq[j], inv_freq from case.json -> derived.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "engine/config.h"
#include "engine/model/rope.h"
#include "support/data_paths.h"

using namespace mlascope;

namespace {

nlohmann::json case_json(const std::string& name) {
  std::ifstream f(test::data_path("golden/" + name + "/case.json"));
  return nlohmann::json::parse(f);
}

// Independent rotation in double with the given per-pair frequencies.
std::vector<double> rotate_ref(const std::vector<double>& x, const std::vector<double>& inv_freq, int pos, double m) {
  std::vector<double> y(x.size());
  for (size_t j = 0; j < inv_freq.size(); ++j) {
    const double a = pos * inv_freq[j];
    y[2 * j] = m * (x[2 * j] * std::cos(a) - x[2 * j + 1] * std::sin(a));
    y[2 * j + 1] = m * (x[2 * j] * std::sin(a) + x[2 * j + 1] * std::cos(a));
  }
  return y;
}

}  // namespace

class RopeCase : public ::testing::TestWithParam<const char*> {};

TEST_P(RopeCase, RotatesInterleavedPairsByDerivedFrequencies) {
  const std::string name = GetParam();
  const ModelConfig cfg = ModelConfig::from_file(test::data_path("golden/" + name + "/config.json"));
  const auto derived = case_json(name)["derived"];
  const std::vector<double> inv_freq = derived["rope_inv_freq"].get<std::vector<double>>();
  const Rope rope = Rope::from_config(cfg);
  ASSERT_EQ(rope.inv_freq.size(), inv_freq.size());
  EXPECT_FLOAT_EQ(rope.mscale, 1.0f);  // these cases have mscale == mscale_all_dim

  const int dim = cfg.qk_rope_head_dim;
  ASSERT_EQ(static_cast<size_t>(dim), 2 * inv_freq.size());
  for (int pos : {0, 1, 7, 31, 47, 200, 1000}) {
    std::vector<double> xd(static_cast<size_t>(dim));
    std::vector<float> xf(static_cast<size_t>(dim));
    for (int i = 0; i < dim; ++i) {
      xd[static_cast<size_t>(i)] = std::sin(0.7 * i + 0.3) * (1.0 + 0.1 * i);
      xf[static_cast<size_t>(i)] = static_cast<float>(xd[static_cast<size_t>(i)]);
    }
    rope.apply(xf.data(), pos);
    const auto ref = rotate_ref(xd, inv_freq, pos, 1.0);
    for (int i = 0; i < dim; ++i)
      // float32 angle p*inv_freq rounds like the reference; the error grows with the angle
      EXPECT_NEAR(xf[static_cast<size_t>(i)], ref[static_cast<size_t>(i)], 2e-6 * (1 + pos)) << name << " pos " << pos << " dim " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, RopeCase, ::testing::Values("v2-lite-tiny", "v2-grouped-yarn", "v3-tiny"));

TEST(Rope, PositionZeroIsIdentityAndNormIsKept) {
  const ModelConfig cfg = ModelConfig::from_file(test::data_path("golden/v3-tiny/config.json"));
  const Rope rope = Rope::from_config(cfg);
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  std::vector<float> y = x;
  rope.apply(y.data(), 0);
  EXPECT_EQ(x, y);
  rope.apply(y.data(), 123);
  for (size_t j = 0; j < x.size() / 2; ++j) {
    EXPECT_NEAR(std::hypot(y[2 * j], y[2 * j + 1]), std::hypot(x[2 * j], x[2 * j + 1]), 1e-4);
  }
  // pair 0 has inv_freq 1: at position 1 it turns by exactly 1 radian
  std::vector<float> e = {1, 0};
  Rope one;
  one.inv_freq = {1.0f};
  one.apply(e.data(), 1);
  EXPECT_NEAR(e[0], std::cos(1.0), 1e-7);
  EXPECT_NEAR(e[1], std::sin(1.0), 1e-7);
}

TEST(Rope, YarnMscaleScalesCosAndSinWhenMscaleDiffersFromMscaleAllDim) {
  // mscale 1, mscale_all_dim 0 (HF V2 convention): cos/sin scaled by 0.1*ln(4)+1 = 1.138629...
  const std::string text = R"({
    "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
    "vocab_size": 16, "hidden_size": 8, "intermediate_size": 8, "moe_intermediate_size": 4,
    "num_hidden_layers": 1, "num_attention_heads": 1, "num_key_value_heads": 1,
    "q_lora_rank": null, "kv_lora_rank": 4, "qk_nope_head_dim": 4, "qk_rope_head_dim": 4, "v_head_dim": 4,
    "n_routed_experts": null, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 64,
    "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16,
                     "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 0.0}})";
  const ModelConfig cfg = ModelConfig::from_json_text(text, "inline");
  const Rope rope = Rope::from_config(cfg);
  EXPECT_NEAR(rope.mscale, 0.1 * std::log(4.0) + 1.0, 1e-6);
  std::vector<float> x = {1, 0, 0, 1};
  rope.apply(x.data(), 0);
  EXPECT_NEAR(x[0], rope.mscale, 1e-6);
  EXPECT_NEAR(x[3], rope.mscale, 1e-6);
}
