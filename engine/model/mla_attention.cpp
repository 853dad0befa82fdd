// engine/model/mla_attention.cpp — Multi-head Latent Attention, both formulations.
//   q      = q_proj(x) or q_b_proj(q_a_layernorm(q_a_proj(x)))          [H, nope + rope]
//   kv_a   = kv_a_proj_with_mqa(x) = [c_kv (kv_lora_rank) | k_pe (rope)]  k_pe shared by all heads
//   latent = kv_a_layernorm(c_kv); k_pe and q_pe rotated (interleaved pairs) at their positions
//   naive:    [k_nope | v] per head = kv_b_proj(latent), cached per head;
//             score = (q_nope . k_nope + q_pe . k_pe) * softmax_scale
//   absorbed: only [latent | k_pe] is cached; W_UK (kv_b rows of k_nope) is folded into the query,
//             q_lat = W_UK_h^T q_nope, score = (q_lat . latent + q_pe . k_pe) * softmax_scale, and
//             W_UV (kv_b rows of v) is applied after the weighted sum of latents.
//   out = o_proj(concat_h(softmax(score) @ v))
#include <algorithm>
#include <cstring>

#include "../backend/cpu/kv_rows.h"
#include "../backend/cpu/linear.h"
#include "../backend/cpu/matvec.h"
#include "../kv_cache.h"
#include "model.h"
#include "ops.h"
#include "transformer.h"
#include "transformer_scratch.h"

