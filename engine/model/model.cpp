// engine/model/model.cpp — Model::load / Model::bind: config + weights bound by role, every tensor
// checked for presence, dtype and shape against the config; parameter, byte and memory accounting.
#include "model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_set>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "../error.h"
#include "../kv_memory.h"
#include "../tokenizer/tokenizer.h"
#include "../weights/gguf.h"
#include "../weights/gguf_file.h"
#include "../weights/mapped_file.h"


namespace mlascope {

namespace fs = std::filesystem;

namespace {

constexpr const char* kWhere = "model";
constexpr int kDefaultContext = 4096;

// stderr, so `info --json` and streamed tokens on stdout stay machine-readable.
std::shared_ptr<spdlog::logger> engine_log() {
  if (auto l = spdlog::get("engine")) return l;
  try {
    return spdlog::stderr_color_mt("engine");
  } catch (const spdlog::spdlog_ex&) {  // another thread registered it first
    return spdlog::get("engine");
  }
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) {
    b /= 1024.0;
    ++u;
  }
  std::ostringstream s;
  s.precision(u == 0 ? 0 : 2);
  s << std::fixed << b << ' ' << units[u];
  return s.str();
}

std::string human_count(double n) {
  std::ostringstream s;
  s.precision(2);
  if (n >= 1e9) s << std::fixed << n / 1e9 << "B";
  else if (n >= 1e6) s << std::fixed << n / 1e6 << "M";
  else if (n >= 1e3) s << std::fixed << n / 1e3 << "K";
  else s << static_cast<uint64_t>(n);
  return s.str();
}

uint64_t stored_bytes(const TensorView& t) {
  return t.nbytes + (t.scale_inv ? static_cast<uint64_t>(t.scale_rows * t.scale_cols) * 4u : 0u);
}

}  // namespace

// Friend of Model: fills its private views while checking each against the config.
struct ModelBinder {
  Model& m;
  const std::string& src;  // the weights file (or index) to name in errors

  enum class Kind { Matrix, Vector };

  const TensorView* bind(const std::string& name, std::vector<int64_t> shape, Kind kind) {
    const TensorView* t = m.weights_.find(name);
    if (!t) fail(kWhere, src, "tensor '" + name + "' is missing (the config needs it)");
    const std::string file = m.weights_.file_of(name);
    const DType d = t->dtype;
    const bool plain_float = d == DType::F32 || d == DType::F16 || d == DType::BF16;
    const bool ok = kind == Kind::Vector ? plain_float : plain_float || d == DType::F8_E4M3 || dtype_is_quantized(d);
    if (!ok)
      fail(kWhere, file,
           "tensor '" + name + "' has dtype " + to_string(d) + "; expected " +
               (kind == Kind::Vector ? "F32, F16 or BF16" : "a float (F32, F16, BF16, F8_E4M3) or GGUF-quantized type"));
    if (d == DType::F8_E4M3 && !t->scale_inv)
      fail(kWhere, file, "FP8 tensor '" + name + "' has no block scales ('" + name + "_scale_inv')");
    if (t->shape != shape) {
      TensorView want;
      want.shape = std::move(shape);
      fail(kWhere, file,
           "tensor '" + name + "' has shape " + t->shape_string() + " but config.json implies " + want.shape_string());
    }
    return t;
  }

  static std::shared_ptr<Model> load_gguf_model(const fs::path& file, const ModelLoadOptions& opt);

  FfnWeights ffn(const std::string& prefix, int64_t d_model, int64_t d_ff) {
    FfnWeights f;
    f.gate_proj = bind(prefix + ".gate_proj.weight", {d_ff, d_model}, Kind::Matrix);
    f.up_proj = bind(prefix + ".up_proj.weight", {d_ff, d_model}, Kind::Matrix);
    f.down_proj = bind(prefix + ".down_proj.weight", {d_model, d_ff}, Kind::Matrix);
    return f;
  }

