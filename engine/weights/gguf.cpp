// engine/weights/gguf.cpp — deepseek2 GGUF → ModelConfig + WeightStore (HF names) + tokenizer.
// Key names follow llama.cpp's convert_hf_to_gguf.py for DeepseekV2/V3; where GGUF lacks a config
// field the rule used is documented in gguf.h.
#include "gguf.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

#include <spdlog/spdlog.h>

#include "../error.h"
#include "../tensor_names.h"
#include "gguf_export.h"
#include "gguf_file.h"
#include "mapped_file.h"

namespace mlascope {

namespace {

constexpr const char* kArch = "deepseek2";
std::string key(const char* k) { return std::string(kArch) + "." + k; }
constexpr int64_t kMaxDim = 1 << 17;

bool has_any_tensor_suffix(const GgufFile& f, const std::string& suffix) {
  for (const GgufTensorInfo& t : f.tensors())
    if (t.name.size() > suffix.size() && t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  return false;
}

void check_architecture(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  if (arch != kArch)
    f.bad("general.architecture '" + arch + "' is not supported (mlascope runs DeepSeek-V2/V3 files, architecture 'deepseek2')");
}

}  // namespace

std::optional<std::filesystem::path> gguf_model_in_folder(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".gguf") found.push_back(e.path());
  if (found.size() == 1) return found.front();
  if (found.empty()) return std::nullopt;
  std::sort(found.begin(), found.end());
  // NAME-00001-of-0000n.gguf .. NAME-0000n-of-0000n.gguf sort in part order.
  const std::string first = found.front().filename().string();
  if (first.size() <= 20) return std::nullopt;
  const std::string prefix = first.substr(0, first.size() - 20);
  for (size_t i = 0; i < found.size(); ++i) {
    char suffix[48];
    std::snprintf(suffix, sizeof suffix, "-%05zu-of-%05zu.gguf", i + 1, found.size());
    if (found[i].filename().string() != prefix + suffix) return std::nullopt;
  }
  return found.front();
}

ModelConfig config_from_gguf(const std::filesystem::path& path) { return config_from_gguf(GgufFile::open(path)); }

ModelConfig config_from_gguf(const GgufFile& f) {
  check_architecture(f);
  ModelConfig c;
  // V3 exports with multi-token prediction count the MTP layers in block_count; they sit after
  // the decoder layers and are not part of the next-token model.
  const int64_t blocks = f.get_int(key("block_count"), 1, 1024);
  const int64_t nextn = f.get_int(key("nextn_predict_layers"), 0, blocks - 1, 0);
  c.num_hidden_layers = static_cast<int>(blocks - nextn);
  c.hidden_size = static_cast<int>(f.get_int(key("embedding_length"), 1, kMaxDim));
  c.intermediate_size = static_cast<int>(f.get_int(key("feed_forward_length"), 1, 4 * kMaxDim));
  c.num_attention_heads = static_cast<int>(f.get_int(key("attention.head_count"), 1, 4096));
  // MLA-style exports write head_count_kv = 1 (one shared latent); HF keeps num_attention_heads.
  const int64_t kv_heads = f.get_int(key("attention.head_count_kv"), 1, 4096, c.num_attention_heads);
  c.num_key_value_heads = kv_heads == 1 ? c.num_attention_heads : static_cast<int>(kv_heads);
  c.q_lora_rank = static_cast<int>(f.get_int(key("attention.q_lora_rank"), 0, kMaxDim, 0));
  c.kv_lora_rank = static_cast<int>(f.get_int(key("attention.kv_lora_rank"), 1, kMaxDim));
  c.qk_rope_head_dim = static_cast<int>(f.get_int(key("rope.dimension_count"), 0, 4096));
  // Newer llama.cpp exports describe the absorbed MQA view in key_length/value_length
  // (kv_lora_rank + rope, kv_lora_rank) and the per-head sizes in the *_mla keys.
  int64_t qk_head = 0, v_head = 0;
  if (f.find(key("attention.key_length_mla"))) {
    qk_head = f.get_int(key("attention.key_length_mla"), 1, 8192);
    v_head = f.get_int(key("attention.value_length_mla"), 1, 4096);
  } else {
    qk_head = f.get_int(key("attention.key_length"), 1, 8192);
    v_head = f.get_int(key("attention.value_length"), 1, 4096);
  }
  if (qk_head < c.qk_rope_head_dim)
    f.bad("metadata '" + key("attention.key_length") + "' = " + std::to_string(qk_head) + " is smaller than '" +
          key("rope.dimension_count") + "' = " + std::to_string(c.qk_rope_head_dim));
  c.qk_nope_head_dim = static_cast<int>(qk_head - c.qk_rope_head_dim);
  c.v_head_dim = static_cast<int>(v_head);

  c.n_routed_experts = static_cast<int>(f.get_int(key("expert_count"), 0, 65536, 0));
  c.num_experts_per_tok = static_cast<int>(f.get_int(key("expert_used_count"), 0, 1024, 0));
  c.n_shared_experts = static_cast<int>(f.get_int(key("expert_shared_count"), 0, 1024, 0));
  c.moe_intermediate_size = static_cast<int>(f.get_int(key("expert_feed_forward_length"), 0, 4 * kMaxDim, 0));
  c.first_k_dense_replace = static_cast<int>(f.get_int(key("leading_dense_block_count"), 0, 1024, 0));
  c.moe_layer_freq = 1;
  c.routed_scaling_factor = f.get_float(key("expert_weights_scale"), 1e-6, 1e6, 1.0);
  c.norm_topk_prob = f.get_bool(key("expert_weights_norm"), false);
  const int64_t gating = f.get_int(key("expert_gating_func"), 0, 2, 0);  // 0 = unset (V2: softmax)
  c.n_group = static_cast<int>(f.get_int(key("expert_group_count"), 1, 65536, 1));
  c.topk_group = static_cast<int>(f.get_int(key("expert_group_used_count"), 1, 65536, 1));
  const bool has_bias = has_any_tensor_suffix(f, ".exp_probs_b.bias");
  // Without the key, a router bias means V3's sigmoid gate; otherwise V2's softmax.
  c.scoring_func = gating == 2 || (gating == 0 && has_bias) ? ScoringFunc::Sigmoid : ScoringFunc::Softmax;
  c.topk_method = has_bias ? TopkMethod::NoauxTc : c.n_group > 1 ? TopkMethod::GroupLimitedGreedy : TopkMethod::Greedy;
  c.model_type = (has_bias || c.scoring_func == ScoringFunc::Sigmoid) ? "deepseek_v3" : "deepseek_v2";
  c.architecture = c.is_v3() ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM";

  c.rms_norm_eps = f.get_float(key("attention.layer_norm_rms_epsilon"), 1e-12, 1e-1, 1e-6);
  c.rope_theta = f.get_float(key("rope.freq_base"), 1.0, 1e12, 10000.0);
  c.max_position_embeddings = static_cast<int>(f.get_int(key("context_length"), 1, 1 << 24));
  const std::string scaling = f.get_string(key("rope.scaling.type"), "none");
  if (scaling == "yarn") {
    c.rope_scaling.yarn = true;
    c.rope_scaling.factor = f.get_float(key("rope.scaling.factor"), 1.0, 1e6);
    c.rope_scaling.original_max_position_embeddings =
        static_cast<int>(f.get_int(key("rope.scaling.original_context_length"), 1, 1 << 24));
    // convert_hf_to_gguf writes yarn_log_multiplier = 0.1 * mscale_all_dim.
    const double log_mul = f.get_float(key("rope.scaling.yarn_log_multiplier"), 0.0, 100.0, 0.0);
    c.rope_scaling.mscale_all_dim = log_mul / 0.1;
    c.rope_scaling.mscale = c.rope_scaling.mscale_all_dim;
    c.rope_scaling.beta_fast = f.get_float(key("rope.scaling.yarn_beta_fast"), 1e-6, 1e6, 32.0);
    c.rope_scaling.beta_slow = f.get_float(key("rope.scaling.yarn_beta_slow"), 1e-6, 1e6, 1.0);
  } else if (scaling != "none") {
    f.bad("metadata '" + key("rope.scaling.type") + "' = '" + scaling + "' is not supported (none, yarn)");
  }

  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) f.bad("tensor 'token_embd.weight' is missing");
  if (embd->ne.size() != 2) f.bad("tensor 'token_embd.weight' must have 2 dimensions");
  const int64_t vocab_from_tensor = embd->ne[1];
  c.vocab_size = static_cast<int>(f.get_int(key("vocab_size"), 2, 1 << 24, std::min<int64_t>(vocab_from_tensor, 1 << 24)));
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  c.bos_token_id = static_cast<int>(f.get_int("tokenizer.ggml.bos_token_id", 0, c.vocab_size - 1, -1));
  c.eos_token_id = static_cast<int>(f.get_int("tokenizer.ggml.eos_token_id", 0, c.vocab_size - 1, -1));
  c.torch_dtype = "gguf";
  c.validate(f.display_name());
  return c;
}

