// engine/weights/gguf_export.cpp — WeightStore (HF names) → deepseek2 GGUF.
#include "gguf_export.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "../error.h"
#include "../tensor_names.h"
#include "gguf_file.h"
#include "gguf_writer.h"
#include "quant.h"

namespace mlascope {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

uint32_t file_type_of(DType t) {  // llama.cpp's general.file_type (LLAMA_FTYPE_*)
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q4_1: return 3;
    case DType::Q8_0: return 7;
    case DType::Q5_0: return 8;
    case DType::Q5_1: return 9;
    case DType::Q4_K: return 15;  // Q4_K_M
    case DType::Q5_K: return 17;  // Q5_K_M
    case DType::Q6_K: return 18;
    case DType::BF16: return 32;
    default: return 0;
  }
}

// Rows of `src` (any stored type) converted to `to`, written contiguously at dst.
void convert_rows(const TensorView& src, DType to, uint8_t* dst) {
  const int64_t cols = src.cols();
  const int64_t rows = src.numel() / cols;
  TensorView flat = src;
  flat.shape = {rows, cols};
  std::vector<float> row(static_cast<size_t>(cols));
  const size_t row_bytes = dtype_bytes(to, static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    flat.row_to_f32(r, row.data());
    quantize_row(to, row.data(), dst + r * row_bytes, cols);
  }
}

