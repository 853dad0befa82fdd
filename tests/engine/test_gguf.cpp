// tests/engine/test_gguf.cpp — GGUF: export → load round trips on a synthetic DeepSeek model
// (every tensor compared with the values that went in), metadata → ModelConfig, the split
// attn_k_b/attn_v_b form, the tokenizer keys, and hand-crafted malicious files that must give a
// one-line "[gguf] FILE: ..." error rather than a crash, an overflow or a huge allocation.
#include <cstring>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/tensor_names.h"
#include "engine/weights/gguf.h"
#include "engine/weights/gguf_export.h"
#include "engine/weights/gguf_file.h"
#include "engine/weights/gguf_writer.h"
#include "support/data_paths.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

const char* kTinyV3 = R"({
  "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
  "vocab_size": 96, "hidden_size": 64, "intermediate_size": 96, "moe_intermediate_size": 32,
  "num_hidden_layers": 3, "num_attention_heads": 2, "kv_lora_rank": 32, "q_lora_rank": 32,
  "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16, "n_routed_experts": 8,
  "n_shared_experts": 1, "num_experts_per_tok": 2, "topk_method": "noaux_tc", "n_group": 2,
  "topk_group": 1, "scoring_func": "sigmoid", "norm_topk_prob": true, "routed_scaling_factor": 2.5,
  "first_k_dense_replace": 1, "max_position_embeddings": 256, "rms_norm_eps": 1e-6,
  "rope_theta": 10000.0, "bos_token_id": 0, "eos_token_id": 1,
  "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64,
                   "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707}})";

const char* kTinyV2 = R"({
  "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
  "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64, "moe_intermediate_size": 32,
  "num_hidden_layers": 2, "num_attention_heads": 2, "kv_lora_rank": 32,
  "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 8, "n_routed_experts": 4,
  "n_shared_experts": 2, "num_experts_per_tok": 2, "topk_method": "greedy",
  "scoring_func": "softmax", "routed_scaling_factor": 1.0,
  "first_k_dense_replace": 1, "max_position_embeddings": 128, "bos_token_id": 0, "eos_token_id": 1})";

// A synthetic model: every tensor the config implies, F32, values from a fixed seed.
struct Synthetic {
  ModelConfig config;
  WeightStore store;
  std::map<std::string, std::vector<float>> values;
};

Synthetic make_model(const char* config_json) {
  Synthetic s;
  s.config = ModelConfig::from_json_text(config_json, "config.json");
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const auto& [name, shape] : hf_tensor_shapes(s.config)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = u(rng);
    std::vector<uint8_t> bytes(v.size() * 4);
    std::memcpy(bytes.data(), v.data(), bytes.size());
    TensorView t;
    t.name = name;
    t.dtype = DType::F32;
    t.shape = shape;
    t.nbytes = bytes.size();
    t.data = s.store.keep(std::move(bytes));
    s.store.add(std::move(t), -1);
    s.values[name] = std::move(v);
  }
  return s;
}

