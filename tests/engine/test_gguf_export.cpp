// tests/engine/test_gguf_export.cpp — the exporter's tensor types under llama.cpp's mixed presets,
// against the types llama.cpp's own quantizer chose for the same tensors (tests/data/llamacpp_types:
// tables read from llama-quantize's log, see the README there): the demo model (6 layers, rows of
// 128/256/768) exported end to end, and DeepSeek-V2-Lite's real shapes (27 layers, rows of 1408 and
// 10944 that are not whole 256-blocks) through the type chooser.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/config.h"
#include "engine/tensor_names.h"
#include "engine/weights/gguf_export.h"
#include "engine/weights/gguf_file.h"
#include "engine/weights/weight_store.h"
#include "support/data_paths.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> read_table(const std::string& file) {
  std::ifstream in(test::data_path("llamacpp_types/" + file));
  EXPECT_TRUE(in) << file;
  std::map<std::string, std::string> t;
  std::string name, type;
  while (in >> name >> type) t[name] = type;
  return t;
}

// GGUF name → (HF name, HF shape) as the exporter writes them (merged experts: one expert's shape;
// kv_b_proj split into attn_k_b [H*rank, nope] and attn_v_b [H*v, rank]).
std::map<std::string, std::pair<std::string, std::vector<int64_t>>> gguf_tensors(const ModelConfig& c) {
  std::map<std::string, std::pair<std::string, std::vector<int64_t>>> out;
  const int64_t H = c.num_attention_heads, rank = c.kv_lora_rank;
  for (const auto& [hf, shape] : hf_tensor_shapes(c)) {
    int expert = -1;
    const std::optional<std::string> g = hf_to_gguf(hf, &expert);
    if (!g || expert > 0) continue;
    if (g->find("attn_kv_b") != std::string::npos) {
      const std::string blk = g->substr(0, g->size() - std::string("attn_kv_b.weight").size());
      out[blk + "attn_k_b.weight"] = {hf, {H * rank, c.qk_nope_head_dim}};
      out[blk + "attn_v_b.weight"] = {hf, {H * c.v_head_dim, rank}};
      continue;
    }
    out[*g] = {hf, shape};
  }
  return out;
}

}  // namespace

TEST(GgufExportTypes, DemoQ4_K_MFileHasLlamaQuantizesTypes) {
  const fs::path demo = test::asset_path("models/mla-moe-demo");
  const ModelConfig c = ModelConfig::from_file(demo / "config.json");
  const WeightStore store = WeightStore::open(demo);
  const fs::path dir = test::temp_dir("gguf-export");
  GgufExportOptions o;
  o.type = DType::Q4_K;
  o.mix = GgufMix::KM;
  export_gguf(store, c, dir / "m.gguf", o);
  const GgufFile f = GgufFile::open(dir / "m.gguf");
  const auto want = read_table("demo-Q4_K_M.txt");
  ASSERT_EQ(f.tensors().size(), want.size());
  for (const GgufTensorInfo& t : f.tensors()) {
    ASSERT_TRUE(want.count(t.name)) << t.name;
    EXPECT_EQ(to_string(t.dtype), want.at(t.name)) << t.name;
  }
  EXPECT_EQ(f.get_int("general.file_type", 0, 100), 15);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  fs::remove_all(dir);
}

TEST(GgufExportTypes, ChooserMatchesLlamaQuantizeOnDemoQ5_K_M) {
  const ModelConfig c = ModelConfig::from_file(test::asset_path("models/mla-moe-demo/config.json"));
  const auto want = read_table("demo-Q5_K_M.txt");
  const auto tensors = gguf_tensors(c);
  ASSERT_EQ(tensors.size(), want.size());
  for (const auto& [g, hs] : tensors) {
    ASSERT_TRUE(want.count(g)) << g;
    EXPECT_EQ(to_string(gguf_export_type(hs.first, g, hs.second, DType::Q5_K, GgufMix::KM, c.num_hidden_layers)), want.at(g))
        << g;
  }
}
