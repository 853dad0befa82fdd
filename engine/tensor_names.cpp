// engine/tensor_names.cpp — GGUF `deepseek2` names (as llama.cpp writes them) onto HF DeepSeek-V2/V3
// names. One table; both directions are derived from it so they cannot drift apart.
#include "tensor_names.h"

#include <charconv>

namespace mlascope {

namespace {

struct NameRule {
  const char* gguf;  // after "blk.N." for layer tensors
  const char* hf;    // after "model.layers.N." for layer tensors
  GgufNameKind kind;
};

constexpr NameRule kModelNames[] = {
    {"token_embd.weight", "model.embed_tokens.weight", GgufNameKind::Plain},
    {"output_norm.weight", "model.norm.weight", GgufNameKind::Plain},
    {"output.weight", "lm_head.weight", GgufNameKind::Plain},
};

constexpr NameRule kLayerNames[] = {
    {"attn_norm.weight", "input_layernorm.weight", GgufNameKind::Plain},
    {"attn_q.weight", "self_attn.q_proj.weight", GgufNameKind::Plain},
    {"attn_q_a.weight", "self_attn.q_a_proj.weight", GgufNameKind::Plain},
    {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight", GgufNameKind::Plain},
    {"attn_q_b.weight", "self_attn.q_b_proj.weight", GgufNameKind::Plain},
    {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight", GgufNameKind::Plain},
    {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight", GgufNameKind::Plain},
    {"attn_kv_b.weight", "self_attn.kv_b_proj.weight", GgufNameKind::Plain},
    {"attn_k_b.weight", "self_attn.kv_b_proj.weight", GgufNameKind::SplitKB},
    {"attn_v_b.weight", "self_attn.kv_b_proj.weight", GgufNameKind::SplitVB},
    {"attn_output.weight", "self_attn.o_proj.weight", GgufNameKind::Plain},
    {"ffn_norm.weight", "post_attention_layernorm.weight", GgufNameKind::Plain},
    {"ffn_gate.weight", "mlp.gate_proj.weight", GgufNameKind::Plain},
    {"ffn_up.weight", "mlp.up_proj.weight", GgufNameKind::Plain},
    {"ffn_down.weight", "mlp.down_proj.weight", GgufNameKind::Plain},
    {"ffn_gate_inp.weight", "mlp.gate.weight", GgufNameKind::Plain},
    {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias", GgufNameKind::Plain},
    {"ffn_gate_exps.weight", "mlp.experts.{E}.gate_proj.weight", GgufNameKind::MergedExperts},
    {"ffn_up_exps.weight", "mlp.experts.{E}.up_proj.weight", GgufNameKind::MergedExperts},
    {"ffn_down_exps.weight", "mlp.experts.{E}.down_proj.weight", GgufNameKind::MergedExperts},
    {"ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight", GgufNameKind::Plain},
    {"ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight", GgufNameKind::Plain},
    {"ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight", GgufNameKind::Plain},
};

constexpr std::string_view kGgufLayer = "blk.";
constexpr std::string_view kHfLayer = "model.layers.";
constexpr int kMaxLayer = 1 << 20;

// Parses "<prefix>N.<rest>" into N and rest; rejects leading zeros and signs so a name maps once.
bool split_layer(std::string_view name, std::string_view prefix, int* layer, std::string_view* rest) {
  if (name.substr(0, prefix.size()) != prefix) return false;
  name.remove_prefix(prefix.size());
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 7) return false;
  if (dot > 1 && name[0] == '0') return false;
  int v = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + dot, v);
  if (ec != std::errc() || p != name.data() + dot || v < 0 || v >= kMaxLayer) return false;
  *layer = v;
  *rest = name.substr(dot + 1);
  return true;
}

std::string replace_expert(std::string_view pattern, const std::string& value) {
  std::string s(pattern);
  const size_t at = s.find("{E}");
  if (at != std::string::npos) s.replace(at, 3, value);
  return s;
}

}  // namespace

std::optional<GgufName> gguf_to_hf(std::string_view name) {
  for (const NameRule& r : kModelNames)
    if (name == r.gguf) return GgufName{r.kind, -1, r.hf};
  int layer = 0;
  std::string_view rest;
  if (!split_layer(name, kGgufLayer, &layer, &rest)) return std::nullopt;
  for (const NameRule& r : kLayerNames)
    if (rest == r.gguf) return GgufName{r.kind, layer, std::string(kHfLayer) + std::to_string(layer) + "." + r.hf};
  return std::nullopt;
}

std::string hf_expert_name(const GgufName& merged, int expert) {
  return replace_expert(merged.hf, std::to_string(expert));
}

std::optional<std::string> hf_to_gguf(std::string_view name, int* expert_out) {
  if (expert_out) *expert_out = -1;
  for (const NameRule& r : kModelNames)
    if (name == r.hf) return std::string(r.gguf);
  int layer = 0;
  std::string_view rest;
  if (!split_layer(name, kHfLayer, &layer, &rest)) return std::nullopt;
  const std::string blk = std::string(kGgufLayer) + std::to_string(layer) + ".";
  // Routed experts: "mlp.experts.E.<proj>.weight" → the merged tensor of that projection.
  constexpr std::string_view kExperts = "mlp.experts.";
  if (rest.substr(0, kExperts.size()) == kExperts) {
    int expert = 0;
    std::string_view proj;
    if (!split_layer(rest, kExperts, &expert, &proj)) return std::nullopt;
    const std::string pattern = "mlp.experts.{E}." + std::string(proj);
    for (const NameRule& r : kLayerNames) {
      if (r.kind == GgufNameKind::MergedExperts && pattern == r.hf) {
        if (expert_out) *expert_out = expert;
        return blk + r.gguf;
      }
    }
    return std::nullopt;
  }
  for (const NameRule& r : kLayerNames)
    if (r.kind == GgufNameKind::Plain && rest == r.hf) return blk + r.gguf;
  return std::nullopt;
}

}  // namespace mlascope

#include "config.h"

namespace mlascope {

bool for_each_hf_tensor(const ModelConfig& c, const HfTensorVisitor& visit) {
  const int64_t D = c.hidden_size, H = c.num_attention_heads;
  const int64_t qk = c.qk_head_dim(), rank = c.kv_lora_rank, rope = c.qk_rope_head_dim;
  if (!visit("model.embed_tokens.weight", {c.vocab_size, D})) return false;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    if (!visit(p + "input_layernorm.weight", {D})) return false;
    if (c.has_q_lora()) {
      if (!visit(p + "self_attn.q_a_proj.weight", {c.q_lora_rank, D})) return false;
      if (!visit(p + "self_attn.q_a_layernorm.weight", {c.q_lora_rank})) return false;
      if (!visit(p + "self_attn.q_b_proj.weight", {H * qk, c.q_lora_rank})) return false;
    } else {
      if (!visit(p + "self_attn.q_proj.weight", {H * qk, D})) return false;
    }
    if (!visit(p + "self_attn.kv_a_proj_with_mqa.weight", {rank + rope, D})) return false;
    if (!visit(p + "self_attn.kv_a_layernorm.weight", {rank})) return false;
    if (!visit(p + "self_attn.kv_b_proj.weight", {H * (c.qk_nope_head_dim + c.v_head_dim), rank})) return false;
    if (!visit(p + "self_attn.o_proj.weight", {D, H * c.v_head_dim})) return false;
    if (!visit(p + "post_attention_layernorm.weight", {D})) return false;
    if (!c.is_moe_layer(l)) {
      const int64_t ff = c.intermediate_size;
      if (!visit(p + "mlp.gate_proj.weight", {ff, D})) return false;
      if (!visit(p + "mlp.up_proj.weight", {ff, D})) return false;
      if (!visit(p + "mlp.down_proj.weight", {D, ff})) return false;
      continue;
    }
    const int64_t ff = c.moe_intermediate_size;
    if (!visit(p + "mlp.gate.weight", {c.n_routed_experts, D})) return false;
    if (c.topk_method == TopkMethod::NoauxTc && !visit(p + "mlp.gate.e_score_correction_bias", {c.n_routed_experts}))
      return false;
    for (int e = 0; e < c.n_routed_experts; ++e) {
      const std::string x = p + "mlp.experts." + std::to_string(e) + ".";
      if (!visit(x + "gate_proj.weight", {ff, D})) return false;
      if (!visit(x + "up_proj.weight", {ff, D})) return false;
      if (!visit(x + "down_proj.weight", {D, ff})) return false;
    }
    if (c.n_shared_experts > 0) {
      const int64_t sff = c.shared_intermediate_size();
      if (!visit(p + "mlp.shared_experts.gate_proj.weight", {sff, D})) return false;
      if (!visit(p + "mlp.shared_experts.up_proj.weight", {sff, D})) return false;
      if (!visit(p + "mlp.shared_experts.down_proj.weight", {D, sff})) return false;
    }
  }
  if (!visit("model.norm.weight", {D})) return false;
  if (!c.tie_word_embeddings && !visit("lm_head.weight", {c.vocab_size, D})) return false;
  return true;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> hf_tensor_shapes(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  for_each_hf_tensor(c, [&](const std::string& name, const std::vector<int64_t>& shape) {
    out.emplace_back(name, shape);
    return true;
  });
  return out;
}

}  // namespace mlascope
