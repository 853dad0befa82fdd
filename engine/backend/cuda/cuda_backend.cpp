// engine/backend/cuda/cuda_backend.cpp — the CUDA implementation of engine/backend/backend.h.
//
// Float32 activations throughout (the golden tolerances are for a float32 engine); weights BF16
// (or float32 for float32 checkpoints) accumulated in float32.
//  * one token (decode): custom kernels only — matrix-vector products, the absorbed MLA over the
//    latent cache split across blocks, routing and the chosen experts selected on the device —
//    recorded once as a CUDA graph and replayed, the position read from device memory;
//  * several tokens (prefill, eval): cuBLAS SGEMMs (bf16 weights widened to float32 in a
//    workspace first), attention as two GEMMs over the latent cache with a causal softmax between,
//    tokens grouped by routed expert with one GEMM triple per active expert.
// Tracing copies host-side float data to the TraceSink in the CPU path's layouts; routing records
// come from per-layer device buffers after the step, so routing-only tracing keeps the graph.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cublas_api.h"
#include "cuda_check.h"
#include "cuda_tools.h"
#include "device_model.h"
#include "engine/backend/backend.h"
#include "engine/model/model.h"

namespace mlascope::cuda {

namespace {

constexpr uint64_t kScoreBudget = 384ull << 20;  // scores + nope/rope parts of one prefill chunk
constexpr uint64_t kDeviceReserve = 512ull << 20;  // CUDA context, cuBLAS workspace, fragmentation
constexpr int kMaxChunk = 512;
static_assert(kMaxTopLogits <= kMaxSampleTop, "forward_top selects with top_k_logits");

double gib(uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0); }

std::string fmt_gib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", gib(b));
  return buf;
}

// Device memory that frees itself.
class DevBuf {
 public:
  DevBuf() = default;
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  ~DevBuf() {
    if (p_) cudaFree(p_);
  }
  void alloc(uint64_t bytes, const char* what) {
    if (bytes == 0) return;
    const cudaError_t e = cudaMalloc(&p_, bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();
      fail("cuda", std::string("cudaMalloc(") + what + ", " + fmt_gib(bytes) + ")", cudaGetErrorString(e));
    }
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  void* p_ = nullptr;
};

class PinnedBuf {
 public:
  PinnedBuf() = default;
  PinnedBuf(const PinnedBuf&) = delete;
  PinnedBuf& operator=(const PinnedBuf&) = delete;
  ~PinnedBuf() {
    if (p_) cudaFreeHost(p_);
  }
  void alloc(uint64_t bytes) {
    if (bytes) MLASCOPE_CUDA_CHECK(cudaMallocHost(&p_, bytes));
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  void* p_ = nullptr;
};

struct Sizes {
  int D, V, H, R, P, N, VD, QH, C, E, k, ql, max_ff, nc, ctx, splits, chunk_cap, L;
  uint64_t cache_bytes, work_bytes, wbuf_elems;
};

}  // namespace

class CudaBackend final : public Backend {
 public:
  CudaBackend(DeviceModel (*make)(const void*), const void* arg, const ModelConfig& cfg, WType wt,
              const std::string& model_name, const BackendOptions& opt)
      : opt_(opt), mode_(opt.mla) {
    int dev = 0;
    MLASCOPE_CUDA_CHECK(cudaGetDevice(&dev));
    cudaDeviceProp prop{};
    MLASCOPE_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    device_name_ = prop.name;
    plan(cfg, wt, opt);
    size_t free_b = 0, total_b = 0;
    MLASCOPE_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const uint64_t weights = DeviceModel::planned_bytes(cfg, wt);
    const uint64_t need = weights + z_.cache_bytes + z_.work_bytes + kDeviceReserve;
    spdlog::info("[cuda] {} on {}: weights {} ({}), {} cache {} for {} positions, workspace {}, free {} of {}",
                 model_name, device_name_, fmt_gib(weights), wt == WType::BF16 ? "bf16" : "f32",
                 mode_ == MlaMode::Absorbed ? "latent" : "naive K/V", fmt_gib(z_.cache_bytes), z_.ctx,
                 fmt_gib(z_.work_bytes), fmt_gib(free_b), fmt_gib(total_b));
    if (need > free_b)
      fail("cuda", model_name,
           "does not fit on " + device_name_ + ": needs " + fmt_gib(need) + " (weights " + fmt_gib(weights) + ", " +
               (mode_ == MlaMode::Absorbed ? "latent" : "naive K/V") + " cache " + fmt_gib(z_.cache_bytes) + " for " +
               std::to_string(z_.ctx) + " positions, workspace " + fmt_gib(z_.work_bytes) + ", reserve " +
               fmt_gib(kDeviceReserve) + ") but " + fmt_gib(free_b) + " of " + fmt_gib(total_b) +
               " are free; lower --context, use --mla absorbed, or use --device cpu");
    dm_ = make(arg);
    allocate();
    MLASCOPE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    MLASCOPE_CUDA_CHECK(blas::create(&blas_));
    MLASCOPE_CUDA_CHECK(blas::set_stream(blas_, stream_));
    // float32 GEMMs must stay float32 (no TF32): the tolerances are those of a float32 engine.
    MLASCOPE_CUDA_CHECK(blas::set_math_mode(blas_, CUBLAS_PEDANTIC_MATH));
    configure_decode_attention(dims_, z_.chunk_cap);
    scale_ = static_cast<float>(cfg.softmax_scale());
    rope_mscale_ = static_cast<float>(cfg.rope_mscale());
    eps_ = static_cast<float>(cfg.rms_norm_eps);
  }

