// engine/config.h — ModelConfig: every DeepSeek-V2/V3 config.json field that changes the math.
// Field names are the HF config.json keys so a reader can match them one to one.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mlascope {

enum class TopkMethod { Greedy, GroupLimitedGreedy, NoauxTc };
enum class ScoringFunc { Softmax, Sigmoid };

const char* to_string(TopkMethod m);
const char* to_string(ScoringFunc f);

struct RopeScaling {
  bool yarn = false;  // rope_scaling.type == "yarn"; null means plain RoPE
  double factor = 1.0;
  int original_max_position_embeddings = 0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;
};

struct ModelConfig {
  std::string architecture;  // DeepseekV2ForCausalLM / DeepseekV3ForCausalLM
  std::string model_type;    // deepseek_v2 / deepseek_v3
  int vocab_size = 0;
  int hidden_size = 0;
  int intermediate_size = 0;      // dense layers
  int moe_intermediate_size = 0;  // each routed expert; shared = this * n_shared_experts
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // informational: MLA has no KV heads of its own
  int q_lora_rank = 0;          // 0 = null in config.json (q_proj instead of q_a/q_b)
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;
  int n_routed_experts = 0;  // 0 = no MoE layers at all
  int n_shared_experts = 0;
  int num_experts_per_tok = 0;
  TopkMethod topk_method = TopkMethod::Greedy;
  int n_group = 1;
  int topk_group = 1;
  ScoringFunc scoring_func = ScoringFunc::Softmax;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  int first_k_dense_replace = 0;
  int moe_layer_freq = 1;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  int bos_token_id = -1;
  int eos_token_id = -1;
  std::string torch_dtype;  // informational

  // Loads and validates; throws Error "[config] FILE: field 'x' ..." on anything wrong.
  static ModelConfig from_file(const std::filesystem::path& config_json);
  static ModelConfig from_json_text(const std::string& text, const std::string& source_name);
  // Re-checks ranges and cross-field consistency (also used after GGUF metadata mapping).
  void validate(const std::string& source_name) const;

  bool is_v3() const { return model_type == "deepseek_v3"; }
  bool has_q_lora() const { return q_lora_rank > 0; }
  bool is_moe_layer(int layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
  int n_moe_layers() const;
  int qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  int shared_intermediate_size() const { return moe_intermediate_size * n_shared_experts; }

  // softmax_scale = qk_head_dim^-0.5 * m^2, m = 0.1 * mscale_all_dim * ln(factor) + 1 under YaRN.
  double softmax_scale() const;
  // inv_freq per rotary pair j (dims 2j, 2j+1), YaRN-corrected, computed as the reference does in
  // float32. Size qk_rope_head_dim / 2.
  std::vector<float> rope_inv_freq() const;
  // YaRN ramp r[j] (empty without YaRN).
  std::vector<float> yarn_ramp() const;
  // cos/sin multiplier (mscale / mscale_all_dim correction); 1 when mscale == mscale_all_dim.
  double rope_mscale() const;

  // Latent cache numbers per token per layer (absorbed MLA): kv_lora_rank + qk_rope_head_dim.
  int latent_cache_dim() const { return kv_lora_rank + qk_rope_head_dim; }
};

}  // namespace mlascope
