// tests/engine/test_gguf_split.cpp — split GGUF models (llama.cpp's gguf-split layout:
// NAME-00001-of-0000n.gguf, split.no / split.count / split.tensors.count, all metadata in the first
// part). The parts are made here with the project's own GgufWriter from a single exported file, the
// way llama-gguf-split makes them; loading from any part must give the single file's weights byte for
// byte, and a missing, renamed or foreign part must be a one-line error naming it.
#include <cstring>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/model/model.h"
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
  "rope_theta": 10000.0, "bos_token_id": 0, "eos_token_id": 1})";

// Every tensor the config implies, F32 from a fixed seed, exported as one GGUF (Q8_0 weights).
void export_single(const fs::path& out, uint32_t seed) {
  const ModelConfig c = ModelConfig::from_json_text(kTinyV3, "config.json");
  WeightStore store;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const auto& [name, shape] : hf_tensor_shapes(c)) {
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
    t.data = store.keep(std::move(bytes));
    store.add(std::move(t), -1);
  }
  GgufExportOptions o;
  o.type = DType::Q8_0;
  export_gguf(store, c, out, o);
}

// Copies one metadata value into a writer (the types an export uses).
void copy_kv(GgufWriter& w, const std::string& k, const GgufValue& v) {
  switch (v.type) {
    case GgufType::String: w.set_string(k, v.s); break;
    case GgufType::Bool: w.set_bool(k, v.i != 0); break;
    case GgufType::F32: case GgufType::F64: w.set_f32(k, static_cast<float>(v.f)); break;
    case GgufType::Array:
      if (v.elem_type == GgufType::String) {
        w.set_strings(k, v.strings);
      } else if (v.elem_type == GgufType::F32 || v.elem_type == GgufType::F64) {
        w.set_f32s(k, std::vector<float>(v.numbers.begin(), v.numbers.end()));
      } else {
        std::vector<int32_t> ints;
        for (double d : v.numbers) ints.push_back(static_cast<int32_t>(d));
        w.set_i32s(k, ints);
      }
      break;
    default:
      if (v.i >= 0 && v.i <= 0xffffffffLL) w.set_u32(k, static_cast<uint32_t>(v.i));
      else w.set_i32(k, static_cast<int32_t>(v.i));
  }
}

// llama-gguf-split --split-max-tensors: metadata in part 1 only, split keys (u16, u16, i32) in
// every part, tensors in file order cut into `n_parts` runs. Returns the part paths.
std::vector<fs::path> split_gguf(const fs::path& single, const fs::path& dir, const std::string& prefix, int n_parts) {
  const GgufFile f = GgufFile::open_part(single);
  const auto& tensors = f.tensors();
  const size_t per = (tensors.size() + static_cast<size_t>(n_parts) - 1) / static_cast<size_t>(n_parts);
  std::vector<fs::path> paths;
  for (int p = 0; p < n_parts; ++p) {
    GgufWriter w;
    if (p == 0)
      for (const auto& [k, v] : f.metadata()) copy_kv(w, k, v);
    w.set_u16("split.no", static_cast<uint16_t>(p));
    w.set_u16("split.count", static_cast<uint16_t>(n_parts));
    w.set_i32("split.tensors.count", static_cast<int32_t>(tensors.size()));
    for (size_t i = static_cast<size_t>(p) * per; i < std::min(tensors.size(), static_cast<size_t>(p + 1) * per); ++i)
      w.add_tensor(tensors[i].name, tensors[i].dtype, tensors[i].shape(), f.tensor_data(tensors[i]));
    char name[64];
    std::snprintf(name, sizeof name, "-%05d-of-%05d.gguf", p + 1, n_parts);
    paths.push_back(dir / (prefix + name));
    w.write(paths.back());
  }
  return paths;
}