  void run() {
    const ModelConfig& c = m.config_;
    const int64_t D = c.hidden_size, V = c.vocab_size, H = c.num_attention_heads;
    const int64_t qk = c.qk_head_dim(), nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim, v = c.v_head_dim;
    m.embed_tokens_ = bind("model.embed_tokens.weight", {V, D}, Kind::Matrix);
    m.norm_ = bind("model.norm.weight", {D}, Kind::Vector);
    // Tied checkpoints may still carry an lm_head copy; the config decides which one is used.
    m.lm_head_ = c.tie_word_embeddings ? m.embed_tokens_ : bind("lm_head.weight", {V, D}, Kind::Matrix);

    m.layers_.assign(static_cast<size_t>(c.num_hidden_layers), LayerWeights{});
    for (int l = 0; l < c.num_hidden_layers; ++l) {
      LayerWeights& L = m.layers_[static_cast<size_t>(l)];
      const std::string p = "model.layers." + std::to_string(l);
      L.input_layernorm = bind(p + ".input_layernorm.weight", {D}, Kind::Vector);
      L.post_attention_layernorm = bind(p + ".post_attention_layernorm.weight", {D}, Kind::Vector);
      const std::string a = p + ".self_attn";
      if (c.has_q_lora()) {
        const int64_t r = c.q_lora_rank;
        L.q_a_proj = bind(a + ".q_a_proj.weight", {r, D}, Kind::Matrix);
        L.q_a_layernorm = bind(a + ".q_a_layernorm.weight", {r}, Kind::Vector);
        L.q_b_proj = bind(a + ".q_b_proj.weight", {H * qk, r}, Kind::Matrix);
      } else {
        L.q_proj = bind(a + ".q_proj.weight", {H * qk, D}, Kind::Matrix);
      }
      L.kv_a_proj_with_mqa = bind(a + ".kv_a_proj_with_mqa.weight", {c.kv_lora_rank + rope, D}, Kind::Matrix);
      L.kv_a_layernorm = bind(a + ".kv_a_layernorm.weight", {c.kv_lora_rank}, Kind::Vector);
      L.kv_b_proj = bind(a + ".kv_b_proj.weight", {H * (nope + v), c.kv_lora_rank}, Kind::Matrix);
      if (m.weights_.find(a + ".k_b_proj.weight") && m.weights_.find(a + ".v_b_proj.weight")) {
        L.k_b_proj = bind(a + ".k_b_proj.weight", {H * c.kv_lora_rank, nope}, Kind::Matrix);
        L.v_b_proj = bind(a + ".v_b_proj.weight", {H * v, c.kv_lora_rank}, Kind::Matrix);
      }
      L.o_proj = bind(a + ".o_proj.weight", {D, H * v}, Kind::Matrix);

      const std::string f = p + ".mlp";
      L.is_moe = c.is_moe_layer(l);
      if (!L.is_moe) {
        L.dense = ffn(f, D, c.intermediate_size);
        continue;
      }
      const int64_t E = c.n_routed_experts;
      L.gate = bind(f + ".gate.weight", {E, D}, Kind::Matrix);
      if (c.topk_method == TopkMethod::NoauxTc)
        L.e_score_correction_bias = bind(f + ".gate.e_score_correction_bias", {E}, Kind::Vector);
      L.experts.reserve(static_cast<size_t>(E));
      for (int64_t e = 0; e < E; ++e) L.experts.push_back(ffn(f + ".experts." + std::to_string(e), D, c.moe_intermediate_size));
      if (c.n_shared_experts > 0) L.shared_experts = ffn(f + ".shared_experts", D, c.shared_intermediate_size());
    }
  }
};