void write_metadata(GgufWriter& w, const ModelConfig& c, const GgufExportOptions& o) {
  auto k = [](const char* s) { return std::string("deepseek2.") + s; };
  w.set_string("general.architecture", "deepseek2");
  w.set_string("general.name", o.name);
  w.set_u32("general.file_type", o.mix == GgufMix::KM ? (o.type == DType::Q5_K ? 17u : 15u) : file_type_of(o.type));
  w.set_u32(k("context_length"), static_cast<uint32_t>(c.max_position_embeddings));
  w.set_u32(k("embedding_length"), static_cast<uint32_t>(c.hidden_size));
  w.set_u32(k("feed_forward_length"), static_cast<uint32_t>(c.intermediate_size));
  w.set_u32(k("block_count"), static_cast<uint32_t>(c.num_hidden_layers));
  w.set_u32(k("attention.head_count"), static_cast<uint32_t>(c.num_attention_heads));
  w.set_u32(k("attention.head_count_kv"), 1);  // MLA as MQA over the latent, as llama.cpp writes it
  w.set_f32(k("rope.freq_base"), static_cast<float>(c.rope_theta));
  w.set_f32(k("attention.layer_norm_rms_epsilon"), static_cast<float>(c.rms_norm_eps));
  w.set_u32(k("vocab_size"), static_cast<uint32_t>(c.vocab_size));
  // A null q_lora_rank (V2-Lite: q_proj, no q_a/q_b) is written as 0: llama.cpp reads the key for
  // every layer count but 26/27 and takes 0 as "no query compression".
  w.set_u32(k("attention.q_lora_rank"), static_cast<uint32_t>(std::max(0, c.q_lora_rank)));
  w.set_u32(k("attention.kv_lora_rank"), static_cast<uint32_t>(c.kv_lora_rank));
  if (o.split_kv_b) {
    // llama.cpp's MLA form: key/value_length describe the absorbed MQA view over the latent, the
    // *_mla keys the per-head sizes; their presence is what makes it expect attn_k_b / attn_v_b.
    w.set_u32(k("attention.key_length"), static_cast<uint32_t>(c.kv_lora_rank + c.qk_rope_head_dim));
    w.set_u32(k("attention.value_length"), static_cast<uint32_t>(c.kv_lora_rank));
    w.set_u32(k("attention.key_length_mla"), static_cast<uint32_t>(c.qk_head_dim()));
    w.set_u32(k("attention.value_length_mla"), static_cast<uint32_t>(c.v_head_dim));
  } else {
    // Whole attn_kv_b only: the per-head sizes in key/value_length and no *_mla keys, the layout
    // llama.cpp reads as a non-MLA (expanded K/V) DeepSeek file.
    w.set_u32(k("attention.key_length"), static_cast<uint32_t>(c.qk_head_dim()));
    w.set_u32(k("attention.value_length"), static_cast<uint32_t>(c.v_head_dim));
  }
  w.set_u32(k("rope.dimension_count"), static_cast<uint32_t>(c.qk_rope_head_dim));
  w.set_u32(k("leading_dense_block_count"), static_cast<uint32_t>(c.first_k_dense_replace));
  if (c.n_routed_experts > 0) {
    w.set_u32(k("expert_count"), static_cast<uint32_t>(c.n_routed_experts));
    w.set_u32(k("expert_used_count"), static_cast<uint32_t>(c.num_experts_per_tok));
    w.set_u32(k("expert_shared_count"), static_cast<uint32_t>(c.n_shared_experts));
    w.set_u32(k("expert_feed_forward_length"), static_cast<uint32_t>(c.moe_intermediate_size));
    w.set_f32(k("expert_weights_scale"), static_cast<float>(c.routed_scaling_factor));
    w.set_bool(k("expert_weights_norm"), c.norm_topk_prob);
    w.set_u32(k("expert_gating_func"), c.scoring_func == ScoringFunc::Sigmoid ? 2 : 1);
    if (c.topk_method != TopkMethod::Greedy) {
      w.set_u32(k("expert_group_count"), static_cast<uint32_t>(c.n_group));
      w.set_u32(k("expert_group_used_count"), static_cast<uint32_t>(c.topk_group));
    }
  }
  if (c.rope_scaling.yarn) {
    w.set_string(k("rope.scaling.type"), "yarn");
    w.set_f32(k("rope.scaling.factor"), static_cast<float>(c.rope_scaling.factor));
    w.set_u32(k("rope.scaling.original_context_length"),
              static_cast<uint32_t>(c.rope_scaling.original_max_position_embeddings));
    w.set_f32(k("rope.scaling.yarn_log_multiplier"), static_cast<float>(0.1 * c.rope_scaling.mscale_all_dim));
    w.set_f32(k("rope.scaling.yarn_beta_fast"), static_cast<float>(c.rope_scaling.beta_fast));
    w.set_f32(k("rope.scaling.yarn_beta_slow"), static_cast<float>(c.rope_scaling.beta_slow));
  }
  if (!o.tokenizer) {  // the ids still belong to the model, with or without a vocabulary
    w.set_string("tokenizer.ggml.model", "none");  // llama.cpp then loads the model without a vocab
    if (c.bos_token_id >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.bos_token_id));
    if (c.eos_token_id >= 0) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_token_id));
  }
  if (const GgufTokenizer* t = o.tokenizer) {
    w.set_string("tokenizer.ggml.model", t->model.empty() ? "gpt2" : t->model);
    w.set_string("tokenizer.ggml.pre", t->pre);
    w.set_strings("tokenizer.ggml.tokens", t->tokens);
    w.set_i32s("tokenizer.ggml.token_type", t->token_types);
    w.set_strings("tokenizer.ggml.merges", t->merges);
    if (t->bos_id >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(t->bos_id));
    if (t->eos_id >= 0) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(t->eos_id));
    if (t->pad_id >= 0) w.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(t->pad_id));
    w.set_bool("tokenizer.ggml.add_bos_token", t->add_bos);
    w.set_bool("tokenizer.ggml.add_eos_token", t->add_eos);
    if (!t->chat_template.empty()) w.set_string("tokenizer.chat_template", t->chat_template);
  }
}

}  // namespace

DType gguf_export_type(const std::string& name, const std::vector<int64_t>& shape, DType type) {
  if (shape.size() < 2 || ends_with(name, "mlp.gate.weight") || ends_with(name, "e_score_correction_bias"))
    return DType::F32;
  const int64_t cols = shape.back();
  if (cols % dtype_block_elems(type) == 0) return type;
  // llama-quantize's fallbacks for a row that is not a whole number of 256-value super-blocks
  const DType fallback = type == DType::Q4_K ? DType::Q5_0
                         : type == DType::Q5_K ? DType::Q5_1
                         : type == DType::Q6_K ? DType::Q8_0
                                               : DType::Q8_0;
  if (dtype_block_elems(type) > 32 && cols % dtype_block_elems(fallback) == 0) return fallback;
  return DType::F16;
}