std::string load_error(const fs::path& p) {
  try {
    WeightStore st;
    ModelConfig c;
    load_gguf(st, p, {}, &c, nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_error(const fs::path& p, const std::vector<std::string>& must_contain) {
  const std::string e = load_error(p);
  ASSERT_FALSE(e.empty()) << p << " loaded";
  EXPECT_EQ(e.rfind("[gguf] ", 0), 0u) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  for (const std::string& s : must_contain) EXPECT_NE(e.find(s), std::string::npos) << "'" << s << "' not in: " << e;
}

class GgufSplit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("gguf-split");
    export_single(dir_ / "single.gguf", 7);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

}  // namespace

TEST_F(GgufSplit, AnyPartLoadsTheSameWeightsAsTheSingleFile) {
  WeightStore want;
  ModelConfig want_c;
  load_gguf(want, dir_ / "single.gguf", {}, &want_c, nullptr);

  const fs::path parts_dir = dir_ / "parts";
  fs::create_directories(parts_dir);
  const std::vector<fs::path> parts = split_gguf(dir_ / "single.gguf", parts_dir, "m", 3);
  // Every part holds tensors, only the first holds the model's metadata.
  for (size_t i = 0; i < parts.size(); ++i) {
    const GgufFile p = GgufFile::open_part(parts[i]);
    EXPECT_GT(p.tensors().size(), 0u);
    EXPECT_EQ(p.find("general.architecture") != nullptr, i == 0) << parts[i];
  }
  for (const fs::path& given : parts) {
    SCOPED_TRACE(given.filename().string());
    WeightStore got;
    ModelConfig c;
    uint64_t last_done = 0, last_total = 0;
    load_gguf(got, given, [&](uint64_t d, uint64_t t) { last_done = d, last_total = t; }, &c, nullptr);
    EXPECT_EQ(last_done, last_total);
    EXPECT_GT(last_total, 0u);
    EXPECT_EQ(c.num_hidden_layers, want_c.num_hidden_layers);
    EXPECT_EQ(c.n_routed_experts, want_c.n_routed_experts);
    EXPECT_EQ(c.kv_lora_rank, want_c.kv_lora_rank);
    ASSERT_EQ(got.names().size(), want.names().size());
    for (const std::string& n : want.names()) {
      const TensorView& a = want.get(n);
      const TensorView* b = got.find(n);
      ASSERT_TRUE(b) << n;
      EXPECT_EQ(b->dtype, a.dtype) << n;
      EXPECT_EQ(b->shape, a.shape) << n;
      ASSERT_EQ(b->nbytes, a.nbytes) << n;
      EXPECT_EQ(std::memcmp(b->data, a.data, a.nbytes), 0) << n;
    }
    // Tensors keep the part they came from (for messages): not all from the first part.
    std::set<std::string> files;
    for (const std::string& n : got.names()) files.insert(got.file_of(n));
    EXPECT_EQ(files.size(), 3u);
  }
  // A folder holding only the parts is that model, and it binds.
  ModelLoadOptions lo;
  lo.check_memory = false;
  const std::shared_ptr<Model> m = Model::load(parts_dir, lo);
  EXPECT_EQ(m->n_layers(), want_c.num_hidden_layers);
}

TEST_F(GgufSplit, MissingPartIsNamed) {
  const std::vector<fs::path> parts = split_gguf(dir_ / "single.gguf", dir_, "m", 3);
  fs::remove(parts[1]);
  for (const fs::path& given : {parts[0], parts[2]})
    expect_error(given, {"m-00002-of-00003.gguf", "part 2 of the 3-part split model 'm' is missing"});
}

TEST_F(GgufSplit, PartOfAnotherSplitIsNamed) {
  const std::vector<fs::path> parts = split_gguf(dir_ / "single.gguf", dir_, "m", 3);
  // The same model cut in 2: its second part, renamed into the 3-part set, says split.count = 2.
  const fs::path other = dir_ / "other";
  fs::create_directories(other);
  const std::vector<fs::path> two = split_gguf(dir_ / "single.gguf", other, "m", 2);
  fs::copy_file(two[1], parts[2], fs::copy_options::overwrite_existing);
  expect_error(parts[0], {"m-00003-of-00003.gguf", "split.no = 1, split.count = 2", "different splits"});
}

TEST_F(GgufSplit, DuplicateTensorAcrossPartsIsNamed) {
  const std::vector<fs::path> parts = split_gguf(dir_ / "single.gguf", dir_, "m", 3);
  // Part 3 rewritten with a tensor that part 1 already holds.
  const GgufFile p1 = GgufFile::open_part(parts[0]);
  const GgufFile p3 = GgufFile::open_part(parts[2]);
  GgufWriter w;
  w.set_u16("split.no", 2);
  w.set_u16("split.count", 3);
  w.set_i32("split.tensors.count", static_cast<int32_t>(GgufFile::open(parts[0]).tensors().size()));
  for (const GgufTensorInfo& t : p3.tensors()) w.add_tensor(t.name, t.dtype, t.shape(), p3.tensor_data(t));
  const GgufTensorInfo& dup = p1.tensors().front();
  w.add_tensor(dup.name, dup.dtype, dup.shape(), p1.tensor_data(dup));
  const fs::path tmp = dir_ / "p3.gguf";
  w.write(tmp);
  fs::rename(tmp, parts[2]);
  expect_error(parts[0], {"m-00003-of-00003.gguf", "tensor '" + dup.name + "' is also in m-00001-of-00003.gguf"});
}

TEST_F(GgufSplit, TensorCountDisagreeingWithSplitTensorsCountIsCaught) {
  const std::vector<fs::path> parts = split_gguf(dir_ / "single.gguf", dir_, "m", 2);
  // Part 2 rewritten without its last tensor: the model is incomplete.
  const GgufFile p2 = GgufFile::open_part(parts[1]);
  GgufWriter w;
  w.set_u16("split.no", 1);
  w.set_u16("split.count", 2);
  w.set_i32("split.tensors.count", static_cast<int32_t>(p2.get_int("split.tensors.count", 0, 1 << 30)));
  for (size_t i = 0; i + 1 < p2.tensors().size(); ++i)
    w.add_tensor(p2.tensors()[i].name, p2.tensors()[i].dtype, p2.tensors()[i].shape(), p2.tensor_data(p2.tensors()[i]));
  const fs::path tmp = dir_ / "p2.gguf";
  w.write(tmp);
  fs::rename(tmp, parts[1]);
  expect_error(parts[1], {"m-00001-of-00002.gguf", "split.tensors.count"});
}

TEST_F(GgufSplit, RenamedPartSaysWhatNameItNeeds) {
  const std::vector<fs::path> parts = split_gguf(dir_ / "single.gguf", dir_, "m", 3);
  fs::rename(parts[1], dir_ / "middle.gguf");
  expect_error(dir_ / "middle.gguf", {"middle.gguf", "part 2 of a 3-part split model", "expected 'middle-00002-of-00003.gguf'"});
}

TEST_F(GgufSplit, SinglePartCountOneLoadsAlone) {
  const std::vector<fs::path> parts = split_gguf(dir_ / "single.gguf", dir_, "m", 1);
  EXPECT_EQ(load_error(parts[0]), "");
}