  ~CudaBackend() override {
    if (graph_exec_) cudaGraphExecDestroy(graph_exec_);
    if (graph_) cudaGraphDestroy(graph_);
    if (blas_) blas::destroy(blas_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "cuda (" + device_name_ + ")"; }
  DeviceKind kind() const override { return DeviceKind::Cuda; }
  MlaMode mla_mode() const override { return mode_; }
  int max_context() const override { return z_.ctx; }
  int n_cached() const override { return n_cached_; }
  void truncate(int n) override { n_cached_ = std::clamp(n, 0, n_cached_); }
  uint64_t kv_bytes_in_use() const override { return static_cast<uint64_t>(n_cached_) * cache_row_bytes(); }

  StepStatus forward(const ForwardRequest& req, std::vector<float>& logits) override {
    return run(req, &logits);
  }

  // The graph (or eager) step, then the top-n selection over the vocabulary on the device: only
  // n ids, n logits and the log-sum-exp cross to the host.
  StepStatus forward_top(const ForwardRequest& req, int n_top, TopLogits& top) override {
    if (n_top < 1 || n_top > kMaxTopLogits || n_top > z_.V)
      fail("cuda", "forward_top", "n = " + std::to_string(n_top) + " outside 1.." +
                                      std::to_string(std::min(z_.V, kMaxTopLogits)));
    // A Logits trace point needs every row on the host anyway.
    if (req.all_logits || (req.trace && req.trace->wants(TracePoint::Logits))) return Backend::forward_top(req, n_top, top);
    const StepStatus st = run(req, nullptr);
    if (st != StepStatus::Ok || req.tokens.empty()) return st;
    top_k_logits(d_logits_.as<float>(), z_.V, n_top, d_top_id_.as<int32_t>(), d_top_logit_.as<float>(),
                 d_lse_.as<float>(), nullptr, stream_);
    auto* hid = h_top_.as<int32_t>();
    auto* hl = reinterpret_cast<float*>(hid + kMaxTopLogits);
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(hid, d_top_id_.as<int32_t>(), static_cast<size_t>(n_top) * 4,
                                        cudaMemcpyDeviceToHost, stream_));
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(hl, d_top_logit_.as<float>(), static_cast<size_t>(n_top) * 4,
                                        cudaMemcpyDeviceToHost, stream_));
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(hl + kMaxTopLogits, d_lse_.as<float>(), 4, cudaMemcpyDeviceToHost, stream_));
    MLASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream_));
    top.id.assign(hid, hid + n_top);
    top.logit.assign(hl, hl + n_top);
    top.lse = hl[kMaxTopLogits];
    return StepStatus::Ok;
  }

  std::vector<int32_t> decode_greedy(int32_t first, int n_steps) {
    if (n_steps <= 0) return {};
    if (n_cached_ + n_steps > z_.ctx) fail("cuda", "decode_greedy", "context would overflow");
    if (first < 0 || first >= z_.V) fail("cuda", "decode_greedy", "token id outside the vocabulary");
    std::vector<int32_t> ids(static_cast<size_t>(n_steps));
    h_tokens_.as<int32_t>()[0] = first;
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(d_tokens_.as<int32_t>(), h_tokens_.as<int32_t>(), 4, cudaMemcpyHostToDevice, stream_));
    set_start(n_cached_);
    for (int i = 0; i < n_steps; ++i) {
      // Nothing waits between steps, so the position advances on the device, not from host memory.
      if (i > 0) add_i32(d_start_.as<int32_t>(), 1, stream_);
      decode_step_graph();
      // The argmax writes the next input token straight into the token buffer.
      top_k_logits(d_logits_.as<float>(), z_.V, 1, d_top_id_.as<int32_t>() + i, d_top_logit_.as<float>(),
                   d_lse_.as<float>(), d_tokens_.as<int32_t>(), stream_);
      ++n_cached_;
    }
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(ids.data(), d_top_id_.as<int32_t>(), ids.size() * 4, cudaMemcpyDeviceToHost, stream_));
    MLASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return ids;
  }

  // logits null: the last position's logits stay on the device (d_logits_ row 0), nothing else crosses.
  StepStatus run(const ForwardRequest& req, std::vector<float>* logits) {
    const int n = static_cast<int>(req.tokens.size());
    if (req.start_pos != n_cached_)
      fail("cuda", "forward", "start_pos " + std::to_string(req.start_pos) + " but " + std::to_string(n_cached_) +
                                  " positions are cached");
    if (logits) logits->clear();
    if (n == 0) return StepStatus::Ok;
    if (req.start_pos + n > z_.ctx) return StepStatus::ContextFull;
    for (int32_t t : req.tokens)
      if (t < 0 || t >= z_.V)
        fail("cuda", "forward", "token id " + std::to_string(t) + " outside the vocabulary (" + std::to_string(z_.V) + ")");
    TraceSink* tr = (req.trace && req.trace->any()) ? req.trace : nullptr;
    const bool rows_all = logits && (req.all_logits || (tr && tr->wants(TracePoint::Logits)));
    for (int c0 = 0; c0 < n; c0 += z_.nc) {
      const int m = std::min(z_.nc, n - c0);
      const bool last = c0 + m == n;
      const int first_row = rows_all ? 0 : (last ? m - 1 : m);  // m: no logits from this chunk
      run_chunk(req.tokens.subspan(static_cast<size_t>(c0), static_cast<size_t>(m)), req.start_pos + c0, first_row,
                tr, logits);
      n_cached_ = req.start_pos + c0 + m;
    }
    if (logits && !req.all_logits && logits->size() > static_cast<size_t>(z_.V))
      logits->erase(logits->begin(), logits->end() - z_.V);
    return StepStatus::Ok;
  }

  CudaBackendInfo info() const {
    CudaBackendInfo i;
    i.device = device_name_;
    int dev = 0, clock_khz = 0, bus_bits = 0;
    if (cudaGetDevice(&dev) == cudaSuccess &&
        cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, dev) == cudaSuccess &&
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev) == cudaSuccess)
      i.peak_bandwidth_gbs = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;  // double data rate
    cudaGetLastError();
    i.weight_bytes = dm_.arena_bytes;
    i.cache_bytes = z_.cache_bytes;
    i.workspace_bytes = z_.work_bytes;
    i.decode_weight_bytes = dm_.decode_bytes_per_token;
    i.cache_bytes_per_position = cache_row_bytes();
    i.prefill_chunk = z_.nc;
    i.graphs = use_graphs_;
    return i;
  }

 private:
  uint64_t cache_row_bytes() const {
    const uint64_t per_layer = mode_ == MlaMode::Absorbed ? static_cast<uint64_t>(z_.C)
                                                          : static_cast<uint64_t>(z_.H) * (z_.QH + z_.VD);
    return per_layer * 4 * static_cast<uint64_t>(z_.L);
  }

  // ---------------------------------------------------------------- sizes and buffers
  void plan(const ModelConfig& c, WType wt, const BackendOptions& opt) {
    Sizes& z = z_;
    z.D = c.hidden_size;
    z.V = c.vocab_size;
    z.H = c.num_attention_heads;
    z.R = c.kv_lora_rank;
    z.P = c.qk_rope_head_dim;
    z.N = c.qk_nope_head_dim;
    z.VD = c.v_head_dim;
    z.QH = c.qk_head_dim();
    z.C = c.latent_cache_dim();
    z.E = c.n_routed_experts;
    z.k = std::min(c.num_experts_per_tok, kMaxRouteK);
    z.ql = c.q_lora_rank;
    z.L = c.num_hidden_layers;
    z.max_ff = std::max({c.intermediate_size, c.moe_intermediate_size, c.shared_intermediate_size(), 1});
    z.ctx = opt.max_context > 0 ? opt.max_context : std::min(c.max_position_embeddings, 4096);
    if (c.max_position_embeddings > 0) z.ctx = std::min(z.ctx, c.max_position_embeddings);
    if (z.ctx <= 0) fail("cuda", "max_context", "must be positive");
    if (z.E > kMaxRoutedExperts) fail("cuda", "n_routed_experts", "more than 512 routed experts are not supported");
    if (z.P % 2 != 0 || z.R % 2 != 0) fail("cuda", "config", "qk_rope_head_dim and kv_lora_rank must be even");
    dims_ = MlaDims{z.H, z.R, z.N, z.P, z.VD};
    z.nc = static_cast<int>(std::clamp<uint64_t>(kScoreBudget / (12ull * z.H * z.ctx), 1, kMaxChunk));
    z.splits = std::max((z.ctx + 63) / 64, 132);  // >= one block per SM of an H100/H200 at short context
    z.chunk_cap = decode_chunk_cap(z.ctx, z.splits);
    z.cache_bytes = mode_ == MlaMode::Absorbed
                        ? 4ull * z.L * z.ctx * z.C
                        : 4ull * z.L * z.ctx * z.H * static_cast<uint64_t>(z.QH + z.VD);
    // Largest matrix widened to float32 for cuBLAS (bf16 weights), at least a 1024-row lm_head slice.
    uint64_t max_mat = 0;
    auto upd = [&](uint64_t r, uint64_t cols) { max_mat = std::max(max_mat, r * cols); };
    upd(static_cast<uint64_t>(z.H) * z.QH, c.has_q_lora() ? z.ql : z.D);
    upd(static_cast<uint64_t>(z.ql), z.D);
    upd(static_cast<uint64_t>(z.C), z.D);
    upd(static_cast<uint64_t>(z.H) * (z.N + z.VD), z.R);
    upd(static_cast<uint64_t>(z.D), static_cast<uint64_t>(z.H) * z.VD);
    upd(static_cast<uint64_t>(z.max_ff), z.D);
    upd(static_cast<uint64_t>(z.E), z.D);
    z.wbuf_elems = wt == WType::BF16 ? std::max<uint64_t>(max_mat, 1024ull * z.D) : 0;
    const uint64_t nc = static_cast<uint64_t>(z.nc);
    const uint64_t acts = nc * (4ull * z.D + static_cast<uint64_t>(z.ql) + static_cast<uint64_t>(z.H) * z.QH + z.C +
                                z.C + static_cast<uint64_t>(z.H) * z.C + static_cast<uint64_t>(z.H) * z.R +
                                static_cast<uint64_t>(z.H) * z.VD + static_cast<uint64_t>(z.H) * (z.N + z.VD) +
                                z.E + 2ull * z.max_ff) +
                          std::max<uint64_t>(nc, z.k + 1ull) * z.max_ff;
    const uint64_t scores = 3ull * nc * z.H * z.ctx;
    const uint64_t logits = nc * z.V;
    const uint64_t routes = static_cast<uint64_t>(z.L) * nc * (2ull * z.E + 2ull * z.k + 3);
    const uint64_t partials = static_cast<uint64_t>(z.splits) * z.H * (z.R + 2ull);
    const uint64_t lists = nc * (z.k + 1ull) * 2 + 2ull * (z.k + 1) + nc + 64;
    z.work_bytes = 4ull * (acts + scores + logits + routes + partials + lists + z.wbuf_elems) + 64 * 256;
  }

  void allocate() {
    const Sizes& z = z_;
    const uint64_t nc = static_cast<uint64_t>(z.nc);
    cache_.alloc(z.cache_bytes, "kv cache");
    x_.alloc(4 * nc * z.D, "x");
    h_.alloc(4 * nc * z.D, "h");
    xe_.alloc(4 * nc * z.D, "xe");
    ye_.alloc(4 * nc * z.D, "ye");
    qa_.alloc(4 * nc * std::max(z.ql, 1), "qa");
    q_.alloc(4 * nc * z.H * z.QH, "q");
    kv_.alloc(4 * nc * z.C, "kv");
    lat_.alloc(4 * nc * z.C, "latent rows");
    qcat_.alloc(4 * nc * z.H * z.C, "qcat");
    olat_.alloc(4 * nc * z.H * z.R, "olat");
    ov_.alloc(4 * nc * z.H * z.VD, "ov");
    kvb_.alloc(4 * nc * z.H * (z.N + z.VD), "kvb");
    rlog_.alloc(4 * nc * std::max(z.E, 1), "router logits");
    g_.alloc(4 * nc * z.max_ff, "gate");
    u_.alloc(4 * nc * z.max_ff, "up");
    act_.alloc(4 * std::max<uint64_t>(nc, z.k + 1ull) * z.max_ff, "act");
    const uint64_t sc = nc * z.H * z.ctx;
    S_.alloc(4 * sc, "scores");
    Sn_.alloc(4 * sc, "nope scores");
    Sr_.alloc(4 * sc, "rope scores");
    d_logits_.alloc(4 * nc * z.V, "logits");
    const uint64_t LE = static_cast<uint64_t>(z.L) * nc * std::max(z.E, 1);
    const uint64_t Lk = static_cast<uint64_t>(z.L) * nc * z.k;
    r_scores_.alloc(4 * LE, "route scores");
    r_sel_.alloc(4 * LE, "route selection");
    r_idx_.alloc(4 * Lk, "route idx");
    r_w_.alloc(4 * Lk, "route weights");
    r_kept_.alloc(8 * z.L * nc, "route kept");
    r_margin_.alloc(4 * z.L * nc, "route margin");
    slot_e_.alloc(4 * (z.k + 1ull), "slots");
    slot_w_.alloc(4 * (z.k + 1ull), "slot weights");
    part_o_.alloc(4ull * z.splits * z.H * z.R, "partials");
    part_m_.alloc(4ull * z.splits * z.H, "partial max");
    part_l_.alloc(4ull * z.splits * z.H, "partial sum");
    list_rows_.alloc(4 * nc * (z.k + 1ull), "expert rows");
    list_w_.alloc(4 * nc * (z.k + 1ull), "expert weights");
    d_tokens_.alloc(4 * nc, "tokens");
    d_start_.alloc(4, "start");
    d_top_id_.alloc(4ull * std::max(z.ctx, kMaxSampleTop), "top ids");
    d_top_logit_.alloc(4 * kMaxSampleTop, "top logits");
    d_lse_.alloc(4, "lse");
    if (z.wbuf_elems) wbuf_.alloc(4 * z.wbuf_elems, "widened weights");
    h_tokens_.alloc(4 * nc);
    h_start_.alloc(4);
    h_logits_.alloc(4 * nc * z.V);
    h_vec_.alloc(4 * nc * std::max({z.D, z.C, z.E, 1}));
    h_attn_.alloc(4ull * 3 * z.H * z.ctx);
    h_route_.alloc(static_cast<uint64_t>(z.L) * nc * (8ull * z.E + 8ull * z.k + 12) + 64);
    h_lists_.alloc(8 * nc * (z.k + 1ull));
    h_top_.alloc(4ull * (2 * kMaxTopLogits + 1));
  }

  void set_start(int start) {
    h_start_.as<int32_t>()[0] = start;
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(d_start_.as<int32_t>(), h_start_.as<int32_t>(), 4, cudaMemcpyHostToDevice, stream_));
  }

  // ---------------------------------------------------------------- products
  // y [n, W.rows] (+)= x [n, W.cols] W^T; row strides in floats.
  void matmul(const DevMat& W, const float* x, long long x_stride, int n, float* y, long long y_stride, bool acc) {
    if (n == 1) {
      gemv(dm_.wt, W.w, W.rows, W.cols, W.cols, 0, x, 0, 0, y, 0, 0, 1, 1, acc, stream_);
      return;
    }
    const float alpha = 1.0f, beta = acc ? 1.0f : 0.0f;
    if (dm_.wt == WType::F32) {
      MLASCOPE_CUDA_CHECK(blas::sgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, W.rows, n, W.cols, &alpha,
                                      static_cast<const float*>(W.w), W.cols, x, static_cast<int>(x_stride), &beta, y,
                                      static_cast<int>(y_stride)));
      return;
    }
    const int rows_per = static_cast<int>(std::max<uint64_t>(1, z_.wbuf_elems / static_cast<uint64_t>(W.cols)));
    for (int r0 = 0; r0 < W.rows; r0 += rows_per) {
      const int nr = std::min(rows_per, W.rows - r0);
      dequant_to_f32(dm_.wt, static_cast<const char*>(W.w) + static_cast<size_t>(r0) * W.cols * 2, wbuf_.as<float>(),
                     static_cast<long long>(nr) * W.cols, stream_);
      MLASCOPE_CUDA_CHECK(blas::sgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, nr, n, W.cols, &alpha, wbuf_.as<float>(),
                                      W.cols, x, static_cast<int>(x_stride), &beta, y + r0, static_cast<int>(y_stride)));
    }
  }

  // x[rows] += w * FFN(h[rows]) for m tokens (rows null: all m tokens, in order).
  void ffn_rows(const DevFfn& f, const int32_t* rows, const float* w, int m) {
    const int D = z_.D, ff = f.ff();
    const float* src = h_.as<float>();
    if (rows) {
      gather_rows(h_.as<float>(), rows, m, D, xe_.as<float>(), stream_);
      src = xe_.as<float>();
    }
    matmul(f.gate, src, D, m, g_.as<float>(), ff, false);
    matmul(f.up, src, D, m, u_.as<float>(), ff, false);
    swiglu(g_.as<float>(), u_.as<float>(), act_.as<float>(), static_cast<long long>(m) * ff, stream_);
    matmul(f.down, act_.as<float>(), ff, m, ye_.as<float>(), D, false);
    scatter_add_rows(x_.as<float>(), rows, w, ye_.as<float>(), m, D, stream_);
  }

  // ---------------------------------------------------------------- one layer
  // n tokens at positions start.. (start is also in d_start). graph: nothing may synchronise.
  void layer(int l, int n, int start, TraceSink* tr, bool graph) {
    const Sizes& z = z_;
    const DevLayer& L = dm_.layers[static_cast<size_t>(l)];
    float* x = x_.as<float>();
    float* h = h_.as<float>();
    float* q = q_.as<float>();
    rms_norm(x, z.D, L.input_norm, h, z.D, n, z.D, eps_, stream_);
    if (z.ql > 0) {
      matmul(L.q_a, h, z.D, n, qa_.as<float>(), z.ql, false);
      rms_norm(qa_.as<float>(), z.ql, L.q_a_norm, qa_.as<float>(), z.ql, n, z.ql, eps_, stream_);
      matmul(L.q_b, qa_.as<float>(), z.ql, n, q, z.H * z.QH, false);
    } else {
      matmul(L.q_proj, h, z.D, n, q, z.H * z.QH, false);
    }
    matmul(L.kv_a, h, z.D, n, kv_.as<float>(), z.C, false);
    const bool absorbed = mode_ == MlaMode::Absorbed;
    // Absorbed: this layer's latent cache [ctx, C]; naive: the chunk's latent rows [n, C].
    float* cache_l = cache_.as<float>() + static_cast<size_t>(l) * z.ctx * z.C;
    float* lat = absorbed ? cache_l : lat_.as<float>();
    mla_prepare(dims_, kv_.as<float>(), z.C, L.kv_a_norm, eps_, dm_.inv_freq, rope_mscale_, d_start_.as<int32_t>(), n,
                q, lat, absorbed, stream_);
    if (tr && tr->wants(TracePoint::KvLatent, l)) {
      const float* rows = absorbed ? lat + static_cast<size_t>(start) * z.C : lat;
      float* hv = copy_to_host(rows, static_cast<size_t>(n) * z.C);
      for (int t = 0; t < n; ++t)
        tr->on_kv_latent(l, start + t, {hv + static_cast<size_t>(t) * z.C, static_cast<size_t>(z.R)},
                         {hv + static_cast<size_t>(t) * z.C + z.R, static_cast<size_t>(z.P)});
    }
    const bool want_probs = tr && tr->wants(TracePoint::AttnProbs, l);
    const bool want_parts = tr && tr->wants(TracePoint::AttnParts, l);
    const long long ldS = z.ctx;
    if (absorbed) {
      mla_absorb_q(dm_.wt, dims_, L.kv_b.w, q, n, qcat_.as<float>(), stream_);
      if (n == 1 && !want_probs && !want_parts) {
        mla_decode_attention(dims_, qcat_.as<float>(), cache_l, d_start_.as<int32_t>(), scale_, z.splits, z.chunk_cap,
                             part_o_.as<float>(), part_m_.as<float>(), part_l_.as<float>(), olat_.as<float>(), stream_);
      } else {
        if (graph) fail("cuda", "graph capture", "batched attention cannot be captured");
        const int n_keys = start + n;
        const int nH = n * z.H;
        const float zero = 0.0f, one = 1.0f;
        // S^T [n_keys, nH] = latent [n_keys, C] . qcat^T: every head of every token against every key.
        MLASCOPE_CUDA_CHECK(blas::sgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, n_keys, nH, z.C, &scale_, cache_l, z.C,
                                        qcat_.as<float>(), z.C, &zero, S_.as<float>(), static_cast<int>(ldS)));
        if (want_parts) {
          MLASCOPE_CUDA_CHECK(blas::sgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, n_keys, nH, z.R, &scale_, cache_l, z.C,
                                          qcat_.as<float>(), z.C, &zero, Sn_.as<float>(), static_cast<int>(ldS)));
          MLASCOPE_CUDA_CHECK(blas::sgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, n_keys, nH, z.P, &scale_, cache_l + z.R, z.C,
                                          qcat_.as<float>() + z.R, z.C, &zero, Sr_.as<float>(), static_cast<int>(ldS)));
        }
        causal_softmax_rows(S_.as<float>(), ldS, n, z.H, start, n_keys, stream_);
        // olat^T [R, nH] = latent[:, :R]^T [R, n_keys] . P^T [n_keys, nH]
        MLASCOPE_CUDA_CHECK(blas::sgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_N, z.R, nH, n_keys, &one, cache_l, z.C,
                                        S_.as<float>(), static_cast<int>(ldS), &zero, olat_.as<float>(), z.R));
      }
      mla_absorb_out(dm_.wt, dims_, L.kv_b.w, olat_.as<float>(), n, ov_.as<float>(), stream_);
    } else {
      // Naive: K/V per head decompressed from the latent row and cached.
      matmul(L.kv_b, lat, z.C, n, kvb_.as<float>(), z.H * (z.N + z.VD), false);
      float* k_cache = cache_.as<float>() + static_cast<size_t>(l) * z.ctx * z.H * (z.QH + z.VD);
      float* v_cache = k_cache + static_cast<size_t>(z.ctx) * z.H * z.QH;
      naive_store(dims_, kvb_.as<float>(), lat, d_start_.as<int32_t>(), n, k_cache, v_cache, stream_);
      naive_attention(dims_, q, k_cache, v_cache, d_start_.as<int32_t>(), n, scale_, S_.as<float>(),
                      want_parts ? Sn_.as<float>() : nullptr, want_parts ? Sr_.as<float>() : nullptr, ldS,
                      ov_.as<float>(), stream_);
    }
    if (want_probs || want_parts) emit_attention(tr, l, n, start, want_parts);
    matmul(L.o_proj, ov_.as<float>(), z.H * z.VD, n, x, z.D, true);
    rms_norm(x, z.D, L.post_norm, h, z.D, n, z.D, eps_, stream_);
    ffn(l, L, n, graph);
    if (tr && L.is_moe && (tr->wants(TracePoint::Route, l) || tr->wants(TracePoint::RouterProbs, l)))
      emit_routes(tr, l, l + 1, n, start);
    if (tr && tr->wants(TracePoint::Hidden, l)) {
      float* hv = copy_to_host(x, static_cast<size_t>(n) * z.D);
      for (int t = 0; t < n; ++t)
        tr->on_vector(TracePoint::Hidden, l, start + t, {hv + static_cast<size_t>(t) * z.D, static_cast<size_t>(z.D)});
    }
  }

  void route_layer(int l, const DevLayer& L, int n, bool slots) {
    const Sizes& z = z_;
    matmul(L.router, h_.as<float>(), z.D, n, rlog_.as<float>(), z.E, false);
    const ModelConfig& c = dm_.cfg;
    RouteParams p;
    p.n_experts = z.E;
    p.k = z.k;
    p.n_group = std::max(c.n_group, 1);
    p.topk_group = c.topk_group;
    p.sigmoid = c.scoring_func == ScoringFunc::Sigmoid;
    p.grouped = c.topk_method != TopkMethod::Greedy && c.n_group > 1;
    p.noaux = c.topk_method == TopkMethod::NoauxTc;
    p.norm_topk_prob = c.norm_topk_prob;
    p.routed_scaling_factor = static_cast<float>(c.routed_scaling_factor);
    const size_t o = static_cast<size_t>(l) * z.nc;
    route(p, rlog_.as<float>(), L.bias, n, r_scores_.as<float>() + o * z.E, r_sel_.as<float>() + o * z.E,
          r_idx_.as<int32_t>() + o * z.k, r_w_.as<float>() + o * z.k, r_kept_.as<uint64_t>() + o,
          r_margin_.as<float>() + o, slots ? slot_e_.as<int32_t>() : nullptr, slots ? slot_w_.as<float>() : nullptr,
          L.has_shared ? z.E : -1, stream_);
  }

  void ffn(int l, const DevLayer& L, int n, bool graph) {
    const Sizes& z = z_;
    if (n == 1) {  // device-chosen slots: no host round trip, graph-capturable
      const FfnEntry* table = L.table;
      const int32_t* se = L.dense_slot;
      const float* sw = L.dense_weight;
      int n_slots = 1;
      if (L.is_moe) {
        route_layer(l, L, 1, true);
        se = slot_e_.as<int32_t>();
        sw = slot_w_.as<float>();
        n_slots = z.k + (L.has_shared ? 1 : 0);
      }
      ffn_gate_up(dm_.wt, table, se, n_slots, h_.as<float>(), z.D, act_.as<float>(), z.max_ff, dm_.ffn_vec_ok, stream_);
      ffn_down(dm_.wt, table, se, sw, n_slots, act_.as<float>(), z.max_ff, z.D, x_.as<float>(), dm_.ffn_vec_ok, stream_);
      return;
    }
    if (graph) fail("cuda", "graph capture", "batched FFN cannot be captured");
    if (!L.is_moe) {
      ffn_rows(L.dense, nullptr, nullptr, n);
      return;
    }
    route_layer(l, L, n, false);
    // Group tokens by expert on the host (the prefill path may synchronise), one GEMM triple each.
    const size_t o = static_cast<size_t>(l) * z.nc;
    auto* hidx = h_lists_.as<int32_t>();
    auto* hw = reinterpret_cast<float*>(hidx + static_cast<size_t>(n) * z.k);
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(hidx, r_idx_.as<int32_t>() + o * z.k, static_cast<size_t>(n) * z.k * 4,
                                        cudaMemcpyDeviceToHost, stream_));
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(hw, r_w_.as<float>() + o * z.k, static_cast<size_t>(n) * z.k * 4,
                                        cudaMemcpyDeviceToHost, stream_));
    MLASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream_));
    std::vector<int> count(static_cast<size_t>(z.E) + 1, 0);
    for (int i = 0; i < n * z.k; ++i) {
      const int e = hidx[i];
      if (e < 0 || e >= z.E) fail("cuda", "route", "device router returned expert " + std::to_string(e));
      ++count[static_cast<size_t>(e) + 1];
    }
    for (int e = 0; e < z.E; ++e) count[static_cast<size_t>(e) + 1] += count[static_cast<size_t>(e)];
    std::vector<int32_t> rows(static_cast<size_t>(n) * z.k);
    std::vector<float> wts(static_cast<size_t>(n) * z.k);
    std::vector<int> fill_at(count.begin(), count.end() - 1);
    for (int t = 0; t < n; ++t)
      for (int j = 0; j < z.k; ++j) {
        const int i = t * z.k + j;
        const int at = fill_at[static_cast<size_t>(hidx[i])]++;
        rows[static_cast<size_t>(at)] = t;
        wts[static_cast<size_t>(at)] = hw[i];
      }
    // Pinned staging: reuse h_lists_ (already consumed above).
    std::memcpy(hidx, rows.data(), rows.size() * 4);
    std::memcpy(hw, wts.data(), wts.size() * 4);
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(list_rows_.as<int32_t>(), hidx, rows.size() * 4, cudaMemcpyHostToDevice, stream_));
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(list_w_.as<float>(), hw, wts.size() * 4, cudaMemcpyHostToDevice, stream_));
    for (int e = 0; e < z.E; ++e) {
      const int b = count[static_cast<size_t>(e)], m = count[static_cast<size_t>(e) + 1] - b;
      if (m > 0) ffn_rows(L.experts[static_cast<size_t>(e)], list_rows_.as<int32_t>() + b, list_w_.as<float>() + b, m);
    }
    if (L.has_shared) ffn_rows(L.shared, nullptr, nullptr, n);
    // h_lists_ must not be rewritten before the uploads above ran: the next layer synchronises first.
  }

  // ---------------------------------------------------------------- steps
  void embed(int n, TraceSink* tr, int start) {
    embed_rows(dm_.wt, dm_.embed.w, d_tokens_.as<int32_t>(), n, z_.D, x_.as<float>(), stream_);
    if (tr && tr->wants(TracePoint::Embed)) {
      float* hv = copy_to_host(x_.as<float>(), static_cast<size_t>(n) * z_.D);
      for (int t = 0; t < n; ++t)
        tr->on_vector(TracePoint::Embed, 0, start + t, {hv + static_cast<size_t>(t) * z_.D, static_cast<size_t>(z_.D)});
    }
  }

  // Final norm of rows [first, n) and lm_head into d_logits_ rows 0..n-first.
  void head(int n, int first, TraceSink* tr, int start) {
    const int m = n - first;
    if (m <= 0) return;
    const float* xr = x_.as<float>() + static_cast<size_t>(first) * z_.D;
    float* hr = h_.as<float>() + static_cast<size_t>(first) * z_.D;
    rms_norm(xr, z_.D, dm_.norm, hr, z_.D, m, z_.D, eps_, stream_);
    if (tr && tr->wants(TracePoint::FinalNorm)) {
      float* hv = copy_to_host(hr, static_cast<size_t>(m) * z_.D);
      for (int t = 0; t < m; ++t)
        tr->on_vector(TracePoint::FinalNorm, 0, start + first + t,
                      {hv + static_cast<size_t>(t) * z_.D, static_cast<size_t>(z_.D)});
    }
    matmul(dm_.lm_head, hr, z_.D, m, d_logits_.as<float>(), z_.V, false);
  }

  void decode_step_graph() {
    if (use_graphs_ && !graph_exec_) capture();
    if (graph_exec_) {
      MLASCOPE_CUDA_CHECK(cudaGraphLaunch(graph_exec_, stream_));
      return;
    }
    decode_kernels();
  }

  void decode_kernels() {
    embed(1, nullptr, 0);
    for (int l = 0; l < z_.L; ++l) layer(l, 1, -1, nullptr, true);
    head(1, 0, nullptr, 0);
  }

  void capture() {
    MLASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream_));
    try {
      MLASCOPE_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      try {
        decode_kernels();
      } catch (...) {
        cudaGraph_t g = nullptr;
        cudaStreamEndCapture(stream_, &g);
        if (g) cudaGraphDestroy(g);
        throw;
      }
      MLASCOPE_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph_));
      MLASCOPE_CUDA_CHECK(cudaGraphInstantiate(&graph_exec_, graph_, 0));
    } catch (const Error& e) {
      spdlog::warn("[cuda] decode graph unavailable, launching kernels one by one: {}", e.what());
      cudaGetLastError();
      if (graph_) cudaGraphDestroy(graph_);
      graph_ = nullptr;
      graph_exec_ = nullptr;
      use_graphs_ = false;
    }
  }

  // logits null: rows [first_row, n) are left in d_logits_ (the caller selects on the device).
  void run_chunk(std::span<const int32_t> tokens, int start, int first_row, TraceSink* tr,
                 std::vector<float>* logits) {
    const int n = static_cast<int>(tokens.size());
    std::memcpy(h_tokens_.as<int32_t>(), tokens.data(), static_cast<size_t>(n) * 4);
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(d_tokens_.as<int32_t>(), h_tokens_.as<int32_t>(), static_cast<size_t>(n) * 4,
                                        cudaMemcpyHostToDevice, stream_));
    set_start(start);
    constexpr uint32_t kEager = uint32_t(TracePoint::Embed) | uint32_t(TracePoint::Hidden) |
                                uint32_t(TracePoint::FinalNorm) | uint32_t(TracePoint::AttnProbs) |
                                uint32_t(TracePoint::AttnParts) | uint32_t(TracePoint::KvLatent);
    const bool graph_ok = n == 1 && first_row == 0 && (!tr || (tr->points & kEager) == 0);
    if (graph_ok) {
      decode_step_graph();
      if (tr) emit_routes(tr, 0, z_.L, 1, start);
    } else {
      embed(n, tr, start);
      for (int l = 0; l < z_.L; ++l) layer(l, n, start, tr, false);
      head(n, first_row, tr, start);
    }
    const int m = n - first_row;
    if (!logits) {
      // The last chunk's row stays for the selection kernel (same stream, the caller synchronises);
      // an earlier chunk waits, as below, before the pinned token buffer is rewritten.
      if (m <= 0) MLASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream_));
      return;
    }
    if (m > 0) {
      const size_t cnt = static_cast<size_t>(m) * z_.V;
      MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(h_logits_.as<float>(), d_logits_.as<float>(), cnt * 4, cudaMemcpyDeviceToHost,
                                          stream_));
      MLASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream_));
      const float* hl = h_logits_.as<float>();
      logits->insert(logits->end(), hl, hl + cnt);
      if (tr && tr->wants(TracePoint::Logits))
        for (int t = 0; t < m; ++t)
          tr->on_vector(TracePoint::Logits, 0, start + first_row + t,
                        {hl + static_cast<size_t>(t) * z_.V, static_cast<size_t>(z_.V)});
    } else {
      MLASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
  }

  // ---------------------------------------------------------------- trace
  float* copy_to_host(const float* d, size_t count) {
    float* hv = h_vec_.as<float>();
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(hv, d, count * 4, cudaMemcpyDeviceToHost, stream_));
    MLASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return hv;
  }

  void emit_attention(TraceSink* tr, int l, int n, int start, bool parts) {
    const int H = z_.H;
    float* base = h_attn_.as<float>();
    for (int t = 0; t < n; ++t) {
      const int n_keys = start + t + 1;
      const size_t plane = static_cast<size_t>(H) * n_keys;
      const size_t src_row = static_cast<size_t>(t) * H * z_.ctx;
      auto copy = [&](const DevBuf& S, float* dst) {
        MLASCOPE_CUDA_CHECK(cudaMemcpy2DAsync(dst, static_cast<size_t>(n_keys) * 4, S.as<float>() + src_row,
                                              static_cast<size_t>(z_.ctx) * 4, static_cast<size_t>(n_keys) * 4, H,
                                              cudaMemcpyDeviceToHost, stream_));
      };
      copy(S_, base);
      if (parts) {
        copy(Sn_, base + plane);
        copy(Sr_, base + 2 * plane);
      }
      MLASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream_));
      tr->on_attention(l, start + t, H, n_keys, base, parts ? base + plane : nullptr, parts ? base + 2 * plane : nullptr);
    }
  }

  // Routing records of layers [l0, l1) for n tokens, from the per-layer device buffers. Only the
  // n used rows of each layer cross (strided copies), so routing-only tracing stays cheap.
  void emit_routes(TraceSink* tr, int l0, int l1, int n, int start) {
    const Sizes& z = z_;
    bool any = false;
    for (int l = l0; l < l1; ++l)
      any = any || (dm_.layers[static_cast<size_t>(l)].is_moe &&
                    (tr->wants(TracePoint::Route, l) || tr->wants(TracePoint::RouterProbs, l)));
    if (!any) return;
    const size_t nl = static_cast<size_t>(l1 - l0), nn = static_cast<size_t>(n), nc = static_cast<size_t>(z.nc);
    const size_t E = static_cast<size_t>(z.E), k = static_cast<size_t>(z.k), o = static_cast<size_t>(l0) * nc;
    // Host layout [nl][n][...] per array; kept first so it is 8-byte aligned.
    auto* hkept = h_route_.as<uint64_t>();
    auto* hs = reinterpret_cast<float*>(hkept + nl * nn);
    float* hsel = hs + nl * nn * E;
    float* hwt = hsel + nl * nn * E;
    float* hmg = hwt + nl * nn * k;
    auto* hid = reinterpret_cast<int32_t*>(hmg + nl * nn);
    auto cp = [&](void* dst, const void* src, size_t elem_bytes, size_t per_token) {
      const size_t w = nn * per_token * elem_bytes;
      MLASCOPE_CUDA_CHECK(cudaMemcpy2DAsync(dst, w, src, nc * per_token * elem_bytes, w, nl, cudaMemcpyDeviceToHost,
                                            stream_));
    };
    cp(hkept, r_kept_.as<uint64_t>() + o, 8, 1);
    cp(hs, r_scores_.as<float>() + o * E, 4, E);
    cp(hsel, r_sel_.as<float>() + o * E, 4, E);
    cp(hwt, r_w_.as<float>() + o * k, 4, k);
    cp(hmg, r_margin_.as<float>() + o, 4, 1);
    cp(hid, r_idx_.as<int32_t>() + o * k, 4, k);
    MLASCOPE_CUDA_CHECK(cudaStreamSynchronize(stream_));
    for (int l = l0; l < l1; ++l) {
      if (!dm_.layers[static_cast<size_t>(l)].is_moe) continue;
      const bool probs = tr->wants(TracePoint::RouterProbs, l), rt = tr->wants(TracePoint::Route, l);
      for (size_t t = 0; t < nn; ++t) {
        const size_t r = static_cast<size_t>(l - l0) * nn + t;
        const std::span<const float> sc(hs + r * E, E);
        const int pos = start + static_cast<int>(t);
        if (probs) tr->on_vector(TracePoint::RouterProbs, l, pos, sc);
        if (rt) {
          RouteRecord rec;
          rec.layer = l;
          rec.position = pos;
          rec.k = z.k;
          rec.expert = hid + r * k;
          rec.weight = hwt + r * k;
          rec.scores = sc;
          rec.selection = {hsel + r * E, E};
          rec.kept_groups = hkept[r];
          rec.margin = hmg[r];
          tr->on_route(rec);
        }
      }
    }
  }

  // ---------------------------------------------------------------- state
  BackendOptions opt_;
  MlaMode mode_;
  std::string device_name_;
  Sizes z_{};
  MlaDims dims_{};
  DeviceModel dm_;
  float scale_ = 1.0f, rope_mscale_ = 1.0f, eps_ = 1e-6f;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t graph_exec_ = nullptr;
  bool use_graphs_ = true;
  int n_cached_ = 0;
  DevBuf cache_, x_, h_, xe_, ye_, qa_, q_, kv_, lat_, qcat_, olat_, ov_, kvb_, rlog_, g_, u_, act_, S_, Sn_, Sr_,
      d_logits_, r_scores_, r_sel_, r_idx_, r_w_, r_kept_, r_margin_, slot_e_, slot_w_, part_o_, part_m_, part_l_,
      list_rows_, list_w_, d_tokens_, d_start_, d_top_id_, d_top_logit_, d_lse_, wbuf_;
  PinnedBuf h_tokens_, h_start_, h_logits_, h_vec_, h_attn_, h_route_, h_lists_, h_top_;
};