DType gguf_export_type(const std::string& hf_name, const std::string& gguf_name, const std::vector<int64_t>& shape,
                       DType type, GgufMix mix, int n_layers) {
  DType want = type;
  if (mix == GgufMix::KM && shape.size() >= 2) {
    // use_more_bits in llama-quant.cpp: the first and last eighth of the layers and every third between
    auto more_bits = [n_layers](int i) { return i < n_layers / 8 || i >= 7 * n_layers / 8 || (i - n_layers / 8) % 3 == 2; };
    int layer = -1;
    if (gguf_name.rfind("blk.", 0) == 0) layer = std::atoi(gguf_name.c_str() + 4);
    if (gguf_name == "output.weight")
      want = shape.back() % dtype_block_elems(type) == 0 ? DType::Q6_K : DType::Q8_0;
    else if (layer >= 0 && (gguf_name.find("ffn_down") != std::string::npos ||
                            gguf_name.find("attn_kv_b.weight") != std::string::npos) && more_bits(layer))
      want = DType::Q6_K;
  }
  return gguf_export_type(hf_name, shape, want);
}

void export_gguf(const WeightStore& store, const ModelConfig& c, const std::filesystem::path& out,
                 const GgufExportOptions& o) {
  for (const auto& [name, shape] : hf_tensor_shapes(c)) store.expect(name, shape);  // fail before writing
  export_gguf([&store](const std::string& name, const std::vector<int64_t>& shape,
                       std::vector<uint8_t>&) { return store.expect(name, shape); },
              c, out, o);
}