bool gguf_has_tokenizer(const GgufFile& f) { return f.find("tokenizer.ggml.tokens") != nullptr; }

GgufTokenizer tokenizer_from_gguf(const GgufFile& f) {
  GgufTokenizer t;
  t.model = f.get_string("tokenizer.ggml.model");
  if (t.model != "gpt2")
    f.bad("metadata 'tokenizer.ggml.model' = '" + t.model + "' is not supported (DeepSeek uses 'gpt2' byte-level BPE)");
  t.pre = f.get_string("tokenizer.ggml.pre", "default");
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  if (!tokens || tokens->type != GgufType::Array || tokens->elem_type != GgufType::String || tokens->strings.empty())
    f.bad("metadata 'tokenizer.ggml.tokens' must be a non-empty array of strings");
  t.tokens = tokens->strings;
  const int64_t n = static_cast<int64_t>(t.tokens.size());
  if (const GgufValue* types = f.find("tokenizer.ggml.token_type")) {
    if (types->type != GgufType::Array || types->elem_type == GgufType::String ||
        types->numbers.size() != t.tokens.size())
      f.bad("metadata 'tokenizer.ggml.token_type' must be an integer array with one entry per token (" +
            std::to_string(n) + ")");
    t.token_types.reserve(types->numbers.size());
    for (double v : types->numbers) {
      if (v < 0 || v > 6 || v != std::floor(v)) f.bad("metadata 'tokenizer.ggml.token_type' holds an unknown type");
      t.token_types.push_back(static_cast<int32_t>(v));
    }
  } else {
    t.token_types.assign(t.tokens.size(), 1);
  }
  if (const GgufValue* merges = f.find("tokenizer.ggml.merges")) {
    if (merges->type != GgufType::Array || merges->elem_type != GgufType::String)
      f.bad("metadata 'tokenizer.ggml.merges' must be an array of strings");
    for (const std::string& m : merges->strings) {
      const size_t sp = m.find(' ');
      // Exactly one space: the byte-level alphabet has none of its own (fill_tokenizer_parts splits there).
      if (sp == std::string::npos || sp == 0 || sp + 1 == m.size() || m.find(' ', sp + 1) != std::string::npos)
        f.bad("metadata 'tokenizer.ggml.merges' entry '" + m.substr(0, 40) + "' is not 'left right'");
    }
    t.merges = merges->strings;
  }
  t.bos_id = static_cast<int>(f.get_int("tokenizer.ggml.bos_token_id", 0, n - 1, -1));
  t.eos_id = static_cast<int>(f.get_int("tokenizer.ggml.eos_token_id", 0, n - 1, -1));
  t.pad_id = static_cast<int>(f.get_int("tokenizer.ggml.padding_token_id", 0, n - 1, -1));
  t.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", t.bos_id >= 0);
  t.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", false);
  t.chat_template = f.get_string("tokenizer.chat_template", "");
  return t;
}

