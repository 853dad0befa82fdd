// engine/backend/cuda/kernel_probe.cpp — the cuda_check:: entry points of cuda_tools.h: each one
// uploads host data, runs one kernel (through the same launchers the backend uses), downloads the
// result. Slow and simple on purpose: the GPU tests compare these with CPU loops.
#include <cublas_v2.h>

#include <algorithm>
#include <cstring>

#include "cublas_api.h"
#include "cuda_check.h"
#include "cuda_tools.h"
#include "kernels.h"

namespace mlascope::cuda_check {

namespace {

using cuda::WType;

// A device copy of host data, freed on scope exit.
template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) { MLASCOPE_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T))); }
  explicit Dev(const std::vector<T>& v) : Dev(v.size()) {
    MLASCOPE_CUDA_CHECK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  std::vector<T> get() const {
    MLASCOPE_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<T> v(n);
    MLASCOPE_CUDA_CHECK(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }
};

// Weights on the device in the requested type (bf16 rounding done by the device, as on upload).
struct DevWeights {
  Dev<float> f32;
  Dev<uint16_t> b16;
  WType wt;
  DevWeights(const std::vector<float>& w, bool bf16) : f32(w), b16(bf16 ? w.size() : 0), wt(bf16 ? WType::BF16 : WType::F32) {
    if (bf16) cuda::f32_to_bf16(f32.p, b16.p, static_cast<long long>(w.size()), nullptr);
  }
  const void* ptr() const { return wt == WType::BF16 ? static_cast<const void*>(b16.p) : static_cast<const void*>(f32.p); }
};

void require(bool ok, const char* what) {
  if (!ok) fail("cuda_check", "", what);
}

}  // namespace

std::vector<float> rms_norm(const std::vector<float>& x, const std::vector<float>& w, int n_rows, float eps) {
  const int dim = static_cast<int>(w.size());
  require(x.size() == static_cast<size_t>(n_rows) * dim, "rms_norm: x size");
  Dev<float> dx(x), dw(w), dy(x.size());
  cuda::rms_norm(dx.p, dim, dw.p, dy.p, dim, n_rows, dim, eps, nullptr);
  return dy.get();
}

std::vector<float> gemv(const std::vector<float>& W, int rows, int cols, const std::vector<float>& x, bool bf16) {
  require(W.size() == static_cast<size_t>(rows) * cols && x.size() == static_cast<size_t>(cols), "gemv: sizes");
  DevWeights dW(W, bf16);
  Dev<float> dx(x), dy(static_cast<size_t>(rows));
  cuda::gemv(dW.wt, dW.ptr(), rows, cols, cols, 0, dx.p, 0, 0, dy.p, 0, 0, 1, 1, false, nullptr);
  return dy.get();
}

std::vector<float> matmul(const std::vector<float>& W, int rows, int cols, const std::vector<float>& x, int n,
                          bool bf16) {
  require(W.size() == static_cast<size_t>(rows) * cols && x.size() == static_cast<size_t>(n) * cols, "matmul: sizes");
  DevWeights dW(W, bf16);
  Dev<float> wide(W.size()), dx(x), dy(static_cast<size_t>(n) * rows);
  cuda::dequant_to_f32(dW.wt, dW.ptr(), wide.p, static_cast<long long>(W.size()), nullptr);
  cublasHandle_t h = nullptr;
  MLASCOPE_CUDA_CHECK(blas::create(&h));
  MLASCOPE_CUDA_CHECK(blas::set_math_mode(h, CUBLAS_PEDANTIC_MATH));
  const float one = 1.0f, zero = 0.0f;
  const cublasStatus_t st =
      blas::sgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, n, cols, &one, wide.p, cols, dx.p, cols, &zero, dy.p, rows);
  blas::destroy(h);
  MLASCOPE_CUDA_CHECK(st);
  return dy.get();
}