void export_gguf(const ExportTensorSource& source, const ModelConfig& c, const std::filesystem::path& out,
                 const GgufExportOptions& o) {
  if (c.moe_layer_freq != 1)
    fail("gguf", out.string(), "moe_layer_freq = " + std::to_string(c.moe_layer_freq) + " has no GGUF representation (deepseek2 assumes 1)");
  switch (o.type) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_0: case DType::Q4_1:
    case DType::Q5_0: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: break;
    default: fail("gguf", out.string(), std::string("cannot export to type ") + to_string(o.type));
  }
  if (!o.whole_kv_b && !o.split_kv_b) fail("gguf", out.string(), "kv_b_proj must be written whole, split or both");
  GgufWriter w;
  write_metadata(w, c, o);
  const int64_t H = c.num_attention_heads, rank = c.kv_lora_rank, nope = c.qk_nope_head_dim, vdim = c.v_head_dim;
  for (const auto& entry : hf_tensor_shapes(c)) {
    // Not a structured binding: clang 14 (the fuzz and sanitizer builds) cannot capture one in a lambda.
    const std::string& name = entry.first;
    const std::vector<int64_t>& shape = entry.second;
    int expert = -1;
    const std::optional<std::string> g = hf_to_gguf(name, &expert);
    if (!g) fail("gguf", out.string(), "tensor '" + name + "' has no GGUF name");
    if (expert > 0) continue;  // written with expert 0, as one merged tensor
    if (expert == 0) {
      const std::string pattern = name.substr(0, name.find(".experts.") + 9);  // "...mlp.experts."
      const std::string proj = name.substr(name.find(".experts.0.") + 11);
      const DType to = gguf_export_type(name, *g, shape, o.type, o.mix, c.num_hidden_layers);
      const size_t per = dtype_bytes(to, static_cast<size_t>(shape[0] * shape[1]));
      const int n_experts = c.n_routed_experts;
      w.add_tensor(*g, to, {n_experts, shape[0], shape[1]}, [&source, pattern, proj, shape, to, per, n_experts](uint8_t* dst) {
        std::vector<uint8_t> storage;
        for (int e = 0; e < n_experts; ++e)
          convert_rows(source(pattern + std::to_string(e) + "." + proj, shape, storage), to, dst + static_cast<size_t>(e) * per);
      });
      continue;
    }
    const DType to = gguf_export_type(name, *g, shape, o.type, o.mix, c.num_hidden_layers);
    const bool kv_b = ends_with(name, "kv_b_proj.weight");
    auto fetch = [&source, name, shape](std::vector<uint8_t>& storage) { return source(name, shape, storage); };
    if (!kv_b || o.whole_kv_b)
      w.add_tensor(*g, to, shape, [fetch, to](uint8_t* dst) {
        std::vector<uint8_t> storage;
        convert_rows(fetch(storage), to, dst);
      });
    if (kv_b && o.split_kv_b) {
      // The split form llama.cpp's MLA path reads: k_b [H, rank, nope] (each head's k part
      // transposed) and v_b [H, v, rank].
      const std::string blk = g->substr(0, g->size() - std::string("attn_kv_b.weight").size());
      const DType tk = gguf_export_type(name, blk + "attn_k_b.weight", {H * rank, nope}, o.type, o.mix, c.num_hidden_layers);
      const DType tv = gguf_export_type(name, blk + "attn_v_b.weight", {H * vdim, rank}, o.type, o.mix, c.num_hidden_layers);
      w.add_tensor(blk + "attn_k_b.weight", tk, {H, rank, nope}, [fetch, tk, H, rank, nope, vdim](uint8_t* dst) {
        std::vector<uint8_t> storage;
        const std::vector<float> kv = fetch(storage).to_f32();
        std::vector<float> kb(static_cast<size_t>(H * rank * nope));
        for (int64_t h = 0; h < H; ++h)
          for (int64_t i = 0; i < nope; ++i)
            for (int64_t r = 0; r < rank; ++r) kb[(h * rank + r) * nope + i] = kv[(h * (nope + vdim) + i) * rank + r];
        TensorView v;
        v.dtype = DType::F32;
        v.shape = {H * rank, nope};
        v.data = kb.data();
        convert_rows(v, tk, dst);
      });
      w.add_tensor(blk + "attn_v_b.weight", tv, {H, vdim, rank}, [fetch, tv, H, rank, nope, vdim](uint8_t* dst) {
        std::vector<uint8_t> storage;
        const std::vector<float> kv = fetch(storage).to_f32();
        std::vector<float> vb(static_cast<size_t>(H * vdim * rank));
        for (int64_t h = 0; h < H; ++h)
          std::memcpy(vb.data() + h * vdim * rank, kv.data() + (h * (nope + vdim) + nope) * rank,
                      static_cast<size_t>(vdim * rank) * sizeof(float));
        TensorView v;
        v.dtype = DType::F32;
        v.shape = {H * vdim, rank};
        v.data = vb.data();
        convert_rows(v, tv, dst);
      });
    }
  }
  w.write(out, o.progress);
}

std::string llama_cpp_routing_notice(const ModelConfig& c) {
  if (c.topk_method != TopkMethod::GroupLimitedGreedy || c.n_group <= 1) return {};
  return "group-limited routing (n_group " + std::to_string(c.n_group) + ", topk_group " + std::to_string(c.topk_group) +
         "): mlascope ranks expert groups by their best score, as DeepSeek-V2's reference code "
         "(group_limited_greedy); llama.cpp ranks them by the sum of each group's top-2 scores, so the two can "
         "route some tokens to different experts";
}

namespace {
using json = nlohmann::json;

json read_json_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) fail("tokenizer", p.string(), "cannot open file");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    fail("tokenizer", p.string(), std::string("malformed JSON: ") + e.what());
  }
}

std::string token_text(const json& v) {  // tokenizer_config.json writes tokens as strings or {content}
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}
}  // namespace