namespace {

// kv_b_proj [H*(nope+v), rank] from llama.cpp's split form: attn_k_b holds k_b transposed per head
// (row-major [H, rank, nope]), attn_v_b holds v_b ([H, v, rank]). Plain types keep their dtype;
// block types become F32 (a copy either way: the split layout cannot be viewed as kv_b).
TensorView rebuild_kv_b(WeightStore& store, const GgufFile& f, const ModelConfig& c, const std::string& hf_name,
                        const GgufTensorInfo& kb, const GgufTensorInfo& vb) {
  const int64_t H = c.num_attention_heads, rank = c.kv_lora_rank, nope = c.qk_nope_head_dim, v = c.v_head_dim;
  const std::vector<int64_t> want_kb = {H, rank, nope}, want_vb = {H, v, rank};
  auto check = [&](const GgufTensorInfo& t, const std::vector<int64_t>& want) {
    if (t.shape() != want) {
      TensorView a, b;
      a.shape = t.shape();
      b.shape = want;
      f.bad("tensor '" + t.name + "' has shape " + a.shape_string() + " but the metadata implies " + b.shape_string());
    }
  };
  check(kb, want_kb);
  check(vb, want_vb);
  TensorView t;
  t.name = hf_name;
  t.shape = {H * (nope + v), rank};
  const bool plain = kb.dtype == vb.dtype && (kb.dtype == DType::F32 || kb.dtype == DType::F16 || kb.dtype == DType::BF16);
  if (plain) {
    // Same stored type: transpose k_b back element by element, no conversion, no precision change.
    const size_t es = static_cast<size_t>(dtype_block_bytes(kb.dtype));
    const uint8_t* k = f.tensor_data(kb);
    const uint8_t* vv = f.tensor_data(vb);
    std::vector<uint8_t> bytes(static_cast<size_t>(H * (nope + v) * rank) * es);
    for (int64_t h = 0; h < H; ++h) {
      uint8_t* head = bytes.data() + static_cast<size_t>(h * (nope + v) * rank) * es;
      for (int64_t i = 0; i < nope; ++i)
        for (int64_t r = 0; r < rank; ++r)
          std::memcpy(head + static_cast<size_t>(i * rank + r) * es, k + static_cast<size_t>((h * rank + r) * nope + i) * es, es);
      std::memcpy(head + static_cast<size_t>(nope * rank) * es, vv + static_cast<size_t>(h * v * rank) * es,
                  static_cast<size_t>(v * rank) * es);
    }
    t.dtype = kb.dtype;
    t.nbytes = bytes.size();
    t.data = store.keep(std::move(bytes));
    return t;
  }
  // Block-quantized halves (k_b rows are only nope long): dequantize into an F32 copy.
  auto as_f32 = [&](const GgufTensorInfo& x) {
    TensorView tv;
    tv.name = x.name;
    tv.dtype = x.dtype;
    tv.shape = {x.ne.at(2) * x.ne.at(1), x.ne.at(0)};
    tv.data = f.tensor_data(x);
    tv.nbytes = x.nbytes;
    return tv.to_f32();
  };
  const std::vector<float> k = as_f32(kb), vv = as_f32(vb);
  std::vector<uint8_t> bytes(static_cast<size_t>(H * (nope + v) * rank) * sizeof(float));
  auto* out = reinterpret_cast<float*>(bytes.data());
  for (int64_t h = 0; h < H; ++h) {
    float* head = out + h * (nope + v) * rank;
    for (int64_t i = 0; i < nope; ++i)
      for (int64_t r = 0; r < rank; ++r) head[i * rank + r] = k[static_cast<size_t>((h * rank + r) * nope + i)];
    std::memcpy(head + nope * rank, vv.data() + h * v * rank, static_cast<size_t>(v * rank) * sizeof(float));
  }
  t.dtype = DType::F32;
  t.nbytes = bytes.size();
  t.data = store.keep(std::move(bytes));
  return t;
}

}  // namespace

