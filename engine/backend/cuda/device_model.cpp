// engine/backend/cuda/device_model.cpp — weights to the device (see device_model.h). One walk over
// the tensor layout serves three purposes: sizing the arena (memory plan), uploading a Model's
// tensors, and generating random weights for the benchmark.
#include "device_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "cuda_check.h"
#include "engine/model/model.h"
#include "engine/tensor.h"

namespace mlascope::cuda {

namespace {

constexpr uint64_t kAlign = 256;
uint64_t align_up(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

struct Slot {
  std::string role;             // "layer 3 kv_b_proj" (for messages)
  const TensorView* src = nullptr;
  int64_t rows = 0, cols = 0;   // vectors: rows = 1
  bool matrix = true;
  float init = 0.0f;            // random: uniform(-init, init) for matrices; the value for vectors
  std::function<void(void*)> bind;
};

void bind_mat(DevMat& m, int64_t rows, int64_t cols, void* p) {
  m.w = p;
  m.rows = static_cast<int>(rows);
  m.cols = static_cast<int>(cols);
}

// The whole tensor layout of a DeepSeek-V2/V3 model, in a fixed order. `model` may be null
// (planning, random weights); then src stays null.
std::vector<Slot> layout(const ModelConfig& c, DeviceModel& dm, const Model* model) {
  std::vector<Slot> s;
  const int64_t D = c.hidden_size, V = c.vocab_size, H = c.num_attention_heads;
  const int64_t QH = c.qk_head_dim(), R = c.kv_lora_rank, P = c.qk_rope_head_dim, VD = c.v_head_dim;
  auto mat = [&](std::string role, const TensorView* src, int64_t rows, int64_t cols, DevMat& dst) {
    s.push_back({std::move(role), src, rows, cols, true, std::sqrt(3.0f / static_cast<float>(cols)),
                 [&dst, rows, cols](void* p) { bind_mat(dst, rows, cols, p); }});
  };
  auto vec = [&](std::string role, const TensorView* src, int64_t n, float value, const float*& dst) {
    s.push_back({std::move(role), src, 1, n, false, value, [&dst](void* p) { dst = static_cast<const float*>(p); }});
  };
  auto ffn = [&](const std::string& role, const FfnWeights* w, int64_t ff, DevFfn& dst) {
    mat(role + ".gate_proj", w ? w->gate_proj : nullptr, ff, D, dst.gate);
    mat(role + ".up_proj", w ? w->up_proj : nullptr, ff, D, dst.up);
    mat(role + ".down_proj", w ? w->down_proj : nullptr, D, ff, dst.down);
  };

  // The embedding is read one row per token: unit-scale rows keep the residual stream O(1).
  s.push_back({"embed_tokens", model ? &model->embed_tokens() : nullptr, V, D, true, 1.0f,
               [&dm, V, D](void* p) { bind_mat(dm.embed, V, D, p); }});
  const bool tied = model && model->lm_head().data == model->embed_tokens().data;
  if (!tied) mat("lm_head", model ? &model->lm_head() : nullptr, V, D, dm.lm_head);
  vec("norm", model ? &model->norm() : nullptr, D, 1.0f, dm.norm);

  dm.layers.resize(static_cast<size_t>(c.num_hidden_layers));
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    DevLayer& L = dm.layers[static_cast<size_t>(l)];
    const LayerWeights* w = model ? &model->layer(l) : nullptr;
    const std::string p = "layer " + std::to_string(l) + " ";
    vec(p + "input_layernorm", w ? w->input_layernorm : nullptr, D, 1.0f, L.input_norm);
    vec(p + "post_attention_layernorm", w ? w->post_attention_layernorm : nullptr, D, 1.0f, L.post_norm);
    if (c.has_q_lora()) {
      mat(p + "q_a_proj", w ? w->q_a_proj : nullptr, c.q_lora_rank, D, L.q_a);
      vec(p + "q_a_layernorm", w ? w->q_a_layernorm : nullptr, c.q_lora_rank, 1.0f, L.q_a_norm);
      mat(p + "q_b_proj", w ? w->q_b_proj : nullptr, H * QH, c.q_lora_rank, L.q_b);
    } else {
      mat(p + "q_proj", w ? w->q_proj : nullptr, H * QH, D, L.q_proj);
    }
    mat(p + "kv_a_proj_with_mqa", w ? w->kv_a_proj_with_mqa : nullptr, R + P, D, L.kv_a);
    vec(p + "kv_a_layernorm", w ? w->kv_a_layernorm : nullptr, R, 1.0f, L.kv_a_norm);
    mat(p + "kv_b_proj", w ? w->kv_b_proj : nullptr, H * (c.qk_nope_head_dim + VD), R, L.kv_b);
    mat(p + "o_proj", w ? w->o_proj : nullptr, D, H * VD, L.o_proj);
    L.is_moe = c.is_moe_layer(l);
    if (!L.is_moe) {
      ffn(p + "mlp", w ? &w->dense : nullptr, c.intermediate_size, L.dense);
      continue;
    }
    const int E = c.n_routed_experts;
    mat(p + "mlp.gate", w ? w->gate : nullptr, E, D, L.router);
    const bool want_bias = c.topk_method == TopkMethod::NoauxTc && (!model || w->e_score_correction_bias);
    if (want_bias) vec(p + "e_score_correction_bias", w ? w->e_score_correction_bias : nullptr, E, 0.0f, L.bias);
    L.experts.resize(static_cast<size_t>(E));
    for (int e = 0; e < E; ++e)
      ffn(p + "expert " + std::to_string(e), w ? &w->experts[static_cast<size_t>(e)] : nullptr,
          c.moe_intermediate_size, L.experts[static_cast<size_t>(e)]);
    L.has_shared = c.n_shared_experts > 0;
    if (L.has_shared)
      ffn(p + "shared_experts", (w && w->shared_experts) ? &*w->shared_experts : nullptr, c.shared_intermediate_size(),
          L.shared);
  }
  if (tied) s.push_back({"lm_head (tied)", nullptr, 0, 0, true, 0.0f, [&dm](void*) { dm.lm_head = dm.embed; }});
  return s;
}

uint64_t slot_bytes(const Slot& s, WType wt) {
  return static_cast<uint64_t>(s.rows) * static_cast<uint64_t>(s.cols) * (s.matrix ? wtype_bytes(wt) : 4);
}

// Decode tables: per layer [E + 1] FfnEntry (or [1] for dense) + one slot id + one weight.
uint64_t table_bytes(const ModelConfig& c) {
  uint64_t b = 0;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const uint64_t n = c.is_moe_layer(l) ? static_cast<uint64_t>(c.n_routed_experts) + 1 : 1;
    b += align_up(n * sizeof(FfnEntry)) + 2 * kAlign;
  }
  return b;
}

void check_shape(const Slot& s, const std::string& model_name) {
  if (!s.src) fail("cuda", model_name, s.role + ": weight missing");
  const std::vector<int64_t> want = s.matrix ? std::vector<int64_t>{s.rows, s.cols} : std::vector<int64_t>{s.cols};
  if (s.src->shape != want)
    fail("cuda", model_name,
         s.role + " '" + s.src->name + "': shape " + s.src->shape_string() + " does not match the config");
}

class Arena {
 public:
  explicit Arena(void* base) : base_(static_cast<char*>(base)) {}
  void* take(uint64_t bytes) {
    void* p = base_ + off_;
    off_ += align_up(bytes);
    return p;
  }
  uint64_t used() const { return off_; }

