// engine/config.cpp — parse and validate config.json into ModelConfig.
// Every check names the file and the field so a user can fix the file.
#include "config.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "error.h"
#include "json_limits.h"

namespace mlascope {

using json = nlohmann::json;

const char* to_string(TopkMethod m) {
  switch (m) {
    case TopkMethod::Greedy: return "greedy";
    case TopkMethod::GroupLimitedGreedy: return "group_limited_greedy";
    case TopkMethod::NoauxTc: return "noaux_tc";
  }
  return "?";
}

const char* to_string(ScoringFunc f) { return f == ScoringFunc::Softmax ? "softmax" : "sigmoid"; }

namespace {

struct Reader {
  const json& j;
  const std::string& src;

  [[noreturn]] void bad(const std::string& field, const std::string& what) const {
    fail("config", src, "field '" + field + "' " + what);
  }
  bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }

  long long integer(const char* k, long long lo, long long hi, std::optional<long long> def = {}) const {
    if (!has(k)) {
      if (def) return *def;
      bad(k, "is missing");
    }
    const json& v = j[k];
    long long x = 0;
    if (v.is_number_integer() || v.is_number_unsigned()) {
      x = v.get<long long>();
    } else if (v.is_number_float()) {
      double d = v.get<double>();
      if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) bad(k, "must be an integer");
      x = static_cast<long long>(d);
    } else {
      bad(k, "must be an integer, got " + std::string(v.type_name()));
    }
    if (x < lo || x > hi)
      bad(k, "= " + std::to_string(x) + " is outside the supported range [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + "]");
    return x;
  }
  double number(const char* k, double lo, double hi, std::optional<double> def = {}) const {
    if (!has(k)) {
      if (def) return *def;
      bad(k, "is missing");
    }
    const json& v = j[k];
    if (!v.is_number()) bad(k, "must be a number, got " + std::string(v.type_name()));
    double d = v.get<double>();
    if (!std::isfinite(d)) bad(k, "is not finite");
    if (d < lo || d > hi) {
      std::ostringstream s;
      s << "= " << d << " is outside the supported range [" << lo << ", " << hi << "]";
      bad(k, s.str());
    }
    return d;
  }
  bool boolean(const char* k, bool def) const {
    if (!has(k)) return def;
    if (!j[k].is_boolean()) bad(k, "must be true or false");
    return j[k].get<bool>();
  }
  std::string string(const char* k, const std::string& def) const {
    if (!has(k)) return def;
    if (!j[k].is_string()) bad(k, "must be a string");
    return j[k].get<std::string>();
  }
};

// bos/eos may be an int or a list of ints (generation configs); we keep the first.
int token_id(const Reader& r, const char* k) {
  if (!r.has(k)) return -1;
  const json& v = r.j[k];
  if (v.is_array()) {
    if (v.empty() || !v[0].is_number_integer()) r.bad(k, "must be an integer or a list of integers");
    return v[0].get<int>();
  }
  return static_cast<int>(r.integer(k, 0, 1LL << 31));
}

constexpr long long kMaxDim = 1 << 17;  // 131072: far above any released DeepSeek width

}  // namespace

ModelConfig ModelConfig::from_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("config", path.string(), "cannot open file");
  std::stringstream ss;
  ss << f.rdbuf();
  return from_json_text(ss.str(), path.string());
}