namespace {

// How often a decode step reads a tensor: embeddings one row, routed experts top_k of E, the rest fully.
enum class Use { Always, EmbeddingRow, RoutedExpert };

template <typename Fn>
void for_each_weight(const Model& m, Fn&& fn) {
  // Tied: one matrix, read whole by the LM head every step (the embedding row is part of it).
  if (&m.lm_head() == &m.embed_tokens()) {
    fn(m.embed_tokens(), Use::Always);
  } else {
    fn(m.embed_tokens(), Use::EmbeddingRow);
    fn(m.lm_head(), Use::Always);
  }
  fn(m.norm(), Use::Always);
  auto ffn = [&](const FfnWeights& f, Use u) {
    fn(*f.gate_proj, u);
    fn(*f.up_proj, u);
    fn(*f.down_proj, u);
  };
  for (int l = 0; l < m.n_layers(); ++l) {
    const LayerWeights& L = m.layer(l);
    // With the split halves, they are the file's tensors (kv_b_proj is a derived F32 copy): counted
    // as stored, and what absorbed decode reads.
    const bool split = L.k_b_proj && L.v_b_proj;
    for (const TensorView* t : {L.input_layernorm, L.post_attention_layernorm, L.q_proj, L.q_a_proj, L.q_a_layernorm,
                                L.q_b_proj, L.kv_a_proj_with_mqa, L.kv_a_layernorm, split ? L.k_b_proj : L.kv_b_proj,
                                split ? L.v_b_proj : nullptr, L.o_proj, L.gate, L.e_score_correction_bias})
      if (t) fn(*t, Use::Always);
    if (!L.is_moe) ffn(L.dense, Use::Always);
    for (const FfnWeights& e : L.experts) ffn(e, Use::RoutedExpert);
    if (L.shared_experts) ffn(*L.shared_experts, Use::Always);
  }
}

double routed_fraction(const ModelConfig& c) {
  return c.n_routed_experts > 0 ? static_cast<double>(c.num_experts_per_tok) / c.n_routed_experts : 0.0;
}

void log_summary(const Model& m) {
  auto log = engine_log();
  const ModelConfig& c = m.config();
  const MemoryEstimate& mem = m.memory_estimate();
  const KvMemory kv = kv_memory(c, mem.kv_bytes_per_value);
  std::map<std::string, int> dtypes;
  for_each_weight(m, [&](const TensorView& t, Use) { ++dtypes[to_string(t.dtype)]; });
  std::string dt;
  for (const auto& [k, n] : dtypes) dt += (dt.empty() ? "" : ", ") + k + " x" + std::to_string(n);
  log->info("loaded {} ({}, {})", m.name(), c.architecture, dt);
  log->info("  layers {} ({} dense, {} MoE), hidden {}, heads {}, vocab {}, max positions {}", c.num_hidden_layers,
            c.num_hidden_layers - c.n_moe_layers(), c.n_moe_layers(), c.hidden_size, c.num_attention_heads,
            c.vocab_size, c.max_position_embeddings);
  log->info("  MLA: q_lora_rank {}, kv_lora_rank {}, qk_nope/qk_rope/v head dims {}/{}/{}, softmax_scale {:.6f}",
            c.has_q_lora() ? std::to_string(c.q_lora_rank) : std::string("null (q_proj)"), c.kv_lora_rank,
            c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim, c.softmax_scale());
  if (c.n_routed_experts > 0)
    log->info("  MoE: {} routed + {} shared experts, top-{}, {} / {} (groups {}, keep {}), norm_topk_prob {}, scale {}",
              c.n_routed_experts, c.n_shared_experts, c.num_experts_per_tok, to_string(c.topk_method),
              to_string(c.scoring_func), c.n_group, c.topk_group, c.norm_topk_prob, c.routed_scaling_factor);
  log->info("  RoPE theta {}{}", c.rope_theta,
            c.rope_scaling.yarn ? ", YaRN x" + std::to_string(c.rope_scaling.factor) + " over " +
                                      std::to_string(c.rope_scaling.original_max_position_embeddings)
                                : std::string());
  log->info("  params {} total, {} active per token; weights {}, {} read per token", human_count(double(m.n_params())),
            human_count(double(m.n_active_params())), human_bytes(double(m.weight_bytes())),
            human_bytes(double(m.weight_bytes_per_token())));
  log->info("  KV per token ({}-byte values): latent {} vs MHA {} ({:.1f}x smaller)", mem.kv_bytes_per_value,
            human_bytes(kv.get(KvScheme::MlaLatent).bytes_per_token), human_bytes(kv.get(KvScheme::Mha).bytes_per_token),
            kv.ratio_vs_latent(KvScheme::Mha));
  if (mem.context > 0)
    log->info("  memory at {} tokens: {} (weights {} + latent cache {}), {} available", mem.context,
              human_bytes(double(mem.total_bytes)), human_bytes(double(mem.weight_bytes)),
              human_bytes(double(mem.kv_cache_bytes)),
              mem.available_bytes ? human_bytes(double(mem.available_bytes)) : std::string("unknown"));
}

}  // namespace

MemoryEstimate estimate_memory(const ModelConfig& c, uint64_t weight_bytes, int context, int kv_bytes_per_value) {
  MemoryEstimate m;
  m.context = context;
  m.weight_bytes = weight_bytes;
  m.kv_bytes_per_value = kv_bytes_per_value;
  const KvMemory kv = kv_memory(c, kv_bytes_per_value);
  m.kv_cache_bytes = static_cast<uint64_t>(kv.bytes_at(KvScheme::MlaLatent, context));
  m.kv_cache_naive_bytes = static_cast<uint64_t>(kv.bytes_at(KvScheme::MlaNaive, context));
  m.total_bytes = m.weight_bytes + m.kv_cache_bytes;
  m.available_bytes = available_memory_bytes();
  return m;
}