 private:
  char* base_;
  uint64_t off_ = 0;
};

void finish(DeviceModel& dm, Arena& arena) {
  const ModelConfig& c = dm.cfg;
  dm.ffn_vec_ok = c.hidden_size % 8 == 0;
  uint64_t per_token = static_cast<uint64_t>(c.hidden_size) * wtype_bytes(dm.wt) + dm.lm_head.bytes(dm.wt) +
                       static_cast<uint64_t>(c.hidden_size) * 4;
  std::vector<FfnEntry> host;
  for (DevLayer& L : dm.layers) {
    per_token += L.q_proj.bytes(dm.wt) + L.q_a.bytes(dm.wt) + L.q_b.bytes(dm.wt) + L.kv_a.bytes(dm.wt) +
                 L.kv_b.bytes(dm.wt) + L.o_proj.bytes(dm.wt) + 2ull * c.hidden_size * 4;
    auto entry = [&](const DevFfn& f) {
      if (f.ff() % 8 != 0) dm.ffn_vec_ok = false;
      return FfnEntry{f.gate.w, f.up.w, f.down.w, f.ff()};
    };
    auto ffn_bytes = [&](const DevFfn& f) { return f.gate.bytes(dm.wt) + f.up.bytes(dm.wt) + f.down.bytes(dm.wt); };
    host.clear();
    if (L.is_moe) {
      for (const DevFfn& f : L.experts) host.push_back(entry(f));
      host.push_back(L.has_shared ? entry(L.shared) : FfnEntry{});
      per_token += L.router.bytes(dm.wt) +
                   static_cast<uint64_t>(c.num_experts_per_tok) * (L.experts.empty() ? 0 : ffn_bytes(L.experts[0])) +
                   (L.has_shared ? ffn_bytes(L.shared) : 0);
    } else {
      host.push_back(entry(L.dense));
      per_token += ffn_bytes(L.dense);
    }
    L.table = static_cast<FfnEntry*>(arena.take(host.size() * sizeof(FfnEntry)));
    L.dense_slot = static_cast<int32_t*>(arena.take(4));
    L.dense_weight = static_cast<float*>(arena.take(4));
    const int32_t zero = 0;
    const float one = 1.0f;
    MLASCOPE_CUDA_CHECK(cudaMemcpy(L.table, host.data(), host.size() * sizeof(FfnEntry), cudaMemcpyHostToDevice));
    MLASCOPE_CUDA_CHECK(cudaMemcpy(L.dense_slot, &zero, 4, cudaMemcpyHostToDevice));
    MLASCOPE_CUDA_CHECK(cudaMemcpy(L.dense_weight, &one, 4, cudaMemcpyHostToDevice));
  }
  const std::vector<float> inv_freq = c.rope_inv_freq();
  dm.inv_freq = static_cast<float*>(arena.take(inv_freq.size() * 4));
  MLASCOPE_CUDA_CHECK(cudaMemcpy(dm.inv_freq, inv_freq.data(), inv_freq.size() * 4, cudaMemcpyHostToDevice));
  dm.decode_bytes_per_token = per_token;
}

uint64_t max_matrix(const std::vector<Slot>& slots) {
  uint64_t m = 0;
  for (const Slot& s : slots)
    if (s.matrix && s.role.rfind("embed", 0) != 0 && s.role.rfind("lm_head", 0) != 0)
      m = std::max<uint64_t>(m, static_cast<uint64_t>(s.rows) * static_cast<uint64_t>(s.cols));
  return m;
}

// Pinned staging buffer for host -> device uploads, freed on scope exit.
struct Pinned {
  void* p = nullptr;
  explicit Pinned(size_t n) { MLASCOPE_CUDA_CHECK(cudaMallocHost(&p, n)); }
  ~Pinned() { cudaFreeHost(p); }
  Pinned(const Pinned&) = delete;
  Pinned& operator=(const Pinned&) = delete;
};

void upload_slot(const Slot& s, WType wt, void* dst, Pinned& stage, size_t stage_bytes) {
  const TensorView& t = *s.src;
  if (!s.matrix) {
    const std::vector<float> v = t.to_f32();
    MLASCOPE_CUDA_CHECK(cudaMemcpy(dst, v.data(), v.size() * 4, cudaMemcpyHostToDevice));
    return;
  }
  const bool raw = (wt == WType::F32 && t.dtype == DType::F32) || (wt == WType::BF16 && t.dtype == DType::BF16);
  const size_t row_bytes = static_cast<size_t>(s.cols) * wtype_bytes(wt);
  const int64_t rows_per = std::max<int64_t>(1, static_cast<int64_t>(stage_bytes / row_bytes));
  if (row_bytes > stage_bytes) fail("cuda", t.name, "row larger than the upload staging buffer");
  std::vector<float> row(static_cast<size_t>(s.cols));
  for (int64_t r0 = 0; r0 < s.rows; r0 += rows_per) {
    const int64_t nr = std::min(rows_per, s.rows - r0);
    char* st = static_cast<char*>(stage.p);
    if (raw) {
      std::memcpy(st, static_cast<const char*>(t.data) + static_cast<size_t>(r0) * row_bytes,
                  static_cast<size_t>(nr) * row_bytes);
    } else {
      for (int64_t r = 0; r < nr; ++r) {
        t.row_to_f32(r0 + r, row.data());
        if (wt == WType::F32) {
          std::memcpy(st + static_cast<size_t>(r) * row_bytes, row.data(), row_bytes);
        } else {
          auto* o = reinterpret_cast<uint16_t*>(st + static_cast<size_t>(r) * row_bytes);
          for (int64_t i = 0; i < s.cols; ++i) o[i] = mlascope::f32_to_bf16(row[static_cast<size_t>(i)]);
        }
      }
    }
    MLASCOPE_CUDA_CHECK(cudaMemcpy(static_cast<char*>(dst) + static_cast<size_t>(r0) * row_bytes, st,
                                   static_cast<size_t>(nr) * row_bytes, cudaMemcpyHostToDevice));
  }
}

}  // namespace

