// engine/sampler.cpp — see sampler.h. Order of the filters: repetition penalty, temperature,
// top-k, softmax, top-p, min-p, renormalise, draw. Temperature 0 is greedy over the penalised logits.
#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_set>

#include "error.h"

namespace mlascope {

namespace {

float parse_float(const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    const float f = std::stof(v, &used);
    if (used != v.size() || !std::isfinite(f)) throw std::invalid_argument(v);
    return f;
  } catch (const std::exception&) {
    fail("sampler", key, "'" + v + "' is not a finite number");
  }
}

long long parse_int(const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    const long long i = std::stoll(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return i;
  } catch (const std::exception&) {
    fail("sampler", key, "'" + v + "' is not an integer");
  }
}

void validate(const SamplerSettings& s) {
  if (!(s.temperature >= 0.0f) || !std::isfinite(s.temperature)) fail("sampler", "temperature", "must be >= 0");
  if (s.top_k < 0) fail("sampler", "top_k", "must be >= 0 (0 = off)");
  if (!(s.top_p > 0.0f && s.top_p <= 1.0f)) fail("sampler", "top_p", "must be in (0, 1]");
  if (!(s.min_p >= 0.0f && s.min_p <= 1.0f)) fail("sampler", "min_p", "must be in [0, 1]");
  if (!(s.repetition_penalty > 0.0f) || !std::isfinite(s.repetition_penalty))
    fail("sampler", "repetition_penalty", "must be > 0 (1 = off)");
  if (s.repetition_window < 0) fail("sampler", "repetition_window", "must be >= 0");
}

// Top n of a probability vector, descending; equal probabilities keep ascending ids.
std::vector<TopEntry> top_entries(const std::vector<float>& p, const std::vector<int32_t>& ids, int n) {
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), size_t{0});
  const size_t m = std::min(order.size(), static_cast<size_t>(std::max(n, 0)));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(m), order.end(), [&](size_t a, size_t b) {
    return p[a] > p[b] || (p[a] == p[b] && ids[a] < ids[b]);
  });
  std::vector<TopEntry> out;
  out.reserve(m);
  for (size_t i = 0; i < m; ++i) out.push_back({ids[order[i]], p[order[i]]});
  return out;
}

}  // namespace

std::string SamplerSettings::to_json() const {
  nlohmann::json j;
  j["temperature"] = temperature;
  j["top_k"] = top_k;
  j["top_p"] = top_p;
  j["min_p"] = min_p;
  j["repetition_penalty"] = repetition_penalty;
  j["repetition_window"] = repetition_window;
  j["seed"] = seed;
  return j.dump();
}

