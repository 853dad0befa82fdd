// tests/engine/test_config.cpp — config.json parsing, validation and derived constants
// (softmax scale, RoPE/YaRN inverse frequencies) against case.json -> derived.
#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/error.h"

using namespace mlascope;

namespace {
std::string data(const std::string& rel) { return std::string(MLASCOPE_TEST_DATA) + "/" + rel; }
std::string asset(const std::string& rel) { return std::string(MLASCOPE_ASSETS) + "/" + rel; }
nlohmann::json read_json(const std::string& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}
std::string error_of(const std::string& text) {
  try {
    ModelConfig::from_json_text(text, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

class DerivedConstants : public ::testing::TestWithParam<std::string> {};

TEST_P(DerivedConstants, MatchCaseJson) {
  const std::string dir = GetParam();
  ModelConfig c = ModelConfig::from_file(dir + "/config.json");
  nlohmann::json d = read_json(dir + "/case.json")["derived"];
  EXPECT_NEAR(c.softmax_scale(), d["softmax_scale"].get<double>(), 1e-9);
  std::vector<float> f = c.rope_inv_freq();
  ASSERT_EQ(f.size(), d["rope_inv_freq"].size());
  for (size_t j = 0; j < f.size(); ++j)
    EXPECT_NEAR(f[j], d["rope_inv_freq"][j].get<double>(), 2e-7 * std::fabs(f[j]) + 1e-12) << "pair " << j;
  if (d["yarn_ramp"].is_null()) {
    EXPECT_TRUE(c.yarn_ramp().empty());
  } else {
    std::vector<float> r = c.yarn_ramp();
    ASSERT_EQ(r.size(), d["yarn_ramp"].size());
    for (size_t j = 0; j < r.size(); ++j) EXPECT_NEAR(r[j], d["yarn_ramp"][j].get<double>(), 1e-7) << "pair " << j;
  }
  std::vector<int> moe;
  for (int l = 0; l < c.num_hidden_layers; ++l)
    if (c.is_moe_layer(l)) moe.push_back(l);
  EXPECT_EQ(moe, d["moe_layers"].get<std::vector<int>>());
}

INSTANTIATE_TEST_SUITE_P(Golden, DerivedConstants,
                         ::testing::Values(data("golden/v2-lite-tiny"), data("golden/v2-grouped-yarn"),
                                           data("golden/v3-tiny"), asset("models/mla-moe-demo")));

TEST(Config, ReadsEveryMathField) {
  ModelConfig c = ModelConfig::from_file(data("golden/v2-grouped-yarn/config.json"));
  EXPECT_EQ(c.q_lora_rank, 48);
  EXPECT_EQ(c.kv_lora_rank, 32);
  EXPECT_EQ(c.topk_method, TopkMethod::GroupLimitedGreedy);
  EXPECT_EQ(c.scoring_func, ScoringFunc::Softmax);
  EXPECT_EQ(c.n_group, 4);
  EXPECT_EQ(c.topk_group, 2);
  EXPECT_DOUBLE_EQ(c.routed_scaling_factor, 2.5);
  EXPECT_TRUE(c.rope_scaling.yarn);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 16);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale_all_dim, 0.707);
  ModelConfig v2 = ModelConfig::from_file(data("golden/v2-lite-tiny/config.json"));
  EXPECT_FALSE(v2.has_q_lora());
  EXPECT_EQ(v2.latent_cache_dim(), 32 + 8);
  ModelConfig v3 = ModelConfig::from_file(data("golden/v3-tiny/config.json"));
  EXPECT_EQ(v3.topk_method, TopkMethod::NoauxTc);
  EXPECT_EQ(v3.scoring_func, ScoringFunc::Sigmoid);
  EXPECT_TRUE(v3.norm_topk_prob);
}

TEST(Config, RefusesUnknownArchitectureByName) {
  std::string e = error_of(R"({"architectures":["LlamaForCausalLM"],"model_type":"llama"})");
  EXPECT_NE(e.find("LlamaForCausalLM"), std::string::npos) << e;
  EXPECT_NE(e.find("config.json"), std::string::npos) << e;
}

TEST(Config, RefusesAbsurdOrNonFiniteValues) {
  nlohmann::json j = read_json(data("golden/v3-tiny/config.json"));
  j["hidden_size"] = 1000000000;
  std::string e = error_of(j.dump());
  EXPECT_NE(e.find("'hidden_size'"), std::string::npos) << e;

  j = read_json(data("golden/v3-tiny/config.json"));
  std::string text = j.dump();
  text.replace(text.find("\"rope_theta\":10000.0"), 20, "\"rope_theta\":1e999");
  e = error_of(text);
  EXPECT_FALSE(e.empty());

  j = read_json(data("golden/v3-tiny/config.json"));
  j["num_experts_per_tok"] = 17;
  e = error_of(j.dump());
  EXPECT_NE(e.find("'num_experts_per_tok'"), std::string::npos) << e;

  j = read_json(data("golden/v3-tiny/config.json"));
  j.erase("kv_lora_rank");
  e = error_of(j.dump());
  EXPECT_NE(e.find("'kv_lora_rank' is missing"), std::string::npos) << e;

  j = read_json(data("golden/v3-tiny/config.json"));
  j["topk_method"] = "magic";
  e = error_of(j.dump());
  EXPECT_NE(e.find("'topk_method'"), std::string::npos) << e;

  EXPECT_NE(error_of("{not json").find("malformed JSON"), std::string::npos);
}