DeviceModel::DeviceModel(DeviceModel&& o) noexcept { *this = std::move(o); }
DeviceModel& DeviceModel::operator=(DeviceModel&& o) noexcept {
  if (this == &o) return *this;
  if (arena_) cudaFree(arena_);
  cfg = std::move(o.cfg);
  name = std::move(o.name);
  wt = o.wt;
  embed = o.embed;
  lm_head = o.lm_head;
  norm = o.norm;
  layers = std::move(o.layers);
  inv_freq = o.inv_freq;
  ffn_vec_ok = o.ffn_vec_ok;
  arena_bytes = o.arena_bytes;
  max_matrix_elems = o.max_matrix_elems;
  decode_bytes_per_token = o.decode_bytes_per_token;
  arena_ = o.arena_;
  o.arena_ = nullptr;
  return *this;
}
DeviceModel::~DeviceModel() {
  if (arena_) cudaFree(arena_);
}

WType DeviceModel::weight_type_for(const Model& model) {
  for (const std::string& n : model.weights().names()) {
    const TensorView* t = model.weights().find(n);
    if (t && t->shape.size() == 2 && (t->dtype == DType::F32 || t->dtype == DType::F16)) return WType::F32;
  }
  return WType::BF16;
}

uint64_t DeviceModel::planned_bytes(const ModelConfig& cfg, WType wt) {
  DeviceModel scratch;
  scratch.cfg = cfg;
  uint64_t b = table_bytes(cfg) + align_up(static_cast<uint64_t>(cfg.qk_rope_head_dim) * 2);
  for (const Slot& s : layout(cfg, scratch, nullptr)) b += align_up(slot_bytes(s, wt));
  return b;
}

