// tests/fuzz/fuzz_make_seeds.cpp — `fuzz_make_seeds CORPUS_DIR` writes the seeds that need the
// project's own writers, each into CORPUS_DIR/<target>/ (scripts/fuzz.sh adds the test data files
// and tests/fuzz/seeds/). Small on purpose: a tiny DeepSeek-V3 config, a few tokens, 512-byte
// SQLite pages, so mutations reach the structure rather than bulk data.
//   session_db:  recorded sessions (routing only; everything with attention, messages, bookmarks,
//                annotations), one in WAL mode and one rolled back to a single file
//   gguf:        a Q8_0 export with tokenizer (mode byte 0), and the same split in two parts (mode 1)
//   safetensors: small files of several dtypes with metadata (mode 0), a shard index (mode 1)
//   tokenizer_encode: the golden tokenizer cases' texts
//   tokenizer_json: the small tokenizer.json with a tokenizer_config.json after the separator
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include <SQLiteCpp/Database.h>
#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/tensor_names.h"
#include "engine/weights/gguf.h"
#include "engine/weights/gguf_export.h"
#include "engine/weights/gguf_file.h"
#include "engine/weights/gguf_writer.h"
#include "engine/weights/safetensors.h"
#include "engine/weights/weight_store.h"
#include "fuzz_util.h"
#include "sessions/recorder.h"
#include "sessions/synthetic.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

const char* kTinyV3 = R"({
  "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
  "vocab_size": 280, "hidden_size": 32, "intermediate_size": 48, "moe_intermediate_size": 16,
  "num_hidden_layers": 2, "num_attention_heads": 2, "kv_lora_rank": 32, "q_lora_rank": 32,
  "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16, "n_routed_experts": 4,
  "n_shared_experts": 1, "num_experts_per_tok": 2, "topk_method": "noaux_tc", "n_group": 2,
  "topk_group": 1, "scoring_func": "sigmoid", "norm_topk_prob": true, "routed_scaling_factor": 2.5,
  "first_k_dense_replace": 1, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
  "rope_theta": 10000.0, "bos_token_id": 0, "eos_token_id": 1})";

std::string with_mode(uint8_t mode, const std::string& body) { return std::string(1, static_cast<char>(mode)) + body; }

void session_seeds(const fs::path& out, const fs::path& work) {
  for (int variant = 0; variant < 3; ++variant) {
    const fs::path db = work / ("s" + std::to_string(variant) + ".db");
    SessionMeta meta;
    meta.config_json = kTinyV3;
    meta.config = ModelConfig::from_json_text(meta.config_json, "config.json");
    meta.title = variant == 0 ? "routing only" : "everything";
    meta.model_name = "tiny";
    meta.backend = "cpu (1 thread)";
    meta.mla_mode = "absorbed";
    meta.kv_dtype = "bf16";
    meta.sampler_json = R"({"temperature":0.7,"seed":3})";
    meta.capture = variant == 0 ? CapturePolicy::Routing : CapturePolicy::Everything;
    meta.gate_bias.assign(1, std::vector<float>(4, 0.25f));
    CaptureSettings cap;
    cap.policy = meta.capture;
    sessions::RecorderOptions ro;
    if (variant == 2) ro.attention_topk = 2;
    {
      auto rec = sessions::SessionRecorder::start(db, meta, ro);
      const int n = variant == 0 ? 10 : 5;
      for (int i = 0; i < n; ++i) rec->record(sessions::synthetic_step(meta.config, cap, 7, i, 3));
      rec->add_message(0, {"user", "hello", 0, 3, ""});
      rec->add_message(1, {"assistant", "hi \xf0\x9f\x99\x82", 3, n, R"({"temperature":0})"});
      rec->add_bookmark({-1, 2, "here"});
      rec->add_annotation({-1, 3, 1, "note"});
      rec->flush();
    }
    if (variant != 1) {  // one file, small pages (variant 1 stays in WAL mode as recorded)
      SQLite::Database d(db.string(), SQLite::OPEN_READWRITE);
      d.exec("PRAGMA journal_mode=DELETE");
      d.exec("PRAGMA page_size=512");
      d.exec("VACUUM");
    }
    fs::copy_file(db, out / ("session_" + std::to_string(variant) + ".db"), fs::copy_options::overwrite_existing);
  }
}