void check_memory(const MemoryEstimate& m, const std::string& model_name) {
  if (m.available_bytes == 0 || m.total_bytes <= m.available_bytes) return;
  fail(kWhere, model_name,
       "needs " + human_bytes(double(m.total_bytes)) + " (weights " + human_bytes(double(m.weight_bytes)) +
           " + KV cache " + human_bytes(double(m.kv_cache_bytes)) + " at " + std::to_string(m.context) +
           " tokens) but only " + human_bytes(double(m.available_bytes)) +
           " is available; use a shorter context or a smaller model");
}

std::shared_ptr<Model> Model::bind(ModelConfig config, WeightStore weights, std::string source_name) {
  auto m = std::make_shared<Model>();
  m->config_ = std::move(config);
  m->weights_ = std::move(weights);
  m->name_ = source_name;
  // Q4_K, Q5_0, Q8_0 and Q6_K read into our own memory are reordered for the CPU's dot products
  // (bench_matvec_quant at V2-Lite's expert shapes, 1 thread, cache-resident: decode 1.4x, 2.2x,
  // 2.3x); a GPU backend widens weights to float either way.
  if (const uint64_t n = m->weights_.reorder_for_cpu(); n > 0)
    engine_log()->debug("{}: {} of Q4_K / Q5_0 / Q8_0 / Q6_K reordered for the CPU kernels", source_name, human_bytes(static_cast<double>(n)));
  ModelBinder{*m, source_name}.run();
  // Extra tensors are legal (V3's multi-token-prediction layer, FP8 scales); say so once, quietly.
  std::unordered_set<const TensorView*> bound;
  for_each_weight(*m, [&](const TensorView& t, Use) { bound.insert(&t); });
  for (int l = 0; l < m->n_layers(); ++l) bound.insert(m->layer(l).kv_b_proj);  // a derived copy when split
  int unused = 0;
  std::string example;
  for (const std::string& n : m->weights_.names()) {
    const TensorView* t = m->weights_.find(n);
    if (bound.count(t) || (n.size() > 10 && n.compare(n.size() - 10, 10, "_scale_inv") == 0)) continue;
    if (unused++ == 0) example = n;
  }
  if (unused > 0) engine_log()->info("{}: {} tensors not used by the model (e.g. '{}')", source_name, unused, example);
  m->memory_.weight_bytes = m->weight_bytes();
  m->memory_.total_bytes = m->memory_.weight_bytes;
  return m;
}

namespace {
int context_for(const ModelConfig& c, const ModelLoadOptions& opt, const std::string& src) {
  const int context = opt.max_context > 0 ? opt.max_context : std::min(c.max_position_embeddings, kDefaultContext);
  if (context > c.max_position_embeddings)
    fail(kWhere, src,
         "context " + std::to_string(context) + " exceeds max_position_embeddings " +
             std::to_string(c.max_position_embeddings));
  return context;
}
}  // namespace

// GGUF carries its config (and usually its tokenizer) in metadata; the GGUF reader maps tensors
// to HF names, so binding is the same as for safetensors.
std::shared_ptr<Model> ModelBinder::load_gguf_model(const fs::path& file, const ModelLoadOptions& opt) {
  WeightStore weights;
  ModelConfig config;
  std::shared_ptr<TokenizerParts> tokenizer;
  {
    const GgufFile f = GgufFile::open(file);
    if (gguf_has_tokenizer(f)) tokenizer = std::make_shared<TokenizerParts>();
  }
  load_gguf(weights, file, opt.progress, &config, tokenizer.get());
  const int context = context_for(config, opt, file.string());
  std::shared_ptr<Model> m = Model::bind(std::move(config), std::move(weights), file.string());
  m->path_ = file;
  m->name_ = file.filename().string();
  m->embedded_tokenizer_ = std::move(tokenizer);
  m->memory_ = estimate_memory(m->config_, m->weight_bytes(), context, opt.kv_bytes_per_value);
  log_summary(*m);
  if (opt.check_memory) check_memory(m->memory_, m->name_);
  return m;
}