DeviceModel DeviceModel::upload(const Model& model) {
  DeviceModel dm;
  dm.cfg = model.config();
  dm.name = model.name();
  dm.wt = weight_type_for(model);
  const std::vector<Slot> slots = layout(dm.cfg, dm, &model);
  uint64_t total = table_bytes(dm.cfg) + align_up(static_cast<uint64_t>(dm.cfg.qk_rope_head_dim) * 2);
  for (const Slot& s : slots) {
    if (s.rows == 0) continue;  // tied lm_head
    check_shape(s, dm.name);
    total += align_up(slot_bytes(s, dm.wt));
  }
  MLASCOPE_CUDA_CHECK(cudaMalloc(&dm.arena_, total));
  dm.arena_bytes = total;
  dm.max_matrix_elems = max_matrix(slots);
  Arena arena(dm.arena_);
  constexpr size_t kStage = 64u << 20;
  Pinned stage(kStage);
  uint64_t done = 0;
  int last_decile = -1;
  for (const Slot& s : slots) {
    if (s.rows == 0) {
      s.bind(nullptr);
      continue;
    }
    void* p = arena.take(slot_bytes(s, dm.wt));
    upload_slot(s, dm.wt, p, stage, kStage);
    s.bind(p);
    done += slot_bytes(s, dm.wt);
    const int decile = static_cast<int>(10 * done / total);
    if (decile != last_decile) {
      spdlog::info("[cuda] uploading {}: {}%", dm.name, decile * 10);
      last_decile = decile;
    }
  }
  finish(dm, arena);
  return dm;
}

DeviceModel DeviceModel::random(const ModelConfig& cfg, uint64_t seed) {
  DeviceModel dm;
  dm.cfg = cfg;
  dm.name = "synthetic " + cfg.model_type;
  dm.wt = WType::BF16;
  const std::vector<Slot> slots = layout(dm.cfg, dm, nullptr);
  uint64_t total = table_bytes(dm.cfg) + align_up(static_cast<uint64_t>(dm.cfg.qk_rope_head_dim) * 2);
  for (const Slot& s : slots) total += align_up(slot_bytes(s, dm.wt));
  MLASCOPE_CUDA_CHECK(cudaMalloc(&dm.arena_, total));
  dm.arena_bytes = total;
  dm.max_matrix_elems = max_matrix(slots);
  Arena arena(dm.arena_);
  uint64_t i = 0;
  for (const Slot& s : slots) {
    void* p = arena.take(slot_bytes(s, dm.wt));
    const long long n = static_cast<long long>(s.rows) * s.cols;
    if (s.matrix)
      fill_random(dm.wt, p, n, seed * 0x9e3779b97f4a7c15ull + ++i, s.init, nullptr);
    else
      fill(static_cast<float*>(p), s.init, n, nullptr);
    s.bind(p);
  }
  MLASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
  finish(dm, arena);
  return dm;
}

}  // namespace mlascope::cuda