// Every tensor the config implies, small random F32, exported as GGUF with the small tokenizer.
void gguf_seeds(const fs::path& out, const fs::path& work, const fs::path& seeds) {
  const ModelConfig c = ModelConfig::from_json_text(kTinyV3, "config.json");
  WeightStore store;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const auto& [name, shape] : hf_tensor_shapes(c)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<uint8_t> bytes(static_cast<size_t>(n) * 4);
    for (size_t i = 0; i < bytes.size(); i += 4) {
      const float x = u(rng);
      std::memcpy(&bytes[i], &x, 4);
    }
    TensorView t;
    t.name = name;
    t.dtype = DType::F32;
    t.shape = shape;
    t.nbytes = bytes.size();
    t.data = store.keep(std::move(bytes));
    store.add(std::move(t), -1);
  }
  const fs::path tokdir = work / "tok";
  fs::create_directories(tokdir);
  fs::copy_file(seeds / "tokenizer_json/deepseek_small.json", tokdir / "tokenizer.json", fs::copy_options::overwrite_existing);
  const GgufTokenizer tok = gguf_tokenizer_from_hf(tokdir, c);
  GgufExportOptions o;
  o.type = DType::Q8_0;
  o.tokenizer = &tok;
  const fs::path single = work / "tiny.gguf";
  export_gguf(store, c, single, o);
  fuzz::write_file(out / "tiny_q8_0.gguf", with_mode(0, fuzz::read_file(single)));

  // Split in two as llama-gguf-split does: all metadata (and the first tensors) in part 1.
  const GgufFile f = GgufFile::open_part(single);
  const size_t half = f.tensors().size() / 2;
  std::string parts[2];
  for (int p = 0; p < 2; ++p) {
    GgufWriter w(f.alignment());
    if (p == 0) {
      for (const auto& [k, v] : f.metadata()) {
        switch (v.type) {
          case GgufType::String: w.set_string(k, v.s); break;
          case GgufType::Bool: w.set_bool(k, v.i != 0); break;
          case GgufType::F32: case GgufType::F64: w.set_f32(k, static_cast<float>(v.f)); break;
          case GgufType::Array:
            if (v.elem_type == GgufType::String) w.set_strings(k, v.strings);
            else if (v.elem_type == GgufType::F32 || v.elem_type == GgufType::F64)
              w.set_f32s(k, std::vector<float>(v.numbers.begin(), v.numbers.end()));
            else {
              std::vector<int32_t> ints;
              for (double d : v.numbers) ints.push_back(static_cast<int32_t>(d));
              w.set_i32s(k, ints);
            }
            break;
          default: w.set_u32(k, static_cast<uint32_t>(v.i)); break;
        }
      }
    }
    w.set_u16("split.no", static_cast<uint16_t>(p));
    w.set_u16("split.count", 2);
    w.set_i32("split.tensors.count", static_cast<int32_t>(f.tensors().size()));
    for (size_t i = p == 0 ? 0 : half; i < (p == 0 ? half : f.tensors().size()); ++i) {
      const GgufTensorInfo& t = f.tensors()[i];
      w.add_tensor(t.name, t.dtype, t.shape(), f.tensor_data(t));
    }
    const fs::path pp = work / ("part" + std::to_string(p) + ".gguf");
    w.write(pp);
    parts[p] = fuzz::read_file(pp);
  }
  const auto cut = static_cast<uint32_t>(parts[0].size());
  std::string head(4, '\0');
  std::memcpy(head.data(), &cut, 4);
  fuzz::write_file(out / "tiny_split.gguf", with_mode(1, head + parts[0] + parts[1]));
}

void safetensors_seeds(const fs::path& out, const fs::path& work) {
  const float f[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
  const int32_t ids[3] = {1, 2, 3};
  const fs::path p = work / "small.safetensors";
  write_safetensors(p, {f32_view("model.embed_tokens.weight", {2, 3}, f), i32_view("ids", {3}, ids)}, {{"format", "pt"}});
  fuzz::write_file(out / "small.bin", with_mode(0, fuzz::read_file(p)));
  TensorView bf = f32_view("model.norm.weight", {4}, f);
  bf.dtype = DType::BF16;
  bf.nbytes = 8;
  write_safetensors(p, {bf});
  fuzz::write_file(out / "bf16.bin", with_mode(0, fuzz::read_file(p)));
  fuzz::write_file(out / "index.bin",
                   with_mode(1, R"({"metadata":{"total_size":32},"weight_map":{"a.weight":"model-00001-of-00002.safetensors","b.weight":"model-00002-of-00002.safetensors"}})"));
}

void tokenizer_seeds(const fs::path& out_encode, const fs::path& out_json, const fs::path& seeds) {
  const nlohmann::json cases =
      nlohmann::json::parse(fuzz::read_file(fs::path(MLASCOPE_TEST_DATA) / "golden/tokenizer/deepseek-v3-cases.json"));
  int i = 0;
  for (const auto& c : cases.at("cases")) {
    const std::string text = c.at("text").get<std::string>();
    fuzz::write_file(out_encode / ("case_" + std::to_string(i++) + ".txt"), text.substr(0, 512));
  }
  fuzz::write_file(out_json / "small_with_config.json",
                   fuzz::read_file(seeds / "tokenizer_json/deepseek_small.json") + "\n@@config@@\n" +
                       fuzz::read_file(fs::path(MLASCOPE_TEST_DATA) / "tokenizers/deepseek-v3/tokenizer_config.json"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
    return 2;
  }
  const fs::path root = argv[1];
  const fs::path seeds = MLASCOPE_FUZZ_SEEDS;
  try {
    for (const char* t : {"session_db", "gguf", "safetensors", "tokenizer_encode", "tokenizer_json"}) fs::create_directories(root / t);
    const fs::path& work = fuzz::temp_dir();
    session_seeds(root / "session_db", work);
    gguf_seeds(root / "gguf", work, seeds);
    safetensors_seeds(root / "safetensors", work);
    tokenizer_seeds(root / "tokenizer_encode", root / "tokenizer_json", seeds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