std::vector<float> ffn_slots(const std::vector<Ffn>& experts, int D, const std::vector<int32_t>& slot,
                             const std::vector<float>& slot_weight, const std::vector<float>& x, bool bf16) {
  require(slot.size() == slot_weight.size() && x.size() == static_cast<size_t>(D), "ffn_slots: sizes");
  std::vector<std::unique_ptr<DevWeights>> keep;
  std::vector<cuda::FfnEntry> table;
  int max_ff = 0;
  bool vec_ok = D % 8 == 0;
  for (const Ffn& e : experts) {
    require(e.gate.size() == static_cast<size_t>(e.ff) * D && e.up.size() == e.gate.size() &&
                e.down.size() == e.gate.size(),
            "ffn_slots: expert sizes");
    keep.push_back(std::make_unique<DevWeights>(e.gate, bf16));
    keep.push_back(std::make_unique<DevWeights>(e.up, bf16));
    keep.push_back(std::make_unique<DevWeights>(e.down, bf16));
    const size_t b = keep.size() - 3;
    table.push_back({keep[b]->ptr(), keep[b + 1]->ptr(), keep[b + 2]->ptr(), e.ff});
    max_ff = std::max(max_ff, e.ff);
    if (e.ff % 8 != 0) vec_ok = false;
  }
  for (int32_t s : slot) require(s >= 0 && s < static_cast<int32_t>(experts.size()), "ffn_slots: slot id");
  const WType wt = bf16 ? WType::BF16 : WType::F32;
  Dev<cuda::FfnEntry> dt(table);
  Dev<int32_t> ds(slot);
  Dev<float> dsw(slot_weight), dx(x), act(slot.size() * static_cast<size_t>(max_ff)), dy(static_cast<size_t>(D));
  MLASCOPE_CUDA_CHECK(cudaMemset(dy.p, 0, static_cast<size_t>(D) * 4));
  const int n = static_cast<int>(slot.size());
  cuda::ffn_gate_up(wt, dt.p, ds.p, n, dx.p, D, act.p, max_ff, vec_ok, nullptr);
  cuda::ffn_down(wt, dt.p, ds.p, dsw.p, n, act.p, max_ff, D, dy.p, vec_ok, nullptr);
  return dy.get();
}

Prepared mla_prepare(const std::vector<float>& kv, const std::vector<float>& kv_norm_w, int n, int start, int H,
                     int R, int nope, int rope, const std::vector<float>& q, const std::vector<float>& inv_freq,
                     float mscale, float eps) {
  const int C = R + rope;
  require(kv.size() == static_cast<size_t>(n) * C && kv_norm_w.size() == static_cast<size_t>(R) &&
              q.size() == static_cast<size_t>(n) * H * (nope + rope) && inv_freq.size() == static_cast<size_t>(rope / 2),
          "mla_prepare: sizes");
  const cuda::MlaDims d{H, R, nope, rope, 0};
  Dev<float> dkv(kv), dw(kv_norm_w), dq(q), dfreq(inv_freq), dlat(static_cast<size_t>(n) * C);
  Dev<int32_t> dstart(std::vector<int32_t>{start});
  cuda::mla_prepare(d, dkv.p, C, dw.p, eps, dfreq.p, mscale, dstart.p, n, dq.p, dlat.p, false, nullptr);
  return {dlat.get(), dq.get()};
}

Routed route(const ModelConfig& cfg, const std::vector<float>& logits, const std::vector<float>& bias, int n) {
  const int E = cfg.n_routed_experts, k = std::min(cfg.num_experts_per_tok, cuda::kMaxRouteK);
  require(logits.size() == static_cast<size_t>(n) * E && (bias.empty() || bias.size() == static_cast<size_t>(E)),
          "route: sizes");
  cuda::RouteParams p;
  p.n_experts = E;
  p.k = k;
  p.n_group = std::max(cfg.n_group, 1);
  p.topk_group = cfg.topk_group;
  p.sigmoid = cfg.scoring_func == ScoringFunc::Sigmoid;
  p.grouped = cfg.topk_method != TopkMethod::Greedy && cfg.n_group > 1;
  p.noaux = cfg.topk_method == TopkMethod::NoauxTc;
  p.norm_topk_prob = cfg.norm_topk_prob;
  p.routed_scaling_factor = static_cast<float>(cfg.routed_scaling_factor);
  const size_t nE = static_cast<size_t>(n) * E, nk = static_cast<size_t>(n) * k;
  Dev<float> dl(logits), db(bias), sc(nE), sel(nE), w(nk), mg(static_cast<size_t>(n));
  Dev<int32_t> idx(nk);
  Dev<uint64_t> kept(static_cast<size_t>(n));
  cuda::route(p, dl.p, bias.empty() ? nullptr : db.p, n, sc.p, sel.p, idx.p, w.p, kept.p, mg.p, nullptr, nullptr, -1,
              nullptr);
  return {sc.get(), sel.get(), w.get(), mg.get(), idx.get(), kept.get()};
}

TopK top_k(const std::vector<float>& logits, int k) {
  Dev<float> dl(logits), lg(static_cast<size_t>(k)), lse(1);
  Dev<int32_t> id(static_cast<size_t>(k));
  cuda::top_k_logits(dl.p, static_cast<int>(logits.size()), k, id.p, lg.p, lse.p, nullptr, nullptr);
  return {id.get(), lg.get(), lse.get()[0]};
}

}  // namespace mlascope::cuda_check