std::string error_of(const fs::path& p) {
  try {
    WeightStore st;
    ModelConfig c;
    load_gguf(st, p, {}, &c, nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_same_config(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.moe_intermediate_size, b.moe_intermediate_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.q_lora_rank, b.q_lora_rank);
  EXPECT_EQ(a.kv_lora_rank, b.kv_lora_rank);
  EXPECT_EQ(a.qk_nope_head_dim, b.qk_nope_head_dim);
  EXPECT_EQ(a.qk_rope_head_dim, b.qk_rope_head_dim);
  EXPECT_EQ(a.v_head_dim, b.v_head_dim);
  EXPECT_EQ(a.n_routed_experts, b.n_routed_experts);
  EXPECT_EQ(a.n_shared_experts, b.n_shared_experts);
  EXPECT_EQ(a.num_experts_per_tok, b.num_experts_per_tok);
  EXPECT_EQ(a.topk_method, b.topk_method);
  EXPECT_EQ(a.n_group, b.n_group);
  EXPECT_EQ(a.topk_group, b.topk_group);
  EXPECT_EQ(a.scoring_func, b.scoring_func);
  EXPECT_EQ(a.norm_topk_prob, b.norm_topk_prob);
  EXPECT_FLOAT_EQ(static_cast<float>(a.routed_scaling_factor), static_cast<float>(b.routed_scaling_factor));
  EXPECT_EQ(a.first_k_dense_replace, b.first_k_dense_replace);
  EXPECT_FLOAT_EQ(static_cast<float>(a.rms_norm_eps), static_cast<float>(b.rms_norm_eps));
  EXPECT_FLOAT_EQ(static_cast<float>(a.rope_theta), static_cast<float>(b.rope_theta));
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.rope_scaling.yarn, b.rope_scaling.yarn);
  EXPECT_FLOAT_EQ(static_cast<float>(a.rope_scaling.factor), static_cast<float>(b.rope_scaling.factor));
  EXPECT_EQ(a.rope_scaling.original_max_position_embeddings, b.rope_scaling.original_max_position_embeddings);
  EXPECT_NEAR(a.rope_scaling.mscale_all_dim, b.rope_scaling.mscale_all_dim, 1e-6);
  EXPECT_NEAR(a.softmax_scale(), b.softmax_scale(), 1e-7);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_id, b.eos_token_id);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
}

}  // namespace

class GgufRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufRoundTrip, F32ExportLoadsBackExactlyUnderHfNames) {
  Synthetic s = make_model(GetParam());
  const fs::path dir = test::temp_dir("gguf");
  for (int mode = 0; mode < 3; ++mode) {  // kv_b_proj split (default), whole, both
  GgufExportOptions o;
  o.type = DType::F32;
  o.whole_kv_b = mode >= 1;
  o.split_kv_b = mode != 1;
  SCOPED_TRACE("kv_b mode " + std::to_string(mode));
  export_gguf(s.store, s.config, dir / "m.gguf", o);
  WeightStore st;
  ModelConfig c;
  uint64_t last_done = 0, last_total = 0;
  load_gguf(st, dir / "m.gguf", [&](uint64_t d, uint64_t t) { last_done = d, last_total = t; }, &c, nullptr);
  EXPECT_EQ(last_done, last_total);
  expect_same_config(c, s.config);
  for (const auto& [name, v] : s.values) {
    const TensorView* t = st.find(name);
    ASSERT_TRUE(t) << name;
    EXPECT_EQ(t->to_f32(), v) << name;
  }
  EXPECT_EQ(st.names().size(), s.values.size());
  // Experts are views into one merged tensor: consecutive experts sit back to back, no copy.
  const TensorView& e0 = st.get("model.layers.1.mlp.experts.0.up_proj.weight");
  const TensorView& e1 = st.get("model.layers.1.mlp.experts.1.up_proj.weight");
  EXPECT_EQ(static_cast<const uint8_t*>(e0.data) + e0.nbytes, e1.data);
  }
  fs::remove_all(dir);
}

TEST_P(GgufRoundTrip, SplitKvBIsReassembled) {
  Synthetic s = make_model(GetParam());
  const fs::path dir = test::temp_dir("gguf");
  GgufExportOptions o;
  o.type = DType::F32;
  o.whole_kv_b = false;
  export_gguf(s.store, s.config, dir / "m.gguf", o);
  const GgufFile f = GgufFile::open(dir / "m.gguf");
  EXPECT_FALSE(f.find_tensor("blk.0.attn_kv_b.weight"));
  ASSERT_TRUE(f.find_tensor("blk.0.attn_k_b.weight"));
  // llama.cpp's layout: k_b dims [nope, rank, H] innermost first, v_b [rank, v, H].
  const auto& kb = *f.find_tensor("blk.0.attn_k_b.weight");
  EXPECT_EQ(kb.ne, (std::vector<int64_t>{s.config.qk_nope_head_dim, s.config.kv_lora_rank, s.config.num_attention_heads}));
  // k_b[h][r][i] = kv_b[h*(nope+v) + i][r]
  const auto* kbd = reinterpret_cast<const float*>(f.tensor_data(kb));
  const auto& kv = s.values["model.layers.0.self_attn.kv_b_proj.weight"];
  const int nope = s.config.qk_nope_head_dim, v = s.config.v_head_dim, rank = s.config.kv_lora_rank;
  EXPECT_EQ(kbd[(1 * rank + 5) * nope + 3], kv[(1 * (nope + v) + 3) * rank + 5]);
  WeightStore st;
  ModelConfig c;
  load_gguf(st, dir / "m.gguf", {}, &c, nullptr);
  for (int l = 0; l < s.config.num_hidden_layers; ++l) {
    const std::string n = "model.layers." + std::to_string(l) + ".self_attn.kv_b_proj.weight";
    EXPECT_EQ(st.get(n).to_f32(), s.values[n]) << n;
  }
  fs::remove_all(dir);
}

