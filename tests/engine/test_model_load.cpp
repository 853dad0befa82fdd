// tests/engine/test_model_load.cpp — WeightStore::open + Model::load on every golden case (parameter
// and byte counts against formulas from the config and an independent read of the files), broken
// checkpoints (each a one-line error naming the file and the tensor or field), sharded folders, and
// an FP8 checkpoint built here from a golden case (dequantized within E4M3 precision).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights/gguf_export.h"
#include "engine/weights/safetensors.h"
#include "engine/weights/weight_store.h"
#include "support/data_paths.h"
#include "support/temp_cleanup.h"
#include "support/fp8_checkpoint.h"
#include "support/golden.h"

using namespace mlascope;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
const test::TempCleanup kTempCleanup;
}  // namespace

namespace {

ModelLoadOptions no_memory_check() {
  ModelLoadOptions o;
  o.check_memory = false;
  return o;
}

json read_json(const fs::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}
void write_json(const fs::path& p, const json& j) { std::ofstream(p) << j.dump(2); }

// A private copy of a case folder (config.json + model.safetensors) to break.
fs::path copy_case(const std::string& name, const std::string& tag) {
  const fs::path src = test::data_path("golden/" + name);
  const fs::path dst = test::temp_dir("model-" + tag);
  fs::copy_file(src / "config.json", dst / "config.json");
  fs::copy_file(src / "model.safetensors", dst / "model.safetensors");
  return dst;
}

// Rewrites dir/model.safetensors through `edit` (which may drop, add or replace views).
template <typename Edit>
void rewrite_weights(const fs::path& dir, Edit edit) {
  SafetensorsFile f = read_safetensors(dir / "model.safetensors");
  std::vector<TensorView> views = f.tensors;
  edit(views);
  write_safetensors(dir / "model.safetensors.new", views, f.metadata);
  f = {};
  fs::rename(dir / "model.safetensors.new", dir / "model.safetensors");
}

std::string load_error(const fs::path& p, const ModelLoadOptions& o = no_memory_check()) {
  try {
    Model::load(p, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_one_line(const std::string& e, const std::vector<std::string>& must_contain) {
  ASSERT_FALSE(e.empty()) << "accepted";
  EXPECT_EQ(e.front(), '[') << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  for (const std::string& s : must_contain) EXPECT_NE(e.find(s), std::string::npos) << "'" << s << "' not in: " << e;
}

// Parameter counts from the config alone (the DeepSeek-V2 paper's architecture, written out).
struct Counts {
  double total = 0, active = 0;
};
Counts counts_from_config(const json& c) {
  const double D = c["hidden_size"], V = c["vocab_size"], H = c["num_attention_heads"];
  const double nope = c["qk_nope_head_dim"], rope = c["qk_rope_head_dim"], v = c["v_head_dim"];
  const double kvr = c["kv_lora_rank"], I = c["intermediate_size"], M = c["moe_intermediate_size"];
  const int L = c["num_hidden_layers"], first_dense = c["first_k_dense_replace"];
  const double E = c["n_routed_experts"], S = c["n_shared_experts"], k = c["num_experts_per_tok"];
  const bool noaux = c["topk_method"] == "noaux_tc";
  double attn = (c["q_lora_rank"].is_null() ? H * (nope + rope) * D
                                            : double(c["q_lora_rank"]) * D + double(c["q_lora_rank"]) +
                                                  H * (nope + rope) * double(c["q_lora_rank"])) +
                (kvr + rope) * D + kvr + H * (nope + v) * kvr + D * H * v + 2 * D;
  Counts n;
  n.total = n.active = 2 * V * D + D;  // embed, lm_head (untied in every case), final norm
  for (int l = 0; l < L; ++l) {
    n.total += attn;
    n.active += attn;
    if (l < first_dense) {
      n.total += 3 * D * I;
      n.active += 3 * D * I;
    } else {
      const double router = E * D + (noaux ? E : 0), shared = 3 * D * M * S, expert = 3 * D * M;
      n.total += router + shared + E * expert;
      n.active += router + shared + k * expert;
    }
  }
  return n;
}

uint64_t data_section_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  uint8_t b[8];
  f.read(reinterpret_cast<char*>(b), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
  return fs::file_size(p) - 8 - n;
}

}  // namespace

// ---- every golden case ----

class GoldenLoad : public ::testing::TestWithParam<fs::path> {};

TEST_P(GoldenLoad, BindsEveryRoleAndCountsParamsAndBytes) {
  const fs::path dir = GetParam();
  const json cj = read_json(dir / "config.json");
  const json case_json = read_json(dir / "case.json");
  std::shared_ptr<Model> m = Model::load(dir, no_memory_check());
  const ModelConfig& c = m->config();

  ASSERT_EQ(m->n_layers(), int(cj["num_hidden_layers"]));
  std::vector<int> moe;
  for (int l = 0; l < m->n_layers(); ++l)
    if (m->layer(l).is_moe) moe.push_back(l);
  EXPECT_EQ(moe, case_json["derived"]["moe_layers"].get<std::vector<int>>());
  for (int l = 0; l < m->n_layers(); ++l) {
    const LayerWeights& L = m->layer(l);
    EXPECT_EQ(L.kv_b_proj->shape, (std::vector<int64_t>{c.num_attention_heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank}));
    EXPECT_EQ(L.q_proj != nullptr, cj["q_lora_rank"].is_null());
    if (L.is_moe) {
      EXPECT_EQ(L.experts.size(), size_t(cj["n_routed_experts"]));
      EXPECT_EQ(L.e_score_correction_bias != nullptr, cj["topk_method"] == "noaux_tc");
      EXPECT_EQ(L.shared_experts.has_value(), int(cj["n_shared_experts"]) > 0);
    } else {
      EXPECT_NE(L.dense.down_proj, nullptr);
    }
  }

  const Counts want = counts_from_config(cj);
  EXPECT_EQ(double(m->n_params()), want.total);
  EXPECT_EQ(double(m->n_active_params()), want.active);
  // every tensor of these files is used, and the files have no padding: bound bytes == data section
  const uint64_t data_bytes = data_section_bytes(dir / "model.safetensors");
  EXPECT_EQ(m->weight_bytes(), data_bytes);

  // bytes per decode step: everything except all but one embedding row and the unchosen experts
  const double D = cj["hidden_size"], V = cj["vocab_size"], M = cj["moe_intermediate_size"];
  const double E = cj["n_routed_experts"], k = cj["num_experts_per_tok"];
  const double elem = m->embed_tokens().nbytes / (V * D);  // every matrix shares the dtype in these cases
  const double per_token = double(data_bytes) - (V - 1) * D * elem - c.n_moe_layers() * (E - k) * 3 * D * M * elem;
  EXPECT_NEAR(double(m->weight_bytes_per_token()), per_token, 1.0);

  // memory: default context min(max_position_embeddings, 4096), fp32 latent cache
  const MemoryEstimate& mem = m->memory_estimate();
  const int ctx = std::min(int(cj["max_position_embeddings"]), 4096);
  EXPECT_EQ(mem.context, ctx);
  EXPECT_EQ(mem.kv_cache_bytes, uint64_t(int(cj["kv_lora_rank"]) + int(cj["qk_rope_head_dim"])) *
                                    uint64_t(cj["num_hidden_layers"]) * 4u * uint64_t(ctx));
  EXPECT_EQ(mem.total_bytes, mem.kv_cache_bytes + mem.weight_bytes);
  EXPECT_GT(mem.available_bytes, 0u);

  // the embedding rows of the prompt are the golden `embed` rows, exactly
  test::Golden g(dir);
  const std::vector<int32_t> ids = g.prompt_ids();
  std::vector<float> row(size_t(c.hidden_size));
  for (size_t p = 0; p < ids.size(); ++p) {
    m->embed_tokens().row_to_f32(ids[p], row.data());
    for (int i = 0; i < c.hidden_size; ++i) ASSERT_EQ(row[size_t(i)], g.tensor("embed").at(int64_t(p), i)) << p;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenLoad, ::testing::ValuesIn(test::golden_case_dirs()),
                         [](const auto& param_info) {
                           std::string n = param_info.param.filename().string();
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(ModelLoad, WithMemoryCheckOnTheDemoModel) {
  std::shared_ptr<Model> m = Model::load(test::asset_path("models/mla-moe-demo"));
  EXPECT_EQ(m->name(), "mla-moe-demo");
  EXPECT_NE(m->config_json().find("deepseek_v3"), std::string::npos);
}

TEST(ModelLoad, TiedEmbeddingsUseTheEmbeddingAsLmHead) {
  const fs::path dir = copy_case("v2-lite-tiny", "tied");
  json cj = read_json(dir / "config.json");
  cj["tie_word_embeddings"] = true;
  write_json(dir / "config.json", cj);
  rewrite_weights(dir, [](std::vector<TensorView>& v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](const TensorView& t) { return t.name == "lm_head.weight"; }), v.end());
  });
  std::shared_ptr<Model> m = Model::load(dir, no_memory_check());
  EXPECT_EQ(&m->lm_head(), &m->embed_tokens());
  EXPECT_EQ(double(m->n_params()), counts_from_config(cj).total - 512.0 * 64.0);
}

// ---- broken checkpoints ----

TEST(ModelLoadBad, MissingTensor) {
  const fs::path dir = copy_case("v2-lite-tiny", "missing");
  const std::string gone = "model.layers.1.self_attn.kv_b_proj.weight";
  rewrite_weights(dir, [&](std::vector<TensorView>& v) {
    v.erase(std::remove_if(v.begin(), v.end(), [&](const TensorView& t) { return t.name == gone; }), v.end());
  });
  expect_one_line(load_error(dir), {"[model] ", (dir / "model.safetensors").string(), "tensor '" + gone + "'", "missing"});
}

TEST(ModelLoadBad, ShapeContradictsTheConfig) {
  const fs::path dir = copy_case("v3-tiny", "shape");
  json cj = read_json(dir / "config.json");
  cj["intermediate_size"] = 128;
  write_json(dir / "config.json", cj);
  expect_one_line(load_error(dir), {(dir / "model.safetensors").string(), "tensor 'model.layers.0.mlp.gate_proj.weight'",
                                    "[160, 64]", "[128, 64]"});
}

TEST(ModelLoadBad, HeadDimsContradictTheAttentionWeights) {
  const fs::path dir = copy_case("v2-lite-tiny", "heads");
  json cj = read_json(dir / "config.json");
  cj["kv_lora_rank"] = 24;
  write_json(dir / "config.json", cj);
  expect_one_line(load_error(dir), {"tensor 'model.layers.0.self_attn.kv_a_proj_with_mqa.weight'", "[40, 64]", "[32, 64]"});
}

TEST(ModelLoadBad, IntegerDtypeForAWeight) {
  const fs::path dir = copy_case("v2-lite-tiny", "dtype");
  rewrite_weights(dir, [](std::vector<TensorView>& v) {
    for (TensorView& t : v)
      if (t.name == "model.layers.2.self_attn.o_proj.weight") t.dtype = DType::I32;  // same bytes, wrong type
  });
  expect_one_line(load_error(dir), {"tensor 'model.layers.2.self_attn.o_proj.weight'", "dtype I32"});
}

TEST(ModelLoadBad, QuantizedNormIsRefused) {
  const fs::path dir = copy_case("v2-lite-tiny", "normdtype");
  std::vector<uint8_t> bytes(64);
  rewrite_weights(dir, [&](std::vector<TensorView>& v) {
    for (TensorView& t : v)
      if (t.name == "model.norm.weight") {
        t.dtype = DType::U8;
        t.data = bytes.data();
        t.nbytes = 64;
      }
  });
  expect_one_line(load_error(dir), {"tensor 'model.norm.weight'", "dtype U8", "F32, F16 or BF16"});
}

TEST(ModelLoadBad, AbsurdHiddenSizeIsRefusedBeforeAnyAllocation) {
  const fs::path dir = copy_case("v2-lite-tiny", "absurd");
  json cj = read_json(dir / "config.json");
  cj["hidden_size"] = 1000000000;
  write_json(dir / "config.json", cj);
  expect_one_line(load_error(dir), {"[config] ", (dir / "config.json").string(), "field 'hidden_size'"});
}

TEST(ModelLoadBad, PlausibleButHugeConfigFailsOnShapeNotOnMemory) {
  // in range for the config parser, but the weights on disk are tiny: the shape check must speak first
  const fs::path dir = copy_case("v2-lite-tiny", "huge");
  json cj = read_json(dir / "config.json");
  cj["vocab_size"] = 8000000;
  write_json(dir / "config.json", cj);
  ModelLoadOptions o;  // memory check on
  expect_one_line(load_error(dir, o), {"tensor 'model.embed_tokens.weight'", "[8000000, 64]"});
}

TEST(ModelLoadBad, NonFiniteOrNegativeConfigValue) {
  const fs::path dir = copy_case("v2-lite-tiny", "nonfinite");
  json cj = read_json(dir / "config.json");
  cj["rope_theta"] = -10000.0;
  write_json(dir / "config.json", cj);
  expect_one_line(load_error(dir), {(dir / "config.json").string(), "field 'rope_theta'"});
  cj["rope_theta"] = 10000.0;
  cj["routed_scaling_factor"] = 1e300;
  write_json(dir / "config.json", cj);
  expect_one_line(load_error(dir), {"field 'routed_scaling_factor'"});
}

TEST(ModelLoadBad, UnknownArchitectureIsRefusedByName) {
  const fs::path dir = copy_case("v2-lite-tiny", "arch");
  json cj = read_json(dir / "config.json");
  cj["architectures"] = {"LlamaForCausalLM"};
  write_json(dir / "config.json", cj);
  expect_one_line(load_error(dir), {"LlamaForCausalLM"});
}

TEST(ModelLoadBad, ContextPastMaxPositions) {
  ModelLoadOptions o = no_memory_check();
  o.max_context = 100000;
  expect_one_line(load_error(test::data_path("golden/v3-tiny"), o),
                  {"config.json", "context 100000", "max_position_embeddings 128"});
}

TEST(ModelLoadBad, TruncatedWeightsFile) {
  const fs::path dir = copy_case("v2-grouped-yarn", "trunc");
  fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") - 1000);
  expect_one_line(load_error(dir), {"[safetensors] ", (dir / "model.safetensors").string(), "past the end"});
}

TEST(ModelLoadBad, FolderWithoutWeights) {
  const fs::path dir = test::temp_dir("model-noweights");
  fs::copy_file(test::data_path("golden/v3-tiny/config.json"), dir / "config.json");
  expect_one_line(load_error(dir), {dir.string(), "no model.safetensors"});
}

TEST(ModelLoadBad, FolderWithoutConfig) {
  const fs::path dir = test::temp_dir("model-noconfig");
  fs::copy_file(test::data_path("golden/v3-tiny/model.safetensors"), dir / "model.safetensors");
  expect_one_line(load_error(dir), {"[config] ", "config.json", "cannot open"});
}

TEST(ModelLoadBad, GarbageGgufFile) {
  const fs::path p = test::temp_dir("model-gguf") / "m.gguf";
  std::ofstream(p) << "GGUF";
  expect_one_line(load_error(p), {"[gguf] ", "m.gguf"});
}

// A GGUF written from a golden case (F32, so no rounding) binds to exactly the same weights.
TEST(ModelLoad, GgufExportOfAGoldenCaseBindsTheSameWeights) {
  const fs::path src = test::data_path("golden/v3-tiny");
  std::shared_ptr<Model> hf = Model::load(src, no_memory_check());
  const fs::path out = test::temp_dir("model-gguf-rt") / "v3-tiny.gguf";
  GgufExportOptions o;
  o.type = DType::F32;
  export_gguf(hf->weights(), hf->config(), out, o);
  std::shared_ptr<Model> g = Model::load(out, no_memory_check());
  EXPECT_EQ(g->n_params(), hf->n_params());
  EXPECT_EQ(g->n_active_params(), hf->n_active_params());
  EXPECT_EQ(g->config().topk_method, TopkMethod::NoauxTc);
  auto same = [&](const TensorView* a, const TensorView* b, const std::string& what) {
    ASSERT_NE(a, nullptr) << what;
    ASSERT_NE(b, nullptr) << what;
    ASSERT_EQ(a->shape, b->shape) << what;
    EXPECT_EQ(a->to_f32(), b->to_f32()) << what;
  };
  same(&hf->embed_tokens(), &g->embed_tokens(), "embed_tokens");
  same(&hf->lm_head(), &g->lm_head(), "lm_head");
  for (int l = 0; l < hf->n_layers(); ++l) {
    const LayerWeights& a = hf->layer(l);
    const LayerWeights& b = g->layer(l);
    same(a.kv_b_proj, b.kv_b_proj, "kv_b_proj " + std::to_string(l));
    same(a.q_b_proj, b.q_b_proj, "q_b_proj " + std::to_string(l));
    if (a.is_moe) {
      same(a.experts[5].up_proj, b.experts[5].up_proj, "expert 5 up " + std::to_string(l));
      same(a.e_score_correction_bias, b.e_score_correction_bias, "bias " + std::to_string(l));
    }
  }
}

// The demo model as GGUF with its tokenizer: Model::load hands the embedded tokenizer out.
TEST(ModelLoad, GgufWithTokenizerCarriesItIntoTheModel) {
  const fs::path src = test::asset_path("models/mla-moe-demo");
  std::shared_ptr<Model> hf = Model::load(src, no_memory_check());
  const GgufTokenizer tok = gguf_tokenizer_from_hf(src, hf->config());
  const fs::path dir = test::temp_dir("model-gguf-tok");
  GgufExportOptions o;
  o.type = DType::BF16;
  o.tokenizer = &tok;
  export_gguf(hf->weights(), hf->config(), dir / "demo.gguf", o);
  std::shared_ptr<Model> g = Model::load(dir, no_memory_check());  // a folder with one .gguf
  EXPECT_EQ(g->name(), "demo.gguf");
  EXPECT_EQ(g->n_params(), hf->n_params());
  ASSERT_NE(g->embedded_tokenizer(), nullptr);
  EXPECT_EQ(g->embedded_tokenizer()->tokens.size(), 4096u);  // MODEL_CARD: 4096 entries
  EXPECT_EQ(g->embedded_tokenizer()->bos_id, 0);
  EXPECT_EQ(g->embedded_tokenizer()->eos_id, 1);
}

// ---- memory ----

TEST(ModelMemory, RefusesWhenWeightsPlusCacheExceedAvailable) {
  ModelConfig c = ModelConfig::from_file(test::data_path("golden/v3-tiny/config.json"));
  MemoryEstimate m = estimate_memory(c, 1000000, 128);
  EXPECT_EQ(m.kv_cache_bytes, 128u * 4u * 48u * 4u);  // tokens * layers * (32 + 16) * fp32
  m.available_bytes = m.total_bytes - 1;
  try {
    check_memory(m, "tiny");
    FAIL() << "accepted";
  } catch (const Error& e) {
    expect_one_line(e.what(), {"[model] tiny", "available", "128 tokens"});
  }
  m.available_bytes = m.total_bytes;
  EXPECT_NO_THROW(check_memory(m, "tiny"));
  m.available_bytes = 0;  // unknown: never refuse on a guess
  EXPECT_NO_THROW(check_memory(m, "tiny"));
}

// ---- sharded folders ----

namespace {
// Two shards of a case: tensors alternate between them; the index maps each to its shard.
fs::path make_sharded(const std::string& name, const std::string& tag) {
  const fs::path src = test::data_path("golden/" + name);
  const fs::path dir = test::temp_dir("sharded-" + tag);
  fs::copy_file(src / "config.json", dir / "config.json");
  const SafetensorsFile f = read_safetensors(src / "model.safetensors");
  std::vector<TensorView> a, b;
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const bool first = i % 2 == 0;
    (first ? a : b).push_back(f.tensors[i]);
    index["weight_map"][f.tensors[i].name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  write_safetensors(dir / "model-00001-of-00002.safetensors", a, f.metadata);
  write_safetensors(dir / "model-00002-of-00002.safetensors", b, f.metadata);
  write_json(dir / "model.safetensors.index.json", index);
  return dir;
}
}  // namespace

TEST(ShardedLoad, TwoShardsGiveTheSameTensorsAsOneFile) {
  const fs::path dir = make_sharded("v3-tiny", "ok");
  std::shared_ptr<Model> sharded = Model::load(dir, no_memory_check());
  std::shared_ptr<Model> single = Model::load(test::data_path("golden/v3-tiny"), no_memory_check());
  EXPECT_EQ(sharded->n_params(), single->n_params());
  EXPECT_EQ(sharded->weights().names().size(), single->weights().names().size());
  for (const std::string& n : single->weights().names()) {
    const TensorView& s = single->weights().get(n);
    const TensorView* t = sharded->weights().find(n);
    ASSERT_NE(t, nullptr) << n;
    EXPECT_EQ(t->shape, s.shape) << n;
    ASSERT_EQ(t->nbytes, s.nbytes) << n;
    EXPECT_EQ(std::memcmp(t->data, s.data, s.nbytes), 0) << n;
  }
  EXPECT_NE(sharded->weights().file_of("lm_head.weight").find("model-0000"), std::string::npos);
}

TEST(ShardedLoad, ProgressReportsEveryShardAndEndsAtTheTotal) {
  const fs::path dir = make_sharded("v2-lite-tiny", "progress");
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  WeightStore::open(dir, [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); });
  const uint64_t total = fs::file_size(dir / "model-00001-of-00002.safetensors") +
                         fs::file_size(dir / "model-00002-of-00002.safetensors");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_LT(calls[0].first, calls[1].first);
  EXPECT_EQ(calls[1].first, total);
  EXPECT_EQ(calls[1].second, total);
}

TEST(ShardedLoadBad, IndexNamesAShardThatDoesNotExist) {
  const fs::path dir = make_sharded("v2-lite-tiny", "noshard");
  fs::remove(dir / "model-00002-of-00002.safetensors");
  expect_one_line(load_error(dir), {"model.safetensors.index.json", "model-00002-of-00002.safetensors", "does not exist"});
}

TEST(ShardedLoadBad, TensorInADifferentShardThanTheIndexSays) {
  const fs::path dir = make_sharded("v2-lite-tiny", "wrongshard");
  json idx = read_json(dir / "model.safetensors.index.json");
  idx["weight_map"]["lm_head.weight"] = "model-00002-of-00002.safetensors";  // it is in shard 1
  write_json(dir / "model.safetensors.index.json", idx);
  expect_one_line(load_error(dir), {"model-00001-of-00002.safetensors", "tensor 'lm_head.weight'", "model-00002-of-00002"});
}

TEST(ShardedLoadBad, IndexListsATensorNoShardHolds) {
  const fs::path dir = make_sharded("v2-lite-tiny", "ghost");
  json idx = read_json(dir / "model.safetensors.index.json");
  idx["weight_map"]["model.layers.9.ghost.weight"] = "model-00002-of-00002.safetensors";
  write_json(dir / "model.safetensors.index.json", idx);
  expect_one_line(load_error(dir), {"model-00002-of-00002.safetensors", "tensor 'model.layers.9.ghost.weight'", "missing"});
}

TEST(ShardedLoadBad, ShardTensorNotInTheIndex) {
  const fs::path dir = make_sharded("v2-lite-tiny", "unlisted");
  json idx = read_json(dir / "model.safetensors.index.json");
  idx["weight_map"].erase("model.norm.weight");
  write_json(dir / "model.safetensors.index.json", idx);
  expect_one_line(load_error(dir), {"tensor 'model.norm.weight'", "not listed"});
}

TEST(ShardedLoadBad, IndexPointingOutsideTheFolder) {
  const fs::path dir = make_sharded("v2-lite-tiny", "escape");
  json idx = read_json(dir / "model.safetensors.index.json");
  idx["weight_map"]["lm_head.weight"] = "../../etc/passwd";
  write_json(dir / "model.safetensors.index.json", idx);
  expect_one_line(load_error(dir), {"model.safetensors.index.json", "outside the model folder"});
}

TEST(ShardedLoadBad, MalformedIndex) {
  const fs::path dir = make_sharded("v2-lite-tiny", "badjson");
  std::ofstream(dir / "model.safetensors.index.json") << "{\"weight_map\": {";
  expect_one_line(load_error(dir), {"model.safetensors.index.json", "malformed JSON"});
  std::ofstream(dir / "model.safetensors.index.json") << "{\"metadata\": {}}";
  expect_one_line(load_error(dir), {"model.safetensors.index.json", "'weight_map'"});
}

// ---- FP8 ----

TEST(Fp8, EngineDecodesEveryE4M3CodeAsTheFormatDefines) {
  EXPECT_EQ(test::e4m3_value(0x7e), 448.0f);
  EXPECT_EQ(test::e4m3_value(0x38), 1.0f);
  EXPECT_EQ(test::e4m3_value(0x01), std::ldexp(1.0f, -9));
  for (int c = 0; c < 256; ++c) {
    const float want = test::e4m3_value(static_cast<uint8_t>(c));
    const float got = f8e4m3_to_f32(static_cast<uint8_t>(c));
    if (std::isnan(want)) EXPECT_TRUE(std::isnan(got)) << c;
    else EXPECT_EQ(got, want) << "code " << c;
  }
}

TEST(Fp8, EncoderRoundsToNearest) {
  EXPECT_EQ(test::e4m3_encode(1.0f), 0x38);
  EXPECT_EQ(test::e4m3_encode(-448.0f), 0xfe);
  EXPECT_EQ(test::e4m3_encode(1000.0f), 0x7e);  // saturates
  EXPECT_EQ(test::e4m3_encode(1.0625f), 0x38);  // tie between 1.0 (even code) and 1.125
  EXPECT_EQ(test::e4m3_encode(1.07f), 0x39);
}

namespace {
// |dequantized - original| for E4M3 with a block scale: half a step of 3 mantissa bits (relative
// 2^-4) for normals, half the subnormal step (2^-10) times the scale below 2^-6.
bool within_fp8(float got, float orig, float scale) {
  const float bound = std::max(std::fabs(orig) * 0.0625f, scale * std::ldexp(1.0f, -10)) * 1.0001f + 1e-30f;
  return std::fabs(got - orig) <= bound;
}
}  // namespace

TEST(Fp8, CheckpointBuiltFromAGoldenCaseDequantizesWithinFp8Precision) {
  const fs::path src = test::data_path("golden/v3-tiny");
  const fs::path dst = test::temp_dir("fp8-v3");
  const std::vector<std::string> quantized = test::make_fp8_checkpoint(src, dst);
  ASSERT_GT(quantized.size(), 100u);
  std::shared_ptr<Model> orig = Model::load(src, no_memory_check());
  std::shared_ptr<Model> fp8 = Model::load(dst, no_memory_check());
  EXPECT_EQ(fp8->n_params(), orig->n_params());
  EXPECT_LT(fp8->weight_bytes(), orig->weight_bytes());
  EXPECT_EQ(fp8->layer(1).experts[3].down_proj->dtype, DType::F8_E4M3);
  EXPECT_EQ(fp8->layer(1).gate->dtype, DType::BF16);  // the router stays as stored

  double err2 = 0, ref2 = 0;
  for (const std::string& n : quantized) {
    const TensorView& q = fp8->weights().get(n);
    ASSERT_EQ(q.dtype, DType::F8_E4M3) << n;
    ASSERT_NE(q.scale_inv, nullptr) << n;
    EXPECT_EQ(q.scale_rows, (q.shape[0] + 127) / 128) << n;
    EXPECT_EQ(q.scale_cols, (q.shape[1] + 127) / 128) << n;
    const std::vector<float> a = orig->weights().get(n).to_f32();
    const std::vector<float> b = q.to_f32();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      const int64_t r = int64_t(i) / q.shape[1], col = int64_t(i) % q.shape[1];
      const float s = q.scale_inv[(r / 128) * q.scale_cols + col / 128];
      ASSERT_TRUE(within_fp8(b[i], a[i], s)) << n << " [" << r << ", " << col << "]: " << b[i] << " vs " << a[i];
      err2 += double(b[i] - a[i]) * (b[i] - a[i]);
      ref2 += double(a[i]) * a[i];
    }
  }
  const double rel_rms = std::sqrt(err2 / ref2);
  EXPECT_GT(rel_rms, 1e-3);  // it really was quantized
  EXPECT_LT(rel_rms, 0.04);  // E4M3 with per-block scales: ~2-3% RMS
}

TEST(Fp8, BlockScalesAreIndexedByRowBlockAndColumnBlock) {
  // magnitudes differ by 2^(3*bi + bj) between blocks, so a scale read from the wrong block is
  // off by at least a factor 2 and fails the bound
  const int64_t rows = 300, cols = 260;
  std::vector<float> w(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      w[size_t(r * cols + c)] = std::ldexp(std::sin(0.37f * float(r) + 0.11f * float(c)), int(3 * (r / 128) + c / 128));
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  test::quantize_fp8_blocks(w, rows, cols, codes, scales);
  ASSERT_EQ(scales.size(), 3u * 3u);
  TensorView q;
  q.name = "blk.weight";
  q.dtype = DType::F8_E4M3;
  q.shape = {rows, cols};
  q.data = codes.data();
  q.nbytes = codes.size();
  const fs::path p = test::temp_dir("fp8-blocks") / "w.safetensors";
  write_safetensors(p, {q, f32_view("blk.weight_scale_inv", {3, 3}, scales.data())});
  WeightStore ws = WeightStore::open(p);
  const TensorView& t = ws.get("blk.weight");
  ASSERT_EQ(t.scale_inv, static_cast<const float*>(ws.get("blk.weight_scale_inv").data));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    t.row_to_f32(r, row.data());
    for (int64_t c = 0; c < cols; ++c)
      ASSERT_TRUE(within_fp8(row[size_t(c)], w[size_t(r * cols + c)], scales[size_t((r / 128) * 3 + c / 128)]))
          << "[" << r << ", " << c << "]";
  }
}

TEST(Fp8Bad, WeightWithoutScales) {
  std::vector<uint8_t> codes(16, 0x38);
  TensorView q;
  q.name = "x.weight";
  q.dtype = DType::F8_E4M3;
  q.shape = {4, 4};
  q.data = codes.data();
  q.nbytes = 16;
  const fs::path p = test::temp_dir("fp8-noscale") / "w.safetensors";
  write_safetensors(p, {q});
  try {
    WeightStore::open(p);
    FAIL() << "accepted";
  } catch (const Error& e) {
    expect_one_line(e.what(), {p.string(), "tensor 'x.weight'", "x.weight_scale_inv"});
  }
}

TEST(Fp8Bad, ScalesOfTheWrongShape) {
  std::vector<uint8_t> codes(200 * 4, 0x38);
  std::vector<float> s(1, 1.0f);
  TensorView q;
  q.name = "x.weight";
  q.dtype = DType::F8_E4M3;
  q.shape = {200, 4};
  q.data = codes.data();
  q.nbytes = codes.size();
  const fs::path p = test::temp_dir("fp8-badscale") / "w.safetensors";
  write_safetensors(p, {q, f32_view("x.weight_scale_inv", {1, 1}, s.data())});
  try {
    WeightStore::open(p);
    FAIL() << "accepted";
  } catch (const Error& e) {
    expect_one_line(e.what(), {p.string(), "'x.weight_scale_inv'", "[1, 1]", "[2, 1]"});
  }
}