ModelConfig ModelConfig::from_json_text(const std::string& text, const std::string& src) try {
  const json j = parse_json_bounded(text, "config", src);
  if (!j.is_object()) fail("config", src, "top level must be a JSON object");
  Reader r{j, src};
  ModelConfig c;

  c.model_type = r.string("model_type", "");
  if (r.has("architectures")) {
    const json& a = j["architectures"];
    if (!a.is_array() || a.empty() || !a[0].is_string()) r.bad("architectures", "must be a list of strings");
    c.architecture = a[0].get<std::string>();
  }
  const bool arch_ok = c.architecture == "DeepseekV2ForCausalLM" || c.architecture == "DeepseekV3ForCausalLM";
  const bool type_ok = c.model_type == "deepseek_v2" || c.model_type == "deepseek_v3";
  if (!c.architecture.empty() && !arch_ok)
    fail("config", src,
         "architecture '" + c.architecture +
             "' is not supported (mlascope runs DeepseekV2ForCausalLM and DeepseekV3ForCausalLM)");
  if (!type_ok) {
    if (c.model_type.empty() && arch_ok)
      c.model_type = c.architecture == "DeepseekV3ForCausalLM" ? "deepseek_v3" : "deepseek_v2";
    else
      fail("config", src,
           "model_type '" + c.model_type + "' is not supported (mlascope runs deepseek_v2 and deepseek_v3)");
  }
  if (c.architecture.empty()) c.architecture = c.is_v3() ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM";

  c.vocab_size = static_cast<int>(r.integer("vocab_size", 2, 1 << 24));
  c.hidden_size = static_cast<int>(r.integer("hidden_size", 1, kMaxDim));
  c.intermediate_size = static_cast<int>(r.integer("intermediate_size", 1, 4 * kMaxDim));
  c.num_hidden_layers = static_cast<int>(r.integer("num_hidden_layers", 1, 1024));
  c.num_attention_heads = static_cast<int>(r.integer("num_attention_heads", 1, 4096));
  c.num_key_value_heads =
      static_cast<int>(r.integer("num_key_value_heads", 1, 4096, c.num_attention_heads));
  c.q_lora_rank = r.has("q_lora_rank") ? static_cast<int>(r.integer("q_lora_rank", 1, kMaxDim)) : 0;
  c.kv_lora_rank = static_cast<int>(r.integer("kv_lora_rank", 1, kMaxDim));
  c.qk_nope_head_dim = static_cast<int>(r.integer("qk_nope_head_dim", 0, 4096));
  c.qk_rope_head_dim = static_cast<int>(r.integer("qk_rope_head_dim", 0, 4096));
  c.v_head_dim = static_cast<int>(r.integer("v_head_dim", 1, 4096));

  c.n_routed_experts = static_cast<int>(r.integer("n_routed_experts", 0, 65536, 0));
  c.n_shared_experts = static_cast<int>(r.integer("n_shared_experts", 0, 1024, 0));
  c.num_experts_per_tok = static_cast<int>(r.integer("num_experts_per_tok", 0, 1024, 0));
  c.moe_intermediate_size = static_cast<int>(r.integer("moe_intermediate_size", 0, 4 * kMaxDim, 0));
  const std::string tm = r.string("topk_method", c.is_v3() ? "noaux_tc" : "greedy");
  if (tm == "greedy") c.topk_method = TopkMethod::Greedy;
  else if (tm == "group_limited_greedy") c.topk_method = TopkMethod::GroupLimitedGreedy;
  else if (tm == "noaux_tc") c.topk_method = TopkMethod::NoauxTc;
  else r.bad("topk_method", "= '" + tm + "' is not supported (greedy, group_limited_greedy, noaux_tc)");
  c.n_group = static_cast<int>(r.integer("n_group", 1, 65536, 1));
  c.topk_group = static_cast<int>(r.integer("topk_group", 1, 65536, 1));
  const std::string sf = r.string("scoring_func", c.is_v3() ? "sigmoid" : "softmax");
  if (sf == "softmax") c.scoring_func = ScoringFunc::Softmax;
  else if (sf == "sigmoid") c.scoring_func = ScoringFunc::Sigmoid;
  else r.bad("scoring_func", "= '" + sf + "' is not supported (softmax, sigmoid)");
  c.norm_topk_prob = r.boolean("norm_topk_prob", false);
  c.routed_scaling_factor = r.number("routed_scaling_factor", 1e-6, 1e6, 1.0);
  c.first_k_dense_replace = static_cast<int>(r.integer("first_k_dense_replace", 0, 1024, 0));
  c.moe_layer_freq = static_cast<int>(r.integer("moe_layer_freq", 1, 1024, 1));
  c.rms_norm_eps = r.number("rms_norm_eps", 1e-12, 1e-1, 1e-6);
  c.rope_theta = r.number("rope_theta", 1.0, 1e12, 10000.0);
  c.max_position_embeddings = static_cast<int>(r.integer("max_position_embeddings", 1, 1 << 24));
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  c.bos_token_id = token_id(r, "bos_token_id");
  c.eos_token_id = token_id(r, "eos_token_id");
  c.torch_dtype = r.string("torch_dtype", "");

  if (r.has("rope_scaling")) {
    const json& rs = j["rope_scaling"];
    if (!rs.is_object()) r.bad("rope_scaling", "must be null or an object");
    Reader s{rs, src};
    std::string type = s.string("type", s.string("rope_type", ""));
    if (type != "yarn")
      r.bad("rope_scaling.type", "= '" + type + "' is not supported (null or yarn)");
    c.rope_scaling.yarn = true;
    c.rope_scaling.factor = s.number("factor", 1.0, 1e6);
    c.rope_scaling.original_max_position_embeddings =
        static_cast<int>(s.integer("original_max_position_embeddings", 1, 1 << 24));
    c.rope_scaling.beta_fast = s.number("beta_fast", 1e-6, 1e6, 32.0);
    c.rope_scaling.beta_slow = s.number("beta_slow", 1e-6, 1e6, 1.0);
    c.rope_scaling.mscale = s.number("mscale", 0.0, 1e3, 1.0);
    c.rope_scaling.mscale_all_dim = s.number("mscale_all_dim", 0.0, 1e3, 0.0);
  }
  c.validate(src);
  return c;
} catch (const json::exception& e) {
  // Every field is type-checked by Reader; a nlohmann exception is a check it missed.
  fail("config", src, std::string("unexpected JSON: ") + e.what());
}