SamplerSettings SamplerSettings::from_json(const std::string& text) {
  SamplerSettings s;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail("sampler", "settings", std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail("sampler", "settings", "expected a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "rng_position") continue;  // the stream position of Sampler::state_json, not a setting
    const auto& v = it.value();
    std::string value = v.is_string() ? v.get<std::string>() : v.dump();
    s.set(it.key(), value);
  }
  return s;
}

void SamplerSettings::set(const std::string& key, const std::string& value) {
  SamplerSettings n = *this;
  if (key == "temperature" || key == "temp") n.temperature = parse_float(key, value);
  else if (key == "top_k") n.top_k = static_cast<int>(std::clamp<long long>(parse_int(key, value), -1, 1 << 30));
  else if (key == "top_p") n.top_p = parse_float(key, value);
  else if (key == "min_p") n.min_p = parse_float(key, value);
  else if (key == "repetition_penalty" || key == "repeat_penalty") n.repetition_penalty = parse_float(key, value);
  else if (key == "repetition_window") n.repetition_window = static_cast<int>(std::clamp<long long>(parse_int(key, value), -1, 1 << 30));
  else if (key == "seed") {
    const long long v = parse_int(key, value);
    if (v < 0) fail("sampler", key, "must be >= 0");
    n.seed = static_cast<uint64_t>(v);
  } else {
    fail("sampler", key, "unknown setting (temperature, top_k, top_p, min_p, repetition_penalty, repetition_window, seed)");
  }
  validate(n);
  *this = n;
}

Sampler::Sampler(SamplerSettings s) : s_(std::move(s)), rng_(s_.seed) { validate(s_); }

void Sampler::set_settings(const SamplerSettings& s) {
  validate(s);
  s_ = s;
  rng_.seed(s_.seed);
  draws_ = 0;
}

std::string Sampler::state_json() const {
  nlohmann::json j = nlohmann::json::parse(s_.to_json());
  j["rng_position"] = draws_;
  return j.dump();
}

void Sampler::restore_state(const std::string& text) {
  set_settings(SamplerSettings::from_json(text));  // validates the JSON and the settings
  const nlohmann::json j = nlohmann::json::parse(text);
  const auto it = j.find("rng_position");
  if (it == j.end()) return;
  if (!it->is_number_unsigned()) fail("sampler", "rng_position", "expected a non-negative integer");
  const uint64_t pos = it->get<uint64_t>();
  // discard() walks the stream; a recorded chat has drawn once per sampled token, so a position
  // beyond any context length is a corrupt record, not a long chat.
  if (pos > (uint64_t{1} << 26)) fail("sampler", "rng_position", std::to_string(pos) + " is beyond any recorded chat");
  rng_.discard(pos);
  draws_ = pos;
}

SampleResult Sampler::sample(std::span<const float> logits, std::span<const int32_t> history, int n_top) {
  const size_t V = logits.size();
  SampleResult r;
  if (V == 0) return r;
  std::vector<int32_t> all_ids(V);
  std::iota(all_ids.begin(), all_ids.end(), 0);

  // Raw distribution (what the model said, before any sampler setting).
  std::vector<float> raw(logits.begin(), logits.end());
  {
    const float m = *std::max_element(raw.begin(), raw.end());
    double sum = 0.0;
    for (float& x : raw) {
      x = std::exp(x - m);
      sum += x;
    }
    for (float& x : raw) x = static_cast<float>(x / sum);
  }
  r.top_raw = top_entries(raw, all_ids, n_top);

  std::vector<float> adj(logits.begin(), logits.end());
  if (s_.repetition_penalty != 1.0f && s_.repetition_window > 0) {
    const size_t w = std::min(history.size(), static_cast<size_t>(s_.repetition_window));
    std::unordered_set<int32_t> seen(history.end() - static_cast<std::ptrdiff_t>(w), history.end());
    for (int32_t id : seen) {
      if (id < 0 || static_cast<size_t>(id) >= V) continue;
      float& l = adj[static_cast<size_t>(id)];
      l = l > 0.0f ? l / s_.repetition_penalty : l * s_.repetition_penalty;
    }
  }

  if (s_.temperature <= 0.0f) {
    const auto best = std::max_element(adj.begin(), adj.end());  // first maximum: lowest id on ties
    r.id = static_cast<int32_t>(best - adj.begin());
    r.prob = 1.0f;
    r.raw_prob = raw[static_cast<size_t>(r.id)];
    r.top_sampled = {{r.id, 1.0f}};
    return r;
  }

  // Candidates sorted by adjusted logit, descending (ties: lower id first).
  std::vector<int32_t> cand(V);
  std::iota(cand.begin(), cand.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) {
    return adj[static_cast<size_t>(a)] > adj[static_cast<size_t>(b)] ||
           (adj[static_cast<size_t>(a)] == adj[static_cast<size_t>(b)] && a < b);
  };
  size_t keep = V;
  if (s_.top_k > 0 && static_cast<size_t>(s_.top_k) < V) {
    keep = static_cast<size_t>(s_.top_k);
    std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(keep), cand.end(), by_logit);
  } else {
    std::sort(cand.begin(), cand.end(), by_logit);
  }
  cand.resize(keep);
  std::vector<float> cand_logit(keep);
  for (size_t i = 0; i < keep; ++i) cand_logit[i] = adj[static_cast<size_t>(cand[i])];
  draw(cand, cand_logit, r, n_top);
  r.raw_prob = raw[static_cast<size_t>(r.id)];
  return r;
}

