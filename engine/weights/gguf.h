// engine/weights/gguf.h — DeepSeek (`deepseek2` architecture) models from GGUF files: metadata →
// ModelConfig, tensors → WeightStore under HF names (engine/tensor_names.*), tokenizer.ggml.* →
// the same tokenizer parts tokenizer.json gives. Called by WeightStore::open for `.gguf` paths.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "../config.h"
#include "weight_store.h"

namespace mlascope {

struct TokenizerParts;  // engine/tokenizer/tokenizer.h
class GgufFile;         // engine/weights/gguf_file.h

// What a GGUF file says about its tokenizer (llama.cpp's `tokenizer.ggml.*` keys).
struct GgufTokenizer {
  std::string model;                 // tokenizer.ggml.model: "gpt2" (byte-level BPE)
  std::string pre;                   // tokenizer.ggml.pre: "deepseek-v3", "deepseek-llm", ...
  std::vector<std::string> tokens;   // id → token text (byte-level alphabet, as in tokenizer.json)
  std::vector<int32_t> token_types;  // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  std::vector<std::string> merges;   // "left right", highest priority first
  int bos_id = -1;
  int eos_id = -1;
  int pad_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  std::string chat_template;
};

// Loads every tensor of a deepseek2 GGUF into `store` under HF names: merged expert tensors become
// per-expert views into the mapping (no copy); split attn_k_b/attn_v_b are reassembled into
// kv_b_proj (a kept F32 copy) when attn_kv_b is absent. Checks every tensor the config implies is
// present with the implied shape. Throws Error "[gguf] FILE: ..." on anything wrong.
void load_gguf(WeightStore& store, const std::filesystem::path& file, const LoadProgress& progress,
               ModelConfig* config_out, TokenizerParts* tokenizer_out);

// The model a folder holds as GGUF: its one .gguf file, or the first part when every .gguf in it
// is a part of one split model (NAME-0000i-of-0000n.gguf); nullopt otherwise.
std::optional<std::filesystem::path> gguf_model_in_folder(const std::filesystem::path& dir);

// deepseek2.* metadata → ModelConfig (validated). Where GGUF has no key, the rule is:
// topk_method = noaux_tc when exp_probs_b tensors exist, group_limited_greedy when
// expert_group_count > 1, else greedy; moe_layer_freq = 1 (llama.cpp's assumption);
// rope_scaling.mscale = mscale_all_dim = yarn_log_multiplier / 0.1.
ModelConfig config_from_gguf(const GgufFile& file);
ModelConfig config_from_gguf(const std::filesystem::path& file);

bool gguf_has_tokenizer(const GgufFile& file);
GgufTokenizer tokenizer_from_gguf(const GgufFile& file);
// Copies into the tokenizer engineer's TokenizerParts (engine/weights/gguf_tokenizer_parts.cpp).
void fill_tokenizer_parts(const GgufTokenizer& from, TokenizerParts* to);

}  // namespace mlascope