namespace {

void require_device() {
  std::string why;
  if (!cuda_device_available(&why)) fail("cuda", "", why + "; use --device cpu");
}

CudaBackend& as_cuda(Backend& b) {
  auto* c = dynamic_cast<CudaBackend*>(&b);
  if (!c) fail("cuda", b.name(), "not a CUDA backend");
  return *c;
}

}  // namespace

}  // namespace mlascope::cuda

namespace mlascope {

std::unique_ptr<Backend> make_cuda_backend(const Model& model, const BackendOptions& opt) {
  cuda::require_device();
  auto make = [](const void* m) { return cuda::DeviceModel::upload(*static_cast<const Model*>(m)); };
  return std::make_unique<cuda::CudaBackend>(+make, &model, model.config(), cuda::DeviceModel::weight_type_for(model),
                                             model.name(), opt);
}

std::unique_ptr<Backend> make_cuda_backend_synthetic(const ModelConfig& cfg, const BackendOptions& opt, uint64_t seed) {
  cuda::require_device();
  struct Arg {
    const ModelConfig* cfg;
    uint64_t seed;
  } arg{&cfg, seed};
  auto make = [](const void* a) {
    const auto* p = static_cast<const Arg*>(a);
    return cuda::DeviceModel::random(*p->cfg, p->seed);
  };
  return std::make_unique<cuda::CudaBackend>(+make, &arg, cfg, cuda::WType::BF16, "synthetic " + cfg.model_type, opt);
}

CudaBackendInfo cuda_backend_info(const Backend& b) {
  return cuda::as_cuda(const_cast<Backend&>(b)).info();
}

std::vector<int32_t> cuda_decode_greedy(Backend& b, int32_t first_token, int n_steps) {
  return cuda::as_cuda(b).decode_greedy(first_token, n_steps);
}

}  // namespace mlascope
