// tests/engine/test_tensor_names.cpp — the GGUF ↔ HF weight name table, checked against names
// written out by hand from llama.cpp's deepseek2 tensor list and the HF DeepSeek checkpoints.
#include <gtest/gtest.h>

#include "engine/config.h"
#include "engine/tensor_names.h"
#include "support/data_paths.h"

using namespace mlascope;

TEST(TensorNames, GgufToHf) {
  struct Case {
    const char* gguf;
    const char* hf;
  };
  const Case cases[] = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
      {"blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"},
      {"blk.12.attn_q.weight", "model.layers.12.self_attn.q_proj.weight"},
      {"blk.3.attn_q_a.weight", "model.layers.3.self_attn.q_a_proj.weight"},
      {"blk.3.attn_q_a_norm.weight", "model.layers.3.self_attn.q_a_layernorm.weight"},
      {"blk.3.attn_q_b.weight", "model.layers.3.self_attn.q_b_proj.weight"},
      {"blk.3.attn_kv_a_mqa.weight", "model.layers.3.self_attn.kv_a_proj_with_mqa.weight"},
      {"blk.3.attn_kv_a_norm.weight", "model.layers.3.self_attn.kv_a_layernorm.weight"},
      {"blk.3.attn_kv_b.weight", "model.layers.3.self_attn.kv_b_proj.weight"},
      {"blk.3.attn_output.weight", "model.layers.3.self_attn.o_proj.weight"},
      {"blk.3.ffn_norm.weight", "model.layers.3.post_attention_layernorm.weight"},
      {"blk.0.ffn_gate.weight", "model.layers.0.mlp.gate_proj.weight"},
      {"blk.0.ffn_up.weight", "model.layers.0.mlp.up_proj.weight"},
      {"blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight"},
      {"blk.7.ffn_gate_inp.weight", "model.layers.7.mlp.gate.weight"},
      {"blk.7.exp_probs_b.bias", "model.layers.7.mlp.gate.e_score_correction_bias"},
      {"blk.7.ffn_up_shexp.weight", "model.layers.7.mlp.shared_experts.up_proj.weight"},
      {"blk.7.ffn_down_shexp.weight", "model.layers.7.mlp.shared_experts.down_proj.weight"},
  };
  for (const Case& c : cases) {
    auto m = gguf_to_hf(c.gguf);
    ASSERT_TRUE(m) << c.gguf;
    EXPECT_EQ(m->kind, GgufNameKind::Plain) << c.gguf;
    EXPECT_EQ(m->hf, c.hf);
    EXPECT_EQ(hf_to_gguf(c.hf).value_or("?"), c.gguf);
  }
}

TEST(TensorNames, MergedExpertsAndSplitKvB) {
  auto m = gguf_to_hf("blk.4.ffn_gate_exps.weight");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, GgufNameKind::MergedExperts);
  EXPECT_EQ(m->layer, 4);
  EXPECT_EQ(hf_expert_name(*m, 63), "model.layers.4.mlp.experts.63.gate_proj.weight");
  int e = -1;
  EXPECT_EQ(hf_to_gguf("model.layers.4.mlp.experts.63.down_proj.weight", &e).value_or("?"), "blk.4.ffn_down_exps.weight");
  EXPECT_EQ(e, 63);
  EXPECT_EQ(gguf_to_hf("blk.2.attn_k_b.weight")->kind, GgufNameKind::SplitKB);
  EXPECT_EQ(gguf_to_hf("blk.2.attn_v_b.weight")->kind, GgufNameKind::SplitVB);
  EXPECT_EQ(gguf_to_hf("blk.2.attn_v_b.weight")->hf, "model.layers.2.self_attn.kv_b_proj.weight");
}

TEST(TensorNames, RejectsLookalikes) {
  for (const char* bad : {"blk.01.attn_norm.weight", "blk.-1.attn_norm.weight", "blk.x.attn_norm.weight",
                          "blk..attn_norm.weight", "blk.1.attn_norm", "blk.1.nextn.eh_proj.weight", "rope_freqs.weight",
                          "blk.99999999.attn_norm.weight"})
    EXPECT_FALSE(gguf_to_hf(bad)) << bad;
  EXPECT_FALSE(hf_to_gguf("model.layers.1.mlp.experts.x.gate_proj.weight"));
  EXPECT_FALSE(hf_to_gguf("model.layers.1.self_attn.rotary_emb.inv_freq"));
}

TEST(TensorNames, EveryGoldenTensorMapsBothWays) {
  for (const char* c : {"golden/v2-lite-tiny", "golden/v2-grouped-yarn", "golden/v3-tiny"}) {
    const ModelConfig cfg = ModelConfig::from_file(test::data_path(c) / "config.json");
    for (const auto& [name, shape] : hf_tensor_shapes(cfg)) {
      int e = -1;
      auto g = hf_to_gguf(name, &e);
      ASSERT_TRUE(g) << name;
      auto back = gguf_to_hf(*g);
      ASSERT_TRUE(back) << *g;
      EXPECT_EQ(e >= 0 ? hf_expert_name(*back, e) : back->hf, name);
    }
  }
}

#include <fstream>

#include <nlohmann/json.hpp>

// The names and shapes the config implies are exactly the checkpoint's (read from the raw
// safetensors header, independent of any loader).
TEST(TensorNames, ShapesMatchGoldenCheckpoints) {
  for (const std::filesystem::path& dir : {test::data_path("golden/v2-lite-tiny"), test::data_path("golden/v2-grouped-yarn"),
                                          test::data_path("golden/v3-tiny"), test::asset_path("models/mla-moe-demo")}) {
    std::ifstream f(dir / "model.safetensors", std::ios::binary);
    uint64_t n = 0;
    f.read(reinterpret_cast<char*>(&n), 8);
    std::string header(n, '\0');
    f.read(header.data(), static_cast<std::streamsize>(n));
    const nlohmann::json h = nlohmann::json::parse(header);
    const ModelConfig cfg = ModelConfig::from_file(dir / "config.json");
    const auto want = hf_tensor_shapes(cfg);
    size_t tensors_in_file = 0;
    for (auto it = h.begin(); it != h.end(); ++it) tensors_in_file += it.key() != "__metadata__";
    EXPECT_EQ(want.size(), tensors_in_file) << dir;
    for (const auto& [name, shape] : want) {
      ASSERT_TRUE(h.contains(name)) << dir << " " << name;
      EXPECT_EQ(h[name]["shape"].get<std::vector<int64_t>>(), shape) << name;
    }
  }
}