GgufTokenizer gguf_tokenizer_from_hf(const std::filesystem::path& dir, const ModelConfig& c) {
  const std::filesystem::path tj = dir / "tokenizer.json";
  const std::string src = tj.string();
  const json j = read_json_file(tj);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) fail("tokenizer", src, "field 'model' is missing");
  const json& m = j["model"];
  if (m.value("type", std::string("BPE")) != "BPE") fail("tokenizer", src, "field 'model.type' must be BPE");
  if (!m.contains("vocab") || !m["vocab"].is_object()) fail("tokenizer", src, "field 'model.vocab' must be an object");
  GgufTokenizer t;
  t.model = "gpt2";
  t.pre = c.is_v3() ? "deepseek-v3" : "deepseek-llm";
  std::map<int64_t, std::string> by_id;
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    if (!it.value().is_number_integer()) fail("tokenizer", src, "field 'model.vocab' maps '" + it.key() + "' to a non-integer");
    by_id[it.value().get<int64_t>()] = it.key();
  }
  std::map<int64_t, int32_t> types;
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const json& a : j["added_tokens"]) {
      if (!a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") || !a["content"].is_string())
        fail("tokenizer", src, "field 'added_tokens' holds an entry without id/content");
      const int64_t id = a["id"].get<int64_t>();
      by_id[id] = a["content"].get<std::string>();
      types[id] = a.value("special", false) ? 3 : 4;
    }
  const int64_t n = by_id.empty() ? 0 : by_id.rbegin()->first + 1;
  if (by_id.empty() || by_id.begin()->first < 0 || n > (1 << 24)) fail("tokenizer", src, "token ids must run from 0 to below 2^24");
  // GGUF needs a dense id range; holes (none in DeepSeek vocabularies) become unused placeholders.
  t.tokens.resize(static_cast<size_t>(std::max<int64_t>(n, c.vocab_size)));
  t.token_types.assign(t.tokens.size(), 1);
  for (size_t i = 0; i < t.tokens.size(); ++i)
    if (!by_id.count(static_cast<int64_t>(i))) {
      t.tokens[i] = "[PAD" + std::to_string(i) + "]";
      t.token_types[i] = 5;
    }
  for (const auto& [id, text] : by_id) t.tokens[static_cast<size_t>(id)] = text;
  for (const auto& [id, type] : types) t.token_types[static_cast<size_t>(id)] = type;
  if (m.contains("merges") && m["merges"].is_array())
    for (const json& mg : m["merges"]) {
      if (mg.is_string()) t.merges.push_back(mg.get<std::string>());
      else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string())
        t.merges.push_back(mg[0].get<std::string>() + " " + mg[1].get<std::string>());
      else fail("tokenizer", src, "field 'model.merges' holds an entry that is neither 'a b' nor [a, b]");
    }
  t.bos_id = c.bos_token_id;
  t.eos_id = c.eos_token_id;
  t.add_bos = true;
  const std::filesystem::path tc = dir / "tokenizer_config.json";
  if (std::filesystem::exists(tc)) {
    const json cfg = read_json_file(tc);
    auto id_of = [&](const json& v) -> int {
      const std::string s = token_text(v);
      for (size_t i = 0; i < t.tokens.size(); ++i)
        if (!s.empty() && t.tokens[i] == s) return static_cast<int>(i);
      return -1;
    };
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) t.add_bos = cfg["add_bos_token"].get<bool>();
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean()) t.add_eos = cfg["add_eos_token"].get<bool>();
    if (cfg.contains("chat_template") && cfg["chat_template"].is_string()) t.chat_template = cfg["chat_template"].get<std::string>();
    if (cfg.contains("bos_token") && id_of(cfg["bos_token"]) >= 0) t.bos_id = id_of(cfg["bos_token"]);
    if (cfg.contains("eos_token") && id_of(cfg["eos_token"]) >= 0) t.eos_id = id_of(cfg["eos_token"]);
    if (cfg.contains("pad_token") && id_of(cfg["pad_token"]) >= 0) t.pad_id = id_of(cfg["pad_token"]);
  }
  return t;
}

}  // namespace mlascope