namespace mlascope {

namespace {
// q_a_layernorm and kv_a_layernorm use the reference's fixed eps, not config.rms_norm_eps.
constexpr float kLoraNormEps = 1e-6f;
}  // namespace

void Transformer::attention(cpu::ThreadPool& pool, KvCache& cache, int layer, int n, int start_pos,
                            TraceSink* trace) {
  const ModelConfig& c = model_.config();
  const LayerWeights& w = model_.layer(layer);
  Scratch& s = *s_;
  const int H = c.num_attention_heads, nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim;
  const int vd = c.v_head_dim, r = c.kv_lora_rank, qk = nope + rope, kvb_head = nope + vd;
  const int n_pairs = rope / 2;
  const auto N = static_cast<size_t>(n);
  const float* X = s.xn.data();

  float* q = sized(s.q, N * static_cast<size_t>(H * qk));
  if (c.has_q_lora()) {
    const int ql = c.q_lora_rank;
    float* qa = sized(s.qa, N * static_cast<size_t>(ql));
    cpu::linear(pool, *w.q_a_proj, X, n, qa);
    for (int t = 0; t < n; ++t) rms_norm(qa + t * ql, *w.q_a_layernorm, ql, kLoraNormEps, qa + t * ql);
    cpu::linear(pool, *w.q_b_proj, qa, n, q);
  } else {
    cpu::linear(pool, *w.q_proj, X, n, q);
  }
  float* kv = sized(s.kv, N * static_cast<size_t>(r + rope));
  cpu::linear(pool, *w.kv_a_proj_with_mqa, X, n, kv);

  float* latent = sized(s.latent, N * static_cast<size_t>(r));
  float* kpe = sized(s.kpe, N * static_cast<size_t>(rope));
  float* cos_v = sized(s.cos_v, static_cast<size_t>(n_pairs));
  float* sin_v = sized(s.sin_v, static_cast<size_t>(n_pairs));
  const bool want_latent = trace && trace->wants(TracePoint::KvLatent, layer);
  for (int t = 0; t < n; ++t) {
    const int pos = start_pos + t;
    const float* kv_t = kv + t * (r + rope);
    rms_norm(kv_t, *w.kv_a_layernorm, r, kLoraNormEps, latent + t * r);
    std::memcpy(kpe + t * rope, kv_t + r, sizeof(float) * static_cast<size_t>(rope));
    rope_.angles(pos, cos_v, sin_v);
    Rope::rotate(kpe + t * rope, cos_v, sin_v, n_pairs);
    for (int hh = 0; hh < H; ++hh) Rope::rotate(q + (t * H + hh) * qk + nope, cos_v, sin_v, n_pairs);
    if (want_latent)
      trace->on_kv_latent(layer, pos, {latent + t * r, static_cast<size_t>(r)}, {kpe + t * rope, static_cast<size_t>(rope)});
  }

  cache.reserve(start_pos + n);
  const KvDType kvt = cache.dtype();  // rows are stored in this type; math stays float32
  if (mode_ == MlaMode::Naive) {
    float* kvb = sized(s.kvb, N * static_cast<size_t>(H * kvb_head));
    cpu::linear(pool, *w.kv_b_proj, latent, n, kvb);
    // One token's [H, qk] keys and [H, v] values gathered as float32, then stored in one call each.
    float* key = sized(s.key_row, static_cast<size_t>(H * qk));
    float* val = sized(s.value_row, static_cast<size_t>(H * vd));
    for (int t = 0; t < n; ++t) {
      for (int hh = 0; hh < H; ++hh) {
        const float* src = kvb + (t * H + hh) * kvb_head;
        std::memcpy(key + hh * qk, src, sizeof(float) * static_cast<size_t>(nope));
        std::memcpy(key + hh * qk + nope, kpe + t * rope, sizeof(float) * static_cast<size_t>(rope));
        std::memcpy(val + hh * vd, src + nope, sizeof(float) * static_cast<size_t>(vd));
      }
      cpu::kv_store(key, cache.key(layer, start_pos + t), static_cast<int64_t>(H) * qk, kvt);
      cpu::kv_store(val, cache.value(layer, start_pos + t), static_cast<int64_t>(H) * vd, kvt);
    }
  } else {
    for (int t = 0; t < n; ++t) {
      cpu::kv_store(latent + t * r, cache.latent(layer, start_pos + t), r, kvt);
      cpu::kv_store(kpe + t * rope, cache.k_rope(layer, start_pos + t), rope, kvt);
    }
  }

  // One query at a time (causal: query pos sees keys 0..pos, all already in the cache); heads in parallel.
  const bool want_probs = trace && trace->wants(TracePoint::AttnProbs, layer);
  const bool want_parts = trace && trace->wants(TracePoint::AttnParts, layer);
  float* attn_out = sized(s.attn_out, N * static_cast<size_t>(H * vd));
  const int max_keys = start_pos + n;
  float* probs = sized(s.probs, static_cast<size_t>(H) * static_cast<size_t>(max_keys));
  float* nope_part = sized(s.nope, static_cast<size_t>(H) * static_cast<size_t>(max_keys));
  float* rope_part = sized(s.rope, static_cast<size_t>(H) * static_cast<size_t>(max_keys));
  const float scale = softmax_scale_;
  const TensorView& kv_b = *w.kv_b_proj;
  const bool absorbed = mode_ == MlaMode::Absorbed;
  // A GGUF's block-quantized attn_k_b / attn_v_b, read as stored (kv_b is their F32 copy then).
  const TensorView* k_b = w.k_b_proj && w.v_b_proj ? w.k_b_proj : nullptr;
  const TensorView* v_b = k_b ? w.v_b_proj : nullptr;

  // Absorbed: the W_UK fold and the W_UV product run over a chunk of tokens at once per head, so
  // each kv_b row is widened once per chunk rather than once per token (a prompt would otherwise
  // spend more time converting kv_b than attending). The chunk bounds the [tokens, H, r] buffers.
  const int chunk = std::min(n, 128);
  const int64_t HR = static_cast<int64_t>(H) * r, HKV = static_cast<int64_t>(H) * kvb_head;
  float* q_lat = absorbed ? sized(s.q_lat, static_cast<size_t>(chunk) * static_cast<size_t>(HR)) : nullptr;
  float* o_lat = absorbed ? sized(s.o_lat, static_cast<size_t>(chunk) * static_cast<size_t>(HR)) : nullptr;
  float* uv_out = absorbed ? sized(s.uv_out, static_cast<size_t>(chunk) * static_cast<size_t>(HKV)) : nullptr;

  for (int c0 = 0; c0 < n; c0 += chunk) {
    const int cn = std::min(chunk, n - c0);
    auto absorb = [&](int64_t hh) {  // q_lat[t, h] = W_UK_h^T q_nope[t, h]
      if (k_b) {  // the file's W_UK_h^T rows: one product in their stored type
        cpu::matmat(*k_b, q + (static_cast<int64_t>(c0) * H + hh) * qk, static_cast<int64_t>(H) * qk, cn, q_lat, HR,
                    hh * r, (hh + 1) * r);
        return;
      }
      const int64_t row0 = hh * kvb_head;
      for (int t = 0; t < cn; ++t) std::fill_n(q_lat + t * HR + hh * r, r, 0.0f);
      cpu::matmat_t_accumulate(kv_b, q + (static_cast<int64_t>(c0) * H + hh) * qk, static_cast<int64_t>(H) * qk, cn,
                               q_lat + hh * r, HR, row0, row0 + nope);
    };
    auto up_v = [&](int64_t hh) {  // out[t, h] = W_UV_h o_lat[t, h]
      if (v_b) {
        cpu::matmat(*v_b, o_lat + hh * r, HR, cn, uv_out, HKV, hh * vd, (hh + 1) * vd);
        for (int t = 0; t < cn; ++t)
          std::memcpy(attn_out + (static_cast<int64_t>(c0 + t) * H + hh) * vd, uv_out + t * HKV + hh * vd,
                      sizeof(float) * static_cast<size_t>(vd));
        return;
      }
      const int64_t row0 = hh * kvb_head;
      cpu::matmat(kv_b, o_lat + hh * r, HR, cn, uv_out, HKV, row0 + nope, row0 + kvb_head);
      for (int t = 0; t < cn; ++t)
        std::memcpy(attn_out + (static_cast<int64_t>(c0 + t) * H + hh) * vd, uv_out + t * HKV + row0 + nope,
                    sizeof(float) * static_cast<size_t>(vd));
    };
    const int64_t fold_work = static_cast<int64_t>(cn) * 2 * r * (nope + vd);
    // A single token keeps the fold inside the per-head loop below: one pool wake-up per layer.
    const bool fused = cn == 1;
    if (absorbed && !fused)
      pool.parallel_for(H, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, fold_work)), [&](int64_t h0, int64_t h1) {
        for (int64_t hh = h0; hh < h1; ++hh) absorb(hh);
      });