TEST_P(GgufRoundTrip, QuantizedExportsStayClose) {
  Synthetic s = make_model(GetParam());
  const fs::path dir = test::temp_dir("gguf");
  for (DType type : {DType::F16, DType::Q8_0, DType::Q4_K}) {
    GgufExportOptions o;
    o.type = type;
    export_gguf(s.store, s.config, dir / "m.gguf", o);
    WeightStore st;
    ModelConfig c;
    load_gguf(st, dir / "m.gguf", {}, &c, nullptr);
    for (const auto& [name, v] : s.values) {
      const TensorView& t = st.get(name);
      // kv_b_proj comes back from the split form: same type when plain, F32 when block-quantized
      if (name.find("kv_b_proj") != std::string::npos)
        EXPECT_EQ(t.dtype, dtype_is_quantized(type) ? DType::F32 : type) << name;
      else
        EXPECT_EQ(t.dtype, gguf_export_type(name, t.shape, type)) << name;
      const std::vector<float> got = t.to_f32();
      // values in [-1, 1]: F16 ulp/2 <= 2^-12; Q8_0 step 1/127; Q4_K 2/15 (plus scale rounding)
      const float tol = type == DType::F16 ? 2.5e-4f : t.dtype == DType::Q8_0 ? 1.0f / 127 : 0.2f;
      float err = 0.0f;
      for (size_t i = 0; i < v.size(); ++i) err = std::max(err, std::fabs(got[i] - v[i]));
      EXPECT_LE(err, tol) << name << " " << to_string(t.dtype);
    }
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Models, GgufRoundTrip, ::testing::Values(kTinyV3, kTinyV2));

TEST(Gguf, TokenizerFromHfRoundTrips) {
  const fs::path demo = test::asset_path("models/mla-moe-demo");
  const ModelConfig cfg = ModelConfig::from_file(demo / "config.json");
  const GgufTokenizer t = gguf_tokenizer_from_hf(demo, cfg);
  // From the model card: 4096 entries, ids 0-2 special, 3-258 the byte symbols, 3837 merges.
  ASSERT_EQ(t.tokens.size(), 4096u);
  EXPECT_EQ(t.tokens[0], "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(t.token_types[0], 3);
  EXPECT_EQ(t.token_types[100], 1);
  EXPECT_EQ(t.merges.size(), 3837u);
  EXPECT_EQ(t.bos_id, 0);
  EXPECT_EQ(t.eos_id, 1);
  EXPECT_TRUE(t.add_bos);
  EXPECT_EQ(t.pre, "deepseek-v3");

  WeightStore st;
  const fs::path dir = test::temp_dir("gguf");
  GgufWriter w;
  w.set_string("general.architecture", "deepseek2");
  w.set_string("tokenizer.ggml.model", t.model);
  w.set_string("tokenizer.ggml.pre", t.pre);
  w.set_strings("tokenizer.ggml.tokens", t.tokens);
  w.set_i32s("tokenizer.ggml.token_type", t.token_types);
  w.set_strings("tokenizer.ggml.merges", t.merges);
  w.set_u32("tokenizer.ggml.bos_token_id", 0);
  w.set_u32("tokenizer.ggml.eos_token_id", 1);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.write(dir / "tok.gguf");
  const GgufTokenizer back = tokenizer_from_gguf(GgufFile::open(dir / "tok.gguf"));
  EXPECT_EQ(back.tokens, t.tokens);
  EXPECT_EQ(back.token_types, t.token_types);
  EXPECT_EQ(back.merges, t.merges);
  EXPECT_EQ(back.bos_id, 0);
  EXPECT_EQ(back.eos_id, 1);
  EXPECT_TRUE(back.add_bos);
  fs::remove_all(dir);
}

// ---- malicious and malformed files ----

namespace {

// Raw little-endian GGUF bytes, field by field, so each test can lie about exactly one thing.
struct Raw {
  std::vector<uint8_t> b;
  template <class T>
  Raw& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Raw& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return put<uint32_t>(0x46554747).put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }
  Raw& kv_str(const std::string& k, const std::string& v) { return str(k).put<uint32_t>(8).str(v); }
  Raw& kv_u32(const std::string& k, uint32_t v) { return str(k).put<uint32_t>(4).put<uint32_t>(v); }
  Raw& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) put<uint64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  Raw& pad(size_t align = 32) {
    b.resize((b.size() + align - 1) / align * align, 0);
    return *this;
  }
  Raw& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
  fs::path save(const fs::path& dir, const std::string& name) const {
    std::ofstream f(dir / name, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return dir / name;
  }
};

std::string parse_error(const fs::path& p) {
  try {
    GgufFile::open(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

class GgufMalicious : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::temp_dir("gguf-bad"); }
  void TearDown() override { fs::remove_all(dir_); }
  // The error must be one line, start with "[gguf] bad.gguf: " and mention `needle`.
  void expect_error(const Raw& r, const std::string& needle) {
    const std::string e = parse_error(r.save(dir_, "bad.gguf"));
    EXPECT_EQ(e.rfind("[gguf] bad.gguf: ", 0), 0u) << e;
    EXPECT_NE(e.find(needle), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  fs::path dir_;
};

TEST_F(GgufMalicious, HeaderLies) {
  expect_error(Raw().put<uint32_t>(0x46554746).put<uint32_t>(3).zeros(16), "not a GGUF file");
  expect_error(Raw().header(0, 0, 1), "version 1");
  expect_error(Raw().header(0, 0, 7), "unknown GGUF version 7");
  expect_error(Raw().header(0, 0, 0x03000000), "big-endian");
  expect_error(Raw().put<uint32_t>(0x46554747).put<uint32_t>(3), "too short");
  expect_error(Raw().header(uint64_t(1) << 62, 0), "tensor_count");
  expect_error(Raw().header(0, ~uint64_t(0)), "metadata_kv_count");
  expect_error(Raw().header(1000, 0).zeros(64), "tensor_count = 1000 cannot fit");
}

TEST_F(GgufMalicious, MetadataLies) {
  expect_error(Raw().header(0, 1).put<uint64_t>(~uint64_t(0)).zeros(16), "metadata key length");
  expect_error(Raw().header(0, 1).put<uint64_t>(60000).zeros(16), "needs 60000 bytes");
  expect_error(Raw().header(0, 1).str("k").put<uint32_t>(13).zeros(8), "unknown value type 13");
  expect_error(Raw().header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(uint64_t(1) << 60).zeros(8), "metadata 'k'");
  // arrays: a count that the file cannot hold, an element type that does not exist, nesting
  expect_error(Raw().header(0, 1).str("a").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(uint64_t(1) << 40).zeros(64),
               "array length");
  expect_error(Raw().header(0, 1).str("a").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(100).zeros(64), "array length");
  expect_error(Raw().header(0, 1).str("a").put<uint32_t>(9).put<uint32_t>(77).put<uint64_t>(1).zeros(8), "unknown type 77");
  expect_error(Raw().header(0, 1).str("a").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1).zeros(16), "array of arrays");
  // a string array whose third element claims more bytes than remain
  expect_error(Raw().header(0, 1).str("a").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(3).str("x").str("y")
                   .put<uint64_t>(1 << 20).zeros(8),
               "element");
  expect_error(Raw().header(0, 2).kv_u32("k", 1).kv_u32("k", 2), "appears twice");
  expect_error(Raw().header(0, 1).str("b").put<uint32_t>(7).put<uint8_t>(9).zeros(8), "bool");
  expect_error(Raw().header(0, 1).kv_u32("general.alignment", 24).zeros(8), "power of two");
  expect_error(Raw().header(0, 1).kv_u32("general.alignment", 0).zeros(8), "power of two");
}

TEST_F(GgufMalicious, TensorInfoLies) {
  auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data = 64) {
    Raw r;
    r.header(1, 0).tensor("t", std::move(ne), type, offset).pad().zeros(data);
    return r;
  };
  EXPECT_EQ(parse_error(one({4, 4}, 0, 0).save(dir_, "ok.gguf")), "");
  expect_error(one({1ull << 40, 1ull << 40}, 0, 0), "too large");
  expect_error(one({~0ull}, 0, 0), "too large");
  expect_error(one({4, 0}, 0, 0), "zero");
  expect_error(one({4, 5}, 0, 0), "past the end");
  expect_error(one({4, 4}, 0, 32), "past the end");
  expect_error(one({4, 4}, 0, ~0ull - 31), "past the end");
  expect_error(one({4, 4}, 0, 4), "alignment");
  expect_error(one({4, 4}, 3, 0), "Q4_1");
  expect_error(one({4, 4}, 999, 0), "type 999");
  expect_error(one({48, 1}, 8, 0), "multiple of the Q8_0 block size 32");
  Raw five;
  five.header(1, 0).str("t").put<uint32_t>(5).zeros(64);
  expect_error(five, "5 dimensions");
  Raw overlap;
  overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad().zeros(128);
  expect_error(overlap, "overlap");
  Raw dup;
  dup.header(2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).pad().zeros(64);
  expect_error(dup, "appears twice");
  Raw longname;
  longname.header(1, 0).put<uint64_t>(5000).zeros(6000);
  expect_error(longname, "tensor name length 5000");
}

TEST_F(GgufMalicious, EveryTruncationOfARealFileFailsCleanly) {
  Synthetic s = make_model(kTinyV2);
  GgufExportOptions o;
  o.type = DType::Q8_0;
  export_gguf(s.store, s.config, dir_ / "m.gguf", o);
  std::ifstream f(dir_ / "m.gguf", std::ios::binary);
  std::vector<uint8_t> all((std::istreambuf_iterator<char>(f)), {});
  const GgufFile full = GgufFile::open(dir_ / "m.gguf");
  const size_t data_start = static_cast<size_t>(full.data_offset());
  // Cuts in the fixed header (every byte), the metadata and tensor infos, and the data (strides).
  for (size_t cut = 0; cut < all.size(); cut += cut < 64 ? 1 : cut < data_start ? 13 : 997) {
    Raw r;
    r.b.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(cut));
    const std::string e = error_of(r.save(dir_, "cut.gguf"));
    ASSERT_EQ(e.rfind("[gguf] cut.gguf: ", 0), 0u) << "cut at " << cut << ": " << e;
  }
}

TEST_F(GgufMalicious, RandomCorruptionNeverCrashes) {
  Synthetic s = make_model(kTinyV2);
  GgufExportOptions o;
  o.type = DType::F16;
  export_gguf(s.store, s.config, dir_ / "m.gguf", o);
  std::ifstream f(dir_ / "m.gguf", std::ios::binary);
  const std::vector<uint8_t> all((std::istreambuf_iterator<char>(f)), {});
  const size_t header_end = static_cast<size_t>(GgufFile::open(dir_ / "m.gguf").data_offset());
  std::mt19937 rng(99);
  int errors = 0;
  for (int trial = 0; trial < 300; ++trial) {
    Raw r;
    r.b = all;
    for (int k = 0; k < 4; ++k) r.b[rng() % header_end] = static_cast<uint8_t>(rng());
    const std::string e = error_of(r.save(dir_, "x.gguf"));
    if (!e.empty()) {
      ++errors;
      EXPECT_TRUE(e.rfind("[gguf] x.gguf: ", 0) == 0 || e.rfind("[config] x.gguf: ", 0) == 0) << e;
    }
  }
  EXPECT_GT(errors, 0);
}

TEST_F(GgufMalicious, ModelLevelChecks) {
  Synthetic s = make_model(kTinyV2);
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.write(dir_ / "llama.gguf");
  EXPECT_NE(error_of(dir_ / "llama.gguf").find("general.architecture 'llama' is not supported"), std::string::npos);
  GgufWriter w2;
  w2.set_string("general.architecture", "deepseek2");
  w2.write(dir_ / "empty.gguf");
  EXPECT_NE(error_of(dir_ / "empty.gguf").find("metadata 'deepseek2.block_count' is missing"), std::string::npos);
  // A missing tensor is named in both namings.
  WeightStore partial;
  for (const std::string& n : s.store.names())
    if (n != "model.layers.1.mlp.experts.2.up_proj.weight" && n.find("layers.1.mlp.experts") == std::string::npos)
      partial.add(*s.store.find(n), -1);
  EXPECT_THROW(export_gguf(partial, s.config, dir_ / "p.gguf", {}), Error);  // the exporter checks too
}

// Metadata as older llama.cpp exports write it (per-head key_length/value_length, no *_mla keys,
// no gating key) with a V3 multi-token-prediction layer counted in block_count.
TEST(GgufConfig, LegacyKeysAndMtpLayers) {
  const fs::path dir = test::temp_dir("gguf");
  GgufWriter w;
  w.set_string("general.architecture", "deepseek2");
  w.set_u32("deepseek2.block_count", 4);
  w.set_u32("deepseek2.nextn_predict_layers", 1);
  w.set_u32("deepseek2.context_length", 512);
  w.set_u32("deepseek2.embedding_length", 64);
  w.set_u32("deepseek2.feed_forward_length", 160);
  w.set_u32("deepseek2.attention.head_count", 4);
  w.set_u32("deepseek2.attention.head_count_kv", 4);
  w.set_u32("deepseek2.attention.kv_lora_rank", 32);
  w.set_u32("deepseek2.attention.key_length", 24);  // nope 16 + rope 8
  w.set_u32("deepseek2.attention.value_length", 16);
  w.set_u32("deepseek2.rope.dimension_count", 8);
  w.set_f32("deepseek2.rope.freq_base", 50000.0f);
  w.set_u32("deepseek2.expert_count", 8);
  w.set_u32("deepseek2.expert_used_count", 2);
  w.set_u32("deepseek2.expert_shared_count", 1);
  w.set_u32("deepseek2.expert_feed_forward_length", 32);
  w.set_u32("deepseek2.leading_dense_block_count", 1);
  w.set_f32("deepseek2.expert_weights_scale", 2.5f);
  w.set_bool("deepseek2.expert_weights_norm", true);
  w.set_string("deepseek2.rope.scaling.type", "yarn");
  w.set_f32("deepseek2.rope.scaling.factor", 40.0f);
  w.set_u32("deepseek2.rope.scaling.original_context_length", 4096);
  w.set_f32("deepseek2.rope.scaling.yarn_log_multiplier", 0.0707f);
  std::vector<float> embd(64 * 100, 0.0f), bias(8, 0.0f);
  w.add_tensor("token_embd.weight", DType::F32, {100, 64}, embd.data());
  w.add_tensor("blk.1.exp_probs_b.bias", DType::F32, {8}, bias.data());
  w.write(dir / "legacy.gguf");
  const ModelConfig c = config_from_gguf(dir / "legacy.gguf");
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.qk_nope_head_dim, 16);
  EXPECT_EQ(c.qk_rope_head_dim, 8);
  EXPECT_EQ(c.v_head_dim, 16);
  EXPECT_EQ(c.q_lora_rank, 0);
  EXPECT_EQ(c.vocab_size, 100);
  EXPECT_EQ(c.scoring_func, ScoringFunc::Sigmoid);
  EXPECT_EQ(c.topk_method, TopkMethod::NoauxTc);
  EXPECT_EQ(c.model_type, "deepseek_v3");
  EXPECT_TRUE(c.tie_word_embeddings);  // no output.weight
  EXPECT_TRUE(c.rope_scaling.yarn);
  EXPECT_NEAR(c.rope_scaling.mscale_all_dim, 0.707, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 50000.0);
  fs::remove_all(dir);
}