void load_gguf(WeightStore& store, const std::filesystem::path& path, const LoadProgress& progress,
               ModelConfig* config_out, TokenizerParts* tokenizer_out) {
  MapOptions mo;
  mo.weights = true;
  mo.on_read = progress;
  const GgufFile f = GgufFile::open_weights(path, mo);
  const ModelConfig c = config_from_gguf(f);
  if (const std::string n = llama_cpp_routing_notice(c); !n.empty()) {  // see gguf_export.h
    if (auto log = spdlog::get("engine")) log->warn("note: {}: {}", f.display_name(), n);
    else spdlog::warn("note: {}: {}", f.display_name(), n);
  }
  // One store file per part of a split model, so every tensor keeps its own file for messages.
  std::vector<int> file_of_part;
  bool read_reported = true;  // the read already went 0..100 %
  for (size_t p = 0; p < f.n_parts(); ++p) {
    file_of_part.push_back(store.add_file(f.mapped(p), f.part_name(p)));
    read_reported = read_reported && f.mapped(p)->resident();
  }

  uint64_t total = 0, done = 0;
  for (const GgufTensorInfo& t : f.tensors()) total += t.nbytes;
  struct SplitPair {
    const GgufTensorInfo* kb = nullptr;
    const GgufTensorInfo* vb = nullptr;
    std::string hf;
  };
  std::map<int, SplitPair> split;
  int skipped = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    done += t.nbytes;
    if (progress && !read_reported) progress(done, total);
    const std::optional<GgufName> m = gguf_to_hf(t.name);
    if (!m) {
      // Extra tensors (e.g. DeepSeek-V3's multi-token-prediction layers) do not change the math.
      // The name is the file's bytes: printed escaped and cut, like an error line.
      const std::string shown = printable_line(t.name, 120);
      spdlog::get("engine") ? spdlog::get("engine")->warn("[gguf] {}: ignoring unknown tensor '{}'", f.display_name(), shown)
                            : spdlog::warn("[gguf] {}: ignoring unknown tensor '{}'", f.display_name(), shown);
      ++skipped;
      continue;
    }
    if (m->layer >= c.num_hidden_layers) {
      ++skipped;  // MTP layers sit past block_count in V3 exports
      continue;
    }
    TensorView v;
    v.dtype = t.dtype;
    v.shape = t.shape();
    v.data = f.tensor_data(t);
    v.nbytes = t.nbytes;
    const int fi = file_of_part[t.part];
    switch (m->kind) {
      case GgufNameKind::Plain:
        v.name = m->hf;
        store.add(std::move(v), fi);
        break;
      case GgufNameKind::MergedExperts: {
        if (t.ne.size() != 3) f.bad("tensor '" + t.name + "' must have 3 dimensions [experts, rows, cols]");
        const int64_t E = t.ne[2];
        if (E != c.n_routed_experts)
          f.bad("tensor '" + t.name + "' holds " + std::to_string(E) + " experts but '" + key("expert_count") +
                "' = " + std::to_string(c.n_routed_experts));
        // Each expert view must hold bytes: then the views a file can make are bounded by its size
        // (an empty [65536, 0, 0] tensor would otherwise make 65536 views from 30 bytes of header).
        if (t.nbytes == 0 || t.nbytes % static_cast<uint64_t>(E) != 0)
          f.bad("tensor '" + t.name + "' of " + std::to_string(t.nbytes) + " bytes cannot be split into " +
                std::to_string(E) + " non-empty experts");
        const uint64_t per_expert = t.nbytes / static_cast<uint64_t>(E);
        for (int64_t e = 0; e < E; ++e) {
          TensorView x;
          x.name = hf_expert_name(*m, static_cast<int>(e));
          x.dtype = t.dtype;
          x.shape = {t.ne[1], t.ne[0]};  // [rows, cols] of one expert: [ff, hidden] or [hidden, ff]
          x.data = f.tensor_data(t) + e * per_expert;
          x.nbytes = per_expert;
          store.add(std::move(x), fi);
        }
        break;
      }
      case GgufNameKind::SplitKB: split[m->layer].kb = &t; split[m->layer].hf = m->hf; break;
      case GgufNameKind::SplitVB: split[m->layer].vb = &t; split[m->layer].hf = m->hf; break;
    }
  }
  for (auto& [layer, s] : split) {
    if (store.find(s.hf)) continue;  // attn_kv_b is present: the split copies are redundant
    if (!s.kb || !s.vb)
      f.bad("layer " + std::to_string(layer) + " has only one of attn_k_b / attn_v_b and no attn_kv_b");
    store.add(rebuild_kv_b(store, f, c, s.hf, *s.kb, *s.vb), file_of_part[s.kb->part]);
    // Block-quantized halves also stay as the file has them, for absorbed attention: q_lat = k_b q_nope
    // and out = v_b o_lat are plain products with their rows (llama.cpp reads them so), a quarter
    // of the bytes of the F32 kv_b copy at Q8_0 (V2-Lite: 2.2 vs 8.4 MB per layer per token).
    const bool plain = s.kb->dtype == s.vb->dtype &&
                       (s.kb->dtype == DType::F32 || s.kb->dtype == DType::F16 || s.kb->dtype == DType::BF16);
    if (!plain) {
      const std::string stem = s.hf.substr(0, s.hf.size() - std::string("kv_b_proj.weight").size());
      const int64_t H = c.num_attention_heads, rank = c.kv_lora_rank;
      auto view = [&](const GgufTensorInfo& x, const std::string& name, std::vector<int64_t> shape) {
        TensorView t;
        t.name = name;
        t.dtype = x.dtype;
        t.shape = std::move(shape);
        t.data = f.tensor_data(x);
        t.nbytes = x.nbytes;
        store.add(std::move(t), file_of_part[x.part]);
      };
      view(*s.kb, stem + "k_b_proj.weight", {H * rank, c.qk_nope_head_dim});
      view(*s.vb, stem + "v_b_proj.weight", {H * c.v_head_dim, rank});
    }
  }
  // Every tensor the metadata implies, with the implied shape: a mismatch is named here, at load.
  // Visited one by one: the store holds at most what the file could describe, so a file whose
  // metadata implies far more tensors stops at its first missing one without listing them all.
  for_each_hf_tensor(c, [&](const std::string& name, const std::vector<int64_t>& shape) {
    const TensorView* t = store.find(name);
    if (!t) {
      int expert = -1;
      const std::optional<std::string> g = hf_to_gguf(name, &expert);
      f.bad("tensor '" + g.value_or(name) + "' (" + name + ") is missing");
    }
    if (t->shape != shape) {
      TensorView want;
      want.shape = shape;
      f.bad("tensor '" + hf_to_gguf(name).value_or(name) + "' (" + name + ") has shape " + t->shape_string() +
            " but the metadata implies " + want.shape_string());
    }
    return true;
  });
  (void)skipped;
  if (config_out) *config_out = c;
  if (tokenizer_out) {
    if (!gguf_has_tokenizer(f)) f.bad("the file carries no tokenizer (metadata 'tokenizer.ggml.tokens' is missing)");
    fill_tokenizer_parts(tokenizer_from_gguf(f), tokenizer_out);
  }
}

}  // namespace mlascope