    for (int t = c0; t < c0 + cn; ++t) {
      const int pos = start_pos + t;
      const int n_keys = pos + 1;
      // Short contexts make a head's work smaller than a thread wake-up: keep those on one thread.
      const int64_t head_work = static_cast<int64_t>(n_keys) * (absorbed ? r + rope : qk + vd) + (fused ? fold_work : 0);
      pool.parallel_for(H, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, head_work)), [&](int64_t h0, int64_t h1) {
        for (int64_t hh = h0; hh < h1; ++hh) {
          const float* q_nope = q + (t * H + hh) * qk;
          const float* q_pe = q_nope + nope;
          float* p = probs + hh * n_keys;
          float* pn = nope_part + hh * n_keys;
          float* pr = rope_part + hh * n_keys;
          if (!absorbed) {
            float* o = attn_out + (t * H + hh) * vd;
            for (int j = 0; j < n_keys; ++j) {
              const void* k = cpu::kv_advance(cache.key(layer, j), hh * qk, kvt);
              const float a = cpu::kv_dot(q_nope, k, nope, kvt) * scale;
              const float b = cpu::kv_dot(q_pe, cpu::kv_advance(k, nope, kvt), rope, kvt) * scale;
              pn[j] = a;
              pr[j] = b;
              p[j] = a + b;
            }
            softmax_inplace(p, n_keys);
            std::fill(o, o + vd, 0.0f);
            for (int j = 0; j < n_keys; ++j)
              cpu::kv_axpy(p[j], cpu::kv_advance(cache.value(layer, j), hh * vd, kvt), o, vd, kvt);
          } else {
            if (fused) absorb(hh);
            const float* ql = q_lat + (t - c0) * HR + hh * r;
            for (int j = 0; j < n_keys; ++j) {
              const float a = cpu::kv_dot(ql, cache.latent(layer, j), r, kvt) * scale;
              const float b = cpu::kv_dot(q_pe, cache.k_rope(layer, j), rope, kvt) * scale;
              pn[j] = a;
              pr[j] = b;
              p[j] = a + b;
            }
            softmax_inplace(p, n_keys);
            float* ol = o_lat + (t - c0) * HR + hh * r;
            std::fill(ol, ol + r, 0.0f);
            for (int j = 0; j < n_keys; ++j) cpu::kv_axpy(p[j], cache.latent(layer, j), ol, r, kvt);
            if (fused) up_v(hh);
          }
        }
      });
      if (want_probs || want_parts)
        trace->on_attention(layer, pos, H, n_keys, probs, want_parts ? nope_part : nullptr,
                            want_parts ? rope_part : nullptr);
    }

    if (absorbed && !fused)
      pool.parallel_for(H, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, fold_work)), [&](int64_t h0, int64_t h1) {
        for (int64_t hh = h0; hh < h1; ++hh) up_v(hh);
      });
  }

  cpu::linear(pool, *w.o_proj, attn_out, n, s.out.data());
}

}  // namespace mlascope