void Sampler::draw(std::vector<int32_t>& cand, const std::vector<float>& cand_logit, SampleResult& r, int n_top) {
  size_t keep = cand.size();
  std::vector<float> p(keep);
  {
    const float inv_t = 1.0f / s_.temperature;
    const float m = cand_logit[0] * inv_t;
    double sum = 0.0;
    for (size_t i = 0; i < keep; ++i) {
      p[i] = std::exp(cand_logit[i] * inv_t - m);
      sum += p[i];
    }
    for (float& x : p) x = static_cast<float>(x / sum);
  }
  if (s_.top_p < 1.0f) {
    double cum = 0.0;
    size_t n = 0;
    while (n < keep) {
      cum += p[n++];
      if (cum >= s_.top_p) break;
    }
    keep = std::max<size_t>(n, 1);
  }
  if (s_.min_p > 0.0f) {
    const float floor_p = s_.min_p * p[0];
    size_t n = 1;
    while (n < keep && p[n] >= floor_p) ++n;
    keep = n;
  }
  cand.resize(keep);
  p.resize(keep);
  double sum = std::accumulate(p.begin(), p.end(), 0.0);
  for (float& x : p) x = static_cast<float>(x / sum);

  // Inverse-CDF draw with a 53-bit uniform from the seeded engine: portable across standard libraries
  // (std::discrete_distribution's algorithm is implementation-defined).
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0);
  ++draws_;
  double cum = 0.0;
  size_t pick = keep - 1;
  for (size_t i = 0; i < keep; ++i) {
    cum += p[i];
    if (u < cum) {
      pick = i;
      break;
    }
  }
  r.id = cand[pick];
  r.prob = p[pick];
  r.top_sampled = top_entries(p, cand, n_top);
}

int Sampler::top_needed(int vocab_size, int max_n, int n_top) const {
  if (vocab_size <= 0) return 0;
  // The penalty can lift a token from anywhere in the vocabulary into the candidates.
  if (s_.repetition_penalty != 1.0f && s_.repetition_window > 0) return 0;
  int n = std::max(n_top, 1);
  if (s_.temperature > 0.0f) {
    if (s_.top_k <= 0) return 0;
    n = std::max(n, s_.top_k);
  }
  n = std::min(n, vocab_size);
  return n <= max_n ? n : 0;
}

SampleResult Sampler::sample_top(std::span<const int32_t> ids, std::span<const float> logits, float lse, int n_top) {
  SampleResult r;
  const size_t n = std::min(ids.size(), logits.size());
  if (n == 0) return r;
  auto raw_of = [&](size_t i) { return static_cast<float>(std::exp(static_cast<double>(logits[i]) - lse)); };
  // softmax is monotonic, so the top of the raw distribution is the top of the logits, in order.
  for (size_t i = 0; i < std::min(n, static_cast<size_t>(std::max(n_top, 0))); ++i) r.top_raw.push_back({ids[i], raw_of(i)});
  if (s_.temperature <= 0.0f) {
    r.id = ids[0];
    r.prob = 1.0f;
    r.raw_prob = raw_of(0);
    r.top_sampled = {{r.id, 1.0f}};
    return r;
  }
  const size_t keep = s_.top_k > 0 ? std::min(n, static_cast<size_t>(s_.top_k)) : n;
  std::vector<int32_t> cand(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep));
  std::vector<float> cand_logit(logits.begin(), logits.begin() + static_cast<std::ptrdiff_t>(keep));
  draw(cand, cand_logit, r, n_top);
  for (size_t i = 0; i < keep; ++i)
    if (ids[i] == r.id) r.raw_prob = raw_of(i);
  return r;
}

}  // namespace mlascope
