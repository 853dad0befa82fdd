// tests/engine/test_kv_memory.cpp — KV memory formulas against hand-computed values for the demo
// model and DeepSeek-V2's published shapes (paper: MLA caches (d_c + d_h^R) * l elements per token).
#include <gtest/gtest.h>

#include "engine/config.h"
#include "engine/kv_memory.h"
#include "support/data_paths.h"

using namespace mlascope;

TEST(KvMemory, DemoModelByHand) {
  ModelConfig c = ModelConfig::from_file(test::asset_path("models/mla-moe-demo/config.json"));
  KvMemory m = kv_memory(c, 2, 2);
  // 6 layers; latent = 64 + 16 = 80 elements; bf16 -> 160 bytes per layer, 960 per token.
  EXPECT_EQ(m.get(KvScheme::MlaLatent).elems_per_token_layer, 80);
  EXPECT_DOUBLE_EQ(m.get(KvScheme::MlaLatent).bytes_per_token, 960.0);
  // MHA: 4 heads * (32 + 16 + 32) = 320 elements per layer.
  EXPECT_EQ(m.get(KvScheme::Mha).elems_per_token_layer, 320);
  EXPECT_EQ(m.get(KvScheme::MlaNaive).elems_per_token_layer, 320);
  EXPECT_EQ(m.get(KvScheme::Gqa).elems_per_token_layer, 160);
  EXPECT_EQ(m.get(KvScheme::Mqa).elems_per_token_layer, 80);
  EXPECT_DOUBLE_EQ(m.ratio_vs_latent(KvScheme::Mha), 4.0);
  EXPECT_EQ(m.longest_context(KvScheme::MlaLatent, 960.0 * 1000 + 959), 1000);
}

TEST(KvMemory, DeepSeekV2Shapes) {
  // DeepSeek-V2: 60 layers, 128 heads, kv_lora_rank 512, rope 64, nope 128, v 128.
  ModelConfig c;
  c.num_hidden_layers = 60;
  c.num_attention_heads = 128;
  c.kv_lora_rank = 512;
  c.qk_rope_head_dim = 64;
  c.qk_nope_head_dim = 128;
  c.v_head_dim = 128;
  KvMemory m = kv_memory(c, 2, 8);
  EXPECT_EQ(m.get(KvScheme::MlaLatent).elems_per_token_layer, 576);
  EXPECT_EQ(m.get(KvScheme::Mha).elems_per_token_layer, 128 * 320);
  // 576 * 2 bytes * 60 layers = 69,120 bytes per token (~67.5 KiB)
  EXPECT_DOUBLE_EQ(m.get(KvScheme::MlaLatent).bytes_per_token, 69120.0);
  EXPECT_EQ(m.get(KvScheme::Gqa).label, "GQA-8");
  // The group count becomes the largest divisor of the head count not above it.
  EXPECT_EQ(kv_memory(c, 2, 1000).gqa_groups, 128);
  EXPECT_EQ(kv_memory(c, 2, 3).gqa_groups, 2);
  EXPECT_EQ(kv_memory(c, 2, 100).gqa_groups, 64);
  EXPECT_EQ(gqa_groups_for(12, 8), 6);
  EXPECT_EQ(gqa_groups_for(7, 4), 1);
  EXPECT_TRUE(gqa_groups_divide(128, 16));
  EXPECT_FALSE(gqa_groups_divide(128, 3));
  EXPECT_FALSE(gqa_groups_divide(4, 8));
}
