// views/synthetic_trace.cpp — see synthetic_trace.h. Deterministic for a given seed.
#include "synthetic_trace.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/error.h"
#include "engine/kv_memory.h"
#include "view_math.h"

namespace mlascope::views {

namespace {
const char* const kProse[] = {"▁The", "▁river", "▁ran", "▁past", "▁the", "▁old", "▁mill", ",", "▁and",
                              "▁children", "▁watched", "▁boats", "▁drift", "▁slowly", "▁by", ".", "▁In",
                              "▁winter", "▁it", "▁froze", "▁over", "▁completely", "▁東京", "▁は"};
const char* const kCode[] = {"def", "▁parse", "(", "text", "):", "\n", "▁▁▁▁", "return", "▁[", "int",
                             "(x)", "▁for", "▁x", "▁in", "▁text", ".split", "()", "]", "▁if", "▁not",
                             "▁None", ":", "<｜begin▁of▁sentence｜>", "▁="};

int32_t token_id(const std::string& s, int vocab) {
  uint32_t h = 2166136261u;
  for (unsigned char ch : s) h = (h ^ ch) * 16777619u;
  return static_cast<int32_t>(h % static_cast<uint32_t>(std::max(vocab, 2)));
}
}  // namespace

ModelConfig demo_config() {
  ModelConfig c;
  c.architecture = "DeepseekV3ForCausalLM";
  c.model_type = "deepseek_v3";
  c.vocab_size = 4096;
  c.hidden_size = 256;
  c.intermediate_size = 768;
  c.moe_intermediate_size = 128;
  c.num_hidden_layers = 6;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 4;
  c.q_lora_rank = 96;
  c.kv_lora_rank = 64;
  c.qk_nope_head_dim = 32;
  c.qk_rope_head_dim = 16;
  c.v_head_dim = 32;
  c.n_routed_experts = 16;
  c.n_shared_experts = 1;
  c.num_experts_per_tok = 4;
  c.topk_method = TopkMethod::NoauxTc;
  c.n_group = 4;
  c.topk_group = 2;
  c.scoring_func = ScoringFunc::Sigmoid;
  c.norm_topk_prob = true;
  c.routed_scaling_factor = 2.5;
  c.first_k_dense_replace = 1;
  c.moe_layer_freq = 1;
  c.max_position_embeddings = 1024;
  c.bos_token_id = 0;
  c.eos_token_id = 1;
  c.torch_dtype = "bfloat16";
  return c;
}

ModelConfig synthetic_config(const std::string& name) {
  if (name == "demo") return demo_config();
  ModelConfig c = demo_config();
  c.hidden_size = 256;
  c.intermediate_size = 768;
  c.moe_intermediate_size = 64;
  c.kv_lora_rank = 512;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.v_head_dim = 128;
  c.max_position_embeddings = 163840;
  if (name == "v2-lite") {
    c.architecture = "DeepseekV2ForCausalLM";
    c.model_type = "deepseek_v2";
    c.vocab_size = 102400;
    c.num_hidden_layers = 27;
    c.first_k_dense_replace = 1;
    c.num_attention_heads = c.num_key_value_heads = 16;
    c.q_lora_rank = 0;  // V2-Lite projects the query directly
    c.n_routed_experts = 64;
    c.n_shared_experts = 2;
    c.num_experts_per_tok = 6;
    c.topk_method = TopkMethod::Greedy;
    c.n_group = 1;
    c.topk_group = 1;
    c.scoring_func = ScoringFunc::Softmax;
    c.norm_topk_prob = false;
    c.routed_scaling_factor = 1.0;
    c.bos_token_id = 100000;
    c.eos_token_id = 100001;
    return c;
  }
  if (name == "v3") {
    c.vocab_size = 129280;
    c.num_hidden_layers = 61;
    c.first_k_dense_replace = 3;
    c.num_attention_heads = c.num_key_value_heads = 128;
    c.q_lora_rank = 96;
    c.n_routed_experts = 256;
    c.n_shared_experts = 1;
    c.num_experts_per_tok = 8;
    c.topk_method = TopkMethod::NoauxTc;
    c.n_group = 8;
    c.topk_group = 4;
    c.scoring_func = ScoringFunc::Sigmoid;
    c.norm_topk_prob = true;
    c.routed_scaling_factor = 2.5;
    return c;
  }
  fail("synthetic", name, "unknown config (demo | v2-lite | v3)");
}

void fill_synthetic_named(TraceModel& tm, const std::string& name, int n_tokens, uint64_t seed) {
  const ModelConfig c = synthetic_config(name);
  SyntheticOptions o;
  o.n_tokens = n_tokens;
  o.seed = seed;
  o.title = "synthetic session, " + (name == "demo" ? std::string("demo model") : name) + " counts";
  o.model_name = name == "demo" ? "demo architecture (synthetic)" : name == "v3" ? "DeepSeek-V3 counts (synthetic)" : "DeepSeek-V2-Lite counts (synthetic)";
  if (name == "v3") {
    o.attention_tokens = 128;
    o.attention_layers = (1ull << 0) | (1ull << 3) | (1ull << 30) | (1ull << 60);
  }
  fill_synthetic(tm, c, o);
}

SyntheticStepper::SyntheticStepper(const ModelConfig& cfg, uint64_t seed, int attention_tokens, uint64_t attention_layers)
    : cfg_(cfg), attention_tokens_(attention_tokens), attention_layers_(attention_layers), rng_(seed) {
  std::normal_distribution<float> noise(0.0f, 1.0f);
  const int E = cfg_.n_routed_experts;
  const int n_moe = cfg_.n_moe_layers();
  if (cfg_.topk_method == TopkMethod::NoauxTc) {
    gate_bias_.assign(static_cast<size_t>(n_moe), std::vector<float>(static_cast<size_t>(E)));
    for (auto& layer : gate_bias_)
      for (float& b : layer) b = 0.05f * noise(rng_);
  }
  // Each expert prefers code, prose, or both; the pattern shifts per layer.
  affinity_code_.assign(static_cast<size_t>(n_moe), std::vector<float>(static_cast<size_t>(E)));
  affinity_prose_ = affinity_code_;
  for (int m = 0; m < n_moe; ++m)
    for (int x = 0; x < E; ++x) {
      const int pref = (x + m) % 3;
      affinity_code_[static_cast<size_t>(m)][static_cast<size_t>(x)] = pref == 0 ? 2.0f : pref == 2 ? 0.6f : -1.5f;
      affinity_prose_[static_cast<size_t>(m)][static_cast<size_t>(x)] = pref == 1 ? 2.0f : pref == 2 ? 0.6f : -1.5f;
    }
}

std::string SyntheticStepper::sample_text(bool code) {
  return code ? kCode[rng_() % std::size(kCode)] : kProse[rng_() % std::size(kProse)];
}

void SyntheticStepper::truncate(size_t n) {
  if (n < is_code_.size()) is_code_.resize(n);
}

StepRecord SyntheticStepper::next(const std::string& text, bool code, bool prompt, int message) {
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::uniform_real_distribution<float> unif(0.0f, 1.0f);
  const ModelConfig& cfg = cfg_;
  const int t = static_cast<int>(is_code_.size());
  is_code_.push_back(code);
  const int E = cfg.n_routed_experts;
  const int n_moe = cfg.n_moe_layers();
  const int H = std::max(1, cfg.num_attention_heads);
  StepRecord r;
  r.position = t;
  r.is_prompt = prompt;
  r.message = message;
  r.text = text;
  r.id = token_id(r.text, cfg.vocab_size);
  const float p = t == 0 ? -1.0f : 0.2f + 0.75f * unif(rng_);
  r.prob = p;
  r.raw_prob = p < 0 ? -1.0f : p * 0.9f;
  if (t > 0) {
    float rest = 1.0f - p;
    r.top_raw.push_back({r.id, r.raw_prob});
    r.top_sampled.push_back({r.id, p});
    for (int a = 0; a < 4; ++a) {
      const std::string alt = sample_text(code);
      const float q = rest * 0.5f;
      rest -= q;
      r.top_raw.push_back({token_id(alt + std::to_string(a), cfg.vocab_size), q * 0.9f});
      r.top_sampled.push_back({token_id(alt + std::to_string(a), cfg.vocab_size), q});
    }
  }
  r.ms = prompt ? 0.4f : 8.0f + 2.0f * unif(rng_);
  r.kv_bytes = static_cast<uint64_t>(kv_memory(cfg).get(KvScheme::MlaLatent).bytes_per_token * (t + 1));

  r.scores.resize(static_cast<size_t>(n_moe) * static_cast<size_t>(E));
  r.selection.resize(r.scores.size());
  for (int m = 0; m < n_moe; ++m) {
    const auto& aff = code ? affinity_code_[static_cast<size_t>(m)] : affinity_prose_[static_cast<size_t>(m)];
    float* sc = r.scores.data() + static_cast<size_t>(m) * static_cast<size_t>(E);
    float* se = r.selection.data() + static_cast<size_t>(m) * static_cast<size_t>(E);
    for (int x = 0; x < E; ++x) {
      const float logit = aff[static_cast<size_t>(x)] + 1.2f * noise(rng_) - 1.0f;
      sc[x] = cfg.scoring_func == ScoringFunc::Sigmoid ? 1.0f / (1.0f + std::exp(-logit)) : std::exp(logit);
    }
    if (cfg.scoring_func == ScoringFunc::Softmax) {
      float sum = 0;
      for (int x = 0; x < E; ++x) sum += sc[x];
      for (int x = 0; x < E; ++x) sc[x] /= sum;
    }
    for (int x = 0; x < E; ++x) se[x] = sc[x] + (gate_bias_.empty() ? 0.0f : gate_bias_[static_cast<size_t>(m)][static_cast<size_t>(x)]);
    const RouteExplanation ex = explain_route(cfg, std::span<const float>(se, static_cast<size_t>(E)));
    RouteRow row;
    row.k = static_cast<uint8_t>(std::min<size_t>(ex.chosen.size(), kMaxTopK));
    float wsum = 0;
    for (int i = 0; i < row.k; ++i) wsum += sc[ex.chosen[static_cast<size_t>(i)]];
    for (int i = 0; i < row.k; ++i) {
      const int x = ex.chosen[static_cast<size_t>(i)];
      row.expert[static_cast<size_t>(i)] = static_cast<int16_t>(x);
      float w = sc[x];
      if (cfg.norm_topk_prob && wsum > 0) w /= wsum;
      row.weight[static_cast<size_t>(i)] = w * static_cast<float>(cfg.routed_scaling_factor);
    }
    row.kept_groups = ex.kept_groups;
    row.margin = ex.margin;
    r.routes.push_back(row);
  }

  if (t < attention_tokens_) {
    const int nk = t + 1;
    for (int l = 0; l < cfg.num_hidden_layers; ++l) {
      if (l < 64 && !((attention_layers_ >> l) & 1ull)) continue;
      AttentionRow a;
      a.layer = l;
      a.n_heads = H;
      a.n_keys = nk;
      a.probs.resize(static_cast<size_t>(H * nk));
      a.nope.resize(a.probs.size());
      a.rope.resize(a.probs.size());
      for (int h = 0; h < H; ++h) {
        // Heads differ: some look back locally (strong positional decay), some attend by content.
        const float decay = 0.05f + 0.6f * static_cast<float>((h + l) % H) / static_cast<float>(H);
        float mx = -1e30f;
        for (int k = 0; k < nk; ++k) {
          const size_t i = static_cast<size_t>(h * nk + k);
          const float same_kind = is_code_[static_cast<size_t>(k)] == code ? 1.5f : 0.0f;
          a.nope[i] = same_kind + 0.5f * noise(rng_) + (k == 0 ? 3.0f : 0.0f);
          a.rope[i] = -decay * static_cast<float>(t - k);
          mx = std::max(mx, a.nope[i] + a.rope[i]);
        }
        double sum = 0;
        for (int k = 0; k < nk; ++k) {
          const size_t i = static_cast<size_t>(h * nk + k);
          a.probs[i] = std::exp(a.nope[i] + a.rope[i] - mx);
          sum += a.probs[i];
        }
        for (int k = 0; k < nk; ++k) a.probs[static_cast<size_t>(h * nk + k)] /= static_cast<float>(sum);
      }
      r.attention.push_back(std::move(a));
    }
  }
  return r;
}

void fill_synthetic(TraceModel& tm, const ModelConfig& cfg, const SyntheticOptions& opt) {
  SyntheticStepper stepper(cfg, opt.seed, opt.attention_tokens, opt.attention_layers);
  std::mt19937_64 rng(opt.seed ^ 0x9e3779b97f4a7c15ull);
  SessionMeta meta;
  meta.title = opt.title;
  meta.model_name = !opt.model_name.empty() ? opt.model_name : cfg.model_type.empty() ? "synthetic" : cfg.model_type + " (synthetic)";
  meta.config = cfg;
  meta.backend = "synthetic";
  meta.mla_mode = "absorbed";
  meta.capture = opt.attention_layers == ~0ull ? CapturePolicy::Everything : CapturePolicy::RoutingAttention;
  meta.kv_dtype = "bf16";
  meta.gate_bias = stepper.gate_bias();
  tm.reset(meta);

  int message = -1;
  int message_left = 0;
  bool user_turn = false;
  for (int t = 0; t < opt.n_tokens; ++t) {
    if (message_left == 0) {
      user_turn = !user_turn;
      ++message;
      message_left = user_turn ? 12 + static_cast<int>(rng() % 12) : 40 + static_cast<int>(rng() % 60);
      Message msg;
      msg.role = user_turn ? "user" : "assistant";
      msg.first_token = t;
      msg.end_token = std::min(opt.n_tokens, t + message_left);
      tm.add_message(msg);
    }
    --message_left;
    // Alternate stretches of code and prose so expert specialisation is visible.
    const bool code = ((t / 37) % 2) == 1;
    tm.append(stepper.next(stepper.sample_text(code), code, user_turn, message));
  }
  for (size_t i = 0; i < tm.messages().size(); ++i) {
    Message msg = tm.messages()[i];
    msg.text.clear();
    for (int32_t t = msg.first_token; t < msg.end_token && t < static_cast<int32_t>(tm.size()); ++t) msg.text += tm.token(static_cast<size_t>(t)).text;
    tm.update_message(i, msg);
  }
}

}  // namespace mlascope::views