namespace {
// Residency Auto means "resident when it helps": it helps CPU decode only. For the duration of a
// load whose weights go to a device, Auto reads as Map (an explicit policy is left alone).
class ResidencyForLoad {
 public:
  explicit ResidencyForLoad(bool host_compute) : saved_(MappedFile::residency()) {
    if (!host_compute && saved_ == Residency::Auto) MappedFile::set_residency(Residency::Map);
  }
  ~ResidencyForLoad() { MappedFile::set_residency(saved_); }
  ResidencyForLoad(const ResidencyForLoad&) = delete;
  ResidencyForLoad& operator=(const ResidencyForLoad&) = delete;

 private:
  Residency saved_;
};
}  // namespace

std::shared_ptr<Model> Model::load(const fs::path& path, const ModelLoadOptions& opt) {
  const ResidencyForLoad residency(opt.host_compute);
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(kWhere, path.string(), "no such model folder or file");
  // A folder holding exactly one .gguf and no safetensors is treated as that file.
  fs::path gguf;
  if (fs::is_regular_file(path) && path.extension() == ".gguf") {
    gguf = path;
  } else if (fs::is_directory(path) && !fs::exists(path / "model.safetensors") &&
             !fs::exists(path / "model.safetensors.index.json")) {
    gguf = gguf_model_in_folder(path).value_or(fs::path());
  }
  if (!gguf.empty()) return ModelBinder::load_gguf_model(gguf, opt);
  // A file is a model only as .gguf or .safetensors (its config.json beside it); anything else, a
  // preset or config .json above all, is named as itself rather than blamed on a config.json nearby.
  const std::string file_name = path.filename().string();
  const bool index = file_name.size() > 23 && file_name.ends_with(".safetensors.index.json");
  if (fs::is_regular_file(path, ec) && path.extension() != ".safetensors" && !index) {
    if (path.extension() == ".json")
      fail(kWhere, path.string(),
           "is a JSON file, not a model (a folder with config.json + safetensors, or a .gguf); "
           "`mlascope kv --config` reads a config alone");
    fail(kWhere, path.string(), "is not a model (a folder with config.json + safetensors, a .safetensors file or a .gguf)");
  }

  const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
  const fs::path config_path = dir / "config.json";
  ModelConfig config = ModelConfig::from_file(config_path);

  const int context = context_for(config, opt, config_path.string());

  std::string source = path.string();
  if (fs::is_directory(path)) {
    source = fs::exists(dir / "model.safetensors") ? (dir / "model.safetensors").string()
                                                   : (dir / "model.safetensors.index.json").string();
  }
  WeightStore weights = WeightStore::open(path, opt.progress);  // mmap only: nothing big allocated yet
  std::shared_ptr<Model> m = bind(std::move(config), std::move(weights), source);
  m->path_ = path;
  m->name_ = fs::is_directory(path) ? fs::path(path).lexically_normal().filename().string() : path.filename().string();
  if (m->name_.empty()) m->name_ = fs::absolute(path).lexically_normal().parent_path().filename().string();
  {
    std::ifstream f(config_path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    m->config_json_ = ss.str();
  }
  m->memory_ = estimate_memory(m->config_, m->weight_bytes(), context, opt.kv_bytes_per_value);
  log_summary(*m);
  if (opt.check_memory) check_memory(m->memory_, m->name_);
  return m;
}

uint64_t Model::n_params() const {
  uint64_t n = 0;
  for_each_weight(*this, [&](const TensorView& t, Use) { n += static_cast<uint64_t>(t.numel()); });
  return n;
}

uint64_t Model::n_active_params() const {
  const double frac = routed_fraction(config_);
  double n = 0;
  for_each_weight(*this, [&](const TensorView& t, Use u) {
    n += static_cast<double>(t.numel()) * (u == Use::RoutedExpert ? frac : 1.0);
  });
  return static_cast<uint64_t>(std::llround(n));
}

uint64_t Model::weight_bytes() const {
  uint64_t n = 0;
  for_each_weight(*this, [&](const TensorView& t, Use) { n += stored_bytes(t); });
  return n;
}

uint64_t Model::weight_bytes_per_token() const {
  const double frac = routed_fraction(config_);
  double n = 0;
  for_each_weight(*this, [&](const TensorView& t, Use u) {
    if (u == Use::EmbeddingRow) n += static_cast<double>(stored_bytes(t)) / static_cast<double>(std::max<int64_t>(1, t.rows()));
    else n += static_cast<double>(stored_bytes(t)) * (u == Use::RoutedExpert ? frac : 1.0);
  });
  return static_cast<uint64_t>(std::llround(n));
}

}  // namespace mlascope
