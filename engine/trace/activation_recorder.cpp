// engine/trace/activation_recorder.cpp — see activation_recorder.h.
#include "activation_recorder.h"

#include <algorithm>

namespace mlascope {

ActivationRecorder::ActivationRecorder(const ModelConfig& c, int n_positions) : T_(n_positions) {
  points = TracePoint::Embed | TracePoint::Hidden | TracePoint::FinalNorm | TracePoint::AttnProbs |
           TracePoint::KvLatent | TracePoint::RouterProbs | TracePoint::Route | TracePoint::Logits;
  layer_mask = ~0ull;
  const int64_t T = T_, D = c.hidden_size, H = c.num_attention_heads, E = c.n_routed_experts, k = c.num_experts_per_tok;
  add("embed", {T, D});
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string L = std::to_string(l);
    add("hidden." + L, {T, D});
    add("attn." + L, {H, T, T});
    add("kv_latent." + L, {T, c.kv_lora_rank});
    add("k_rope." + L, {T, c.qk_rope_head_dim});
    if (c.is_moe_layer(l)) {
      add("router_probs." + L, {T, E});
      add("route_idx." + L, {T, k}, true);
      add("route_w." + L, {T, k});
      add("route_margin." + L, {T});
    }
  }
  add("final_norm", {T, D});
  add("logits", {T, c.vocab_size});
}

RecordedTensor& ActivationRecorder::add(const std::string& name, std::vector<int64_t> shape, bool i32) {
  RecordedTensor& t = tensors_[name];
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  t.shape = std::move(shape);
  t.is_i32 = i32;
  if (i32) t.i32.assign(static_cast<size_t>(n), -1);
  else t.f32.assign(static_cast<size_t>(n), 0.0f);
  order_.push_back(name);
  return t;
}

const RecordedTensor* ActivationRecorder::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

RecordedTensor* ActivationRecorder::at(const std::string& name) {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void ActivationRecorder::put_row(const std::string& name, int position, std::span<const float> v) {
  RecordedTensor* t = at(name);
  if (!t || position < 0 || position >= T_) return;
  const size_t width = static_cast<size_t>(t->shape.back());
  std::copy_n(v.begin(), std::min(width, v.size()), t->f32.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(position) * width));
}

void ActivationRecorder::on_vector(TracePoint p, int layer, int position, std::span<const float> v) {
  switch (p) {
    case TracePoint::Embed:
      put_row("embed", position, v);
      seen_ = std::max(seen_, std::min(position + 1, T_));
      break;
    case TracePoint::Hidden: put_row("hidden." + std::to_string(layer), position, v); break;
    case TracePoint::FinalNorm: put_row("final_norm", position, v); break;
    case TracePoint::Logits: put_row("logits", position, v); break;
    case TracePoint::RouterProbs: put_row("router_probs." + std::to_string(layer), position, v); break;
    default: break;
  }
}

void ActivationRecorder::on_attention(int layer, int position, int n_heads, int n_keys, const float* probs,
                                      const float*, const float*) {
  RecordedTensor* t = at("attn." + std::to_string(layer));
  if (!t || position < 0 || position >= T_) return;
  // [head, query position, key position]; keys beyond the query stay 0
  const int keys = std::min(n_keys, T_);
  for (int h = 0; h < n_heads && h < t->shape[0]; ++h)
    std::copy_n(probs + static_cast<size_t>(h) * static_cast<size_t>(n_keys), keys,
                t->f32.begin() + static_cast<std::ptrdiff_t>((static_cast<size_t>(h) * static_cast<size_t>(T_) + static_cast<size_t>(position)) * static_cast<size_t>(T_)));
}

void ActivationRecorder::on_kv_latent(int layer, int position, std::span<const float> latent, std::span<const float> k_rope) {
  put_row("kv_latent." + std::to_string(layer), position, latent);
  put_row("k_rope." + std::to_string(layer), position, k_rope);
}

void ActivationRecorder::on_route(const RouteRecord& r) {
  if (r.position < 0 || r.position >= T_) return;
  const std::string L = std::to_string(r.layer);
  RecordedTensor* idx = at("route_idx." + L);
  RecordedTensor* w = at("route_w." + L);
  RecordedTensor* m = at("route_margin." + L);
  if (!idx || !w || !m) return;
  const size_t k = static_cast<size_t>(idx->shape[1]);
  const size_t base = static_cast<size_t>(r.position) * k;
  for (size_t i = 0; i < k && i < static_cast<size_t>(r.k); ++i) {
    idx->i32[base + i] = r.expert[i];
    w->f32[base + i] = r.weight[i];
  }
  m->f32[static_cast<size_t>(r.position)] = r.margin;
}

}  // namespace mlascope
