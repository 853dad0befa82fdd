// tests/engine/test_gguf_bounds.cpp — a GGUF's metadata is untrusted: what it declares is checked
// against what the file holds before memory is spent on it. Issue 16: a 680-byte file declaring
// 1024 blocks of 65536 experts made load_gguf list 200 million implied tensor names first (2.5 GB,
// 63 s; `mlascope info` on it ran past 300 s and 5.9 GB here) before naming the first missing one.
#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/tensor_names.h"
#include "engine/weights/gguf.h"
#include "engine/weights/gguf_writer.h"
#include "support/alloc_meter.h"
#include "support/data_paths.h"
#include "support/temp_cleanup.h"

using namespace mlascope;

namespace {

const test::TempCleanup kTempCleanup;

std::filesystem::path tiny_lying_gguf(uint32_t blocks, uint32_t experts) {
  GgufWriter w;
  w.set_string("general.architecture", "deepseek2");
  w.set_u32("deepseek2.block_count", blocks);
  w.set_u32("deepseek2.embedding_length", 1);
  w.set_u32("deepseek2.feed_forward_length", 1);
  w.set_u32("deepseek2.attention.head_count", 1);
  w.set_u32("deepseek2.attention.kv_lora_rank", 1);
  w.set_u32("deepseek2.rope.dimension_count", 0);
  w.set_u32("deepseek2.attention.key_length", 1);
  w.set_u32("deepseek2.attention.value_length", 1);
  w.set_u32("deepseek2.expert_count", experts);
  w.set_u32("deepseek2.expert_used_count", 1);
  w.set_u32("deepseek2.expert_feed_forward_length", 1);
  w.set_u32("deepseek2.context_length", 16);
  const float embd[2] = {0.5f, -0.5f};
  w.add_tensor("token_embd.weight", DType::F32, {2, 1}, embd);
  const auto p = test::temp_dir("gguf-bounds") / "tiny.gguf";
  w.write(p);
  return p;
}

}  // namespace

TEST(GgufBounds, TinyFileDeclaringHugeModelFailsAtTheFirstMissingTensorWithoutListingAll) {
  const auto path = tiny_lying_gguf(1024, 65536);
  EXPECT_LT(std::filesystem::file_size(path), 1024u);
  const test::AllocMeter meter;
  try {
    WeightStore ws;
    load_gguf(ws, path, {}, nullptr, nullptr);
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'blk.0.attn_norm.weight' (model.layers.0.input_layernorm.weight) is missing"),
              std::string::npos)
        << e.what();
  }
  EXPECT_LT(meter.peak(), 16 << 20) << "bytes allocated for a 680-byte file";
}

TEST(GgufBounds, TheVisitorListsWhatTheTableListsAtDeepSeekCounts) {
  // for_each_hf_tensor is the list's one definition; the list is collected from it. Check the
  // counts a reader can work out by hand: V2-Lite 27 layers (1 dense; 64 routed + shared per MoE
  // layer, no q_lora) and V3 61 layers (3 dense; 256 routed + shared, q_lora, router bias).
  ModelConfig v2 = ModelConfig::from_file(test::data_path("golden/v2-lite-tiny/config.json"));
  v2.num_hidden_layers = 27, v2.first_k_dense_replace = 1, v2.n_routed_experts = 64, v2.num_experts_per_tok = 6;
  ModelConfig v3 = ModelConfig::from_file(test::data_path("golden/v3-tiny/config.json"));
  v3.num_hidden_layers = 61, v3.first_k_dense_replace = 3, v3.n_routed_experts = 256, v3.num_experts_per_tok = 8;
  v3.n_group = 8, v3.topk_group = 4;
  // per layer: norm, attention (q: 1 or 3; kv_a, kv_a_norm, kv_b, o), post norm; then mlp.
  const auto count = [](const ModelConfig& c) {
    const size_t q = c.has_q_lora() ? 3 : 1;
    const size_t attn = 1 + q + 4 + 1;
    const size_t moe = 1 + (c.topk_method == TopkMethod::NoauxTc ? 1 : 0) + 3 * static_cast<size_t>(c.n_routed_experts) +
                       (c.n_shared_experts > 0 ? 3 : 0);
    const auto layers = static_cast<size_t>(c.num_hidden_layers), dense = static_cast<size_t>(c.first_k_dense_replace);
    return 1 + layers * attn + dense * 3 + (layers - dense) * moe + 1 + (c.tie_word_embeddings ? 0 : 1);
  };
  for (const ModelConfig& c : {v2, v3}) {
    size_t n = 0;
    EXPECT_TRUE(for_each_hf_tensor(c, [&](const std::string&, const std::vector<int64_t>&) { return ++n > 0; }));
    EXPECT_EQ(n, count(c));
    EXPECT_EQ(hf_tensor_shapes(c).size(), count(c));
    size_t seen = 0;
    EXPECT_FALSE(for_each_hf_tensor(c, [&](const std::string&, const std::vector<int64_t>&) { return ++seen < 10; }));
    EXPECT_EQ(seen, 10u);
  }
}