void ModelConfig::validate(const std::string& src) const {
  auto bad = [&](const std::string& field, const std::string& what) {
    fail("config", src, "field '" + field + "' " + what);
  };
  if (qk_rope_head_dim % 2 != 0) bad("qk_rope_head_dim", "must be even (RoPE rotates pairs)");
  if (qk_nope_head_dim + qk_rope_head_dim <= 0) bad("qk_nope_head_dim", "and qk_rope_head_dim are both 0");
  if (n_routed_experts > 0) {
    if (num_experts_per_tok < 1 || num_experts_per_tok > n_routed_experts)
      bad("num_experts_per_tok", "must be between 1 and n_routed_experts (" + std::to_string(n_routed_experts) + ")");
    if (moe_intermediate_size < 1) bad("moe_intermediate_size", "must be positive when n_routed_experts > 0");
    if (topk_method != TopkMethod::Greedy) {
      if (n_routed_experts % n_group != 0) bad("n_group", "must divide n_routed_experts");
      if (topk_group > n_group) bad("topk_group", "must not exceed n_group");
      if (num_experts_per_tok > topk_group * (n_routed_experts / n_group))
        bad("num_experts_per_tok", "exceeds the experts in the kept groups (topk_group * experts per group)");
      if (topk_method == TopkMethod::NoauxTc && n_routed_experts / n_group < 2)
        bad("n_group", "leaves fewer than 2 experts per group (noaux_tc scores a group by its top 2)");
    }
    if (first_k_dense_replace >= num_hidden_layers && n_routed_experts > 0) {
      // Legal (all layers dense) but almost surely a mistake; keep going, nothing to route.
    }
  }
  if (rope_scaling.yarn && rope_scaling.original_max_position_embeddings < 1)
    bad("rope_scaling.original_max_position_embeddings", "must be positive");
  // Guard against absurd sizes before anything allocates from them.
  const double params_per_layer =
      double(hidden_size) * (num_attention_heads * double(qk_nope_head_dim + qk_rope_head_dim + v_head_dim)) +
      double(n_routed_experts + n_shared_experts) * 3.0 * hidden_size * moe_intermediate_size;
  if (params_per_layer * num_hidden_layers + 2.0 * vocab_size * hidden_size > 4e12)
    bad("hidden_size", "and the other sizes describe a model of over 4 trillion parameters; the file is not plausible");
}

int ModelConfig::n_moe_layers() const {
  int n = 0;
  for (int l = 0; l < num_hidden_layers; ++l) n += is_moe_layer(l) ? 1 : 0;
  return n;
}

namespace {
double yarn_get_mscale(double scale, double m) { return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; }
}  // namespace

double ModelConfig::softmax_scale() const {
  double s = 1.0 / std::sqrt(static_cast<double>(qk_head_dim()));
  if (rope_scaling.yarn && rope_scaling.mscale_all_dim != 0.0) {
    const double m = yarn_get_mscale(rope_scaling.factor, rope_scaling.mscale_all_dim);
    s *= m * m;
  }
  return s;
}

double ModelConfig::rope_mscale() const {
  if (!rope_scaling.yarn) return 1.0;
  return yarn_get_mscale(rope_scaling.factor, rope_scaling.mscale) /
         yarn_get_mscale(rope_scaling.factor, rope_scaling.mscale_all_dim);
}

std::vector<float> ModelConfig::yarn_ramp() const {
  if (!rope_scaling.yarn) return {};
  const int dim = qk_rope_head_dim;
  const double base = rope_theta;
  const double orig = rope_scaling.original_max_position_embeddings;
  auto correction_dim = [&](double n_rot) {
    return dim * std::log(orig / (n_rot * 2.0 * M_PI)) / (2.0 * std::log(base));
  };
  double low = std::max(std::floor(correction_dim(rope_scaling.beta_fast)), 0.0);
  double high = std::min(std::ceil(correction_dim(rope_scaling.beta_slow)), static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  std::vector<float> r(dim / 2);
  for (int j = 0; j < dim / 2; ++j) {
    // float32 as the reference computes it: (arange - low) / (high - low), clamped
    float v = (static_cast<float>(j) - static_cast<float>(low)) / static_cast<float>(high - low);
    r[j] = std::clamp(v, 0.0f, 1.0f);
  }
  return r;
}

std::vector<float> ModelConfig::rope_inv_freq() const {
  const int dim = qk_rope_head_dim;
  std::vector<float> f(dim / 2);
  for (int j = 0; j < dim / 2; ++j) {
    const float e = static_cast<float>(2 * j) / static_cast<float>(dim);
    f[j] = 1.0f / std::pow(static_cast<float>(rope_theta), e);
  }
  if (rope_scaling.yarn) {
    const std::vector<float> r = yarn_ramp();
    const float factor = static_cast<float>(rope_scaling.factor);
    for (int j = 0; j < dim / 2; ++j) {
      const float smooth = 1.0f - r[j];
      f[j] = f[j] / factor * (1.0f - smooth) + f[j] * smooth;
    }
  }
  return f;
}

}  // namespace mlascope
