// app/terminal_views.cpp — see terminal_views.h.
#include "terminal_views.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "term_progress.h"

namespace mlascope::app {

using json = nlohmann::json;

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string hex_escape(unsigned char ch) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(ch));
  return buf;
}

std::string pad_left(const std::string& s, size_t w) { return s.size() >= w ? s : std::string(w - s.size(), ' ') + s; }
std::string pad_right(const std::string& s, size_t w) { return s.size() >= w ? s : s + std::string(w - s.size(), ' '); }

std::string with_commas(int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string s = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}

const char* scheme_key(KvScheme s) {
  switch (s) {
    case KvScheme::MlaLatent: return "mla_latent";
    case KvScheme::MlaNaive: return "mla_naive";
    case KvScheme::Mha: return "mha";
    case KvScheme::Gqa: return "gqa";
    case KvScheme::Mqa: return "mqa";
  }
  return "?";
}

// Quoted, single-line form of a token for tables.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (unsigned char ch : text) {
    if (ch == '\n') out += "\\n";
    else if (ch == '\t') out += "\\t";
    else if (ch == '\r') out += "\\r";
    else if (ch < 0x20 || ch == 0x7f) out += hex_escape(ch);
    else out += static_cast<char>(ch);
  }
  return out + "'";
}

std::string token_label(const TraceModel& tm, size_t pos) {
  const StepRecord& r = tm.token(pos);
  std::string s = "token " + std::to_string(pos) + " " + quoted(r.text) + " (" + (r.is_prompt ? "prompt" : "generated");
  if (r.prob >= 0) s += ", p=" + fmt("%.3f", r.prob);
  return s + ")";
}

void check_pos(const TraceModel& tm, size_t pos) {
  if (pos >= tm.size())
    fail("terminal", "position " + std::to_string(pos),
         tm.empty() ? "the session has no tokens yet" : "out of range (the session has tokens 0.." + std::to_string(tm.size() - 1) + ")");
}

}  // namespace

int dtype_bytes(const std::string& dtype) {
  if (dtype == "bf16" || dtype == "fp16" || dtype == "f16") return 2;  // f16/f32: the engine's --kv-type names
  if (dtype == "fp32" || dtype == "f32") return 4;
  if (dtype == "fp8") return 1;
  fail("kv", "--dtype " + dtype, "unknown cache dtype (use bf16, fp16, fp32 or fp8)");
}

KvReport make_kv_report(const ModelConfig& c, std::string source, const std::string& dtype, int64_t context,
                        int gqa_groups) {
  KvReport r;
  r.source = std::move(source);
  r.model_type = c.model_type;
  r.dtype = dtype;
  r.context = context > 0 ? context : c.max_position_embeddings;
  r.memory = kv_memory(c, dtype_bytes(dtype), gqa_groups);
  return r;
}

std::string render_kv_text(const KvReport& r, ColorMode m) {
  const KvMemory& mem = r.memory;
  std::string out;
  out += bold(m) + "KV cache" + reset(m) + " of " + r.source + " (" + r.model_type + "): " + std::to_string(mem.n_layers) +
         " layers, " + r.dtype + " (" + std::to_string(mem.bytes_per_elem) + " B/value)\n";
  const bool now = r.in_use >= 0;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"scheme", "values/token/layer", "bytes/token"};
  if (now) head.push_back("now (" + with_commas(r.in_use) + " tok)");
  head.push_back("at " + with_commas(r.context) + " tok");
  head.push_back("x latent");
  rows.push_back(head);
  for (const KvFootprint& f : mem.schemes) {
    std::vector<std::string> row = {f.label, with_commas(f.elems_per_token_layer),
                                    with_commas(static_cast<int64_t>(std::llround(f.bytes_per_token)))};
    if (now) row.push_back(format_bytes(mem.bytes_at(f.scheme, r.in_use)));
    row.push_back(format_bytes(mem.bytes_at(f.scheme, r.context)));
    row.push_back(fmt("%.2fx", mem.ratio_vs_latent(f.scheme)));
    rows.push_back(row);
  }
  std::vector<size_t> w(head.size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    const auto& row = rows[ri];
    std::string line = "  " + pad_right(row[0], w[0]);
    for (size_t i = 1; i < row.size(); ++i) line += "  " + pad_left(row[i], w[i]);
    if (ri == 0) line = dim(m) + line + reset(m);
    else if (ri == 1) line = bold(m) + line + reset(m);
    out += line + "\n";
  }
  return out;
}

json kv_json(const KvReport& r) {
  const KvMemory& mem = r.memory;
  json j;
  j["source"] = r.source;
  j["model_type"] = r.model_type;
  j["dtype"] = r.dtype;
  j["bytes_per_value"] = mem.bytes_per_elem;
  j["n_layers"] = mem.n_layers;
  j["gqa_groups"] = mem.gqa_groups;
  j["context"] = r.context;
  if (r.in_use >= 0) j["in_use_tokens"] = r.in_use;
  json schemes = json::array();
  for (const KvFootprint& f : mem.schemes) {
    json s;
    s["scheme"] = scheme_key(f.scheme);
    s["label"] = f.label;
    s["values_per_token_layer"] = f.elems_per_token_layer;
    s["bytes_per_token"] = static_cast<int64_t>(std::llround(f.bytes_per_token));
    s["bytes_at_context"] = static_cast<int64_t>(std::llround(mem.bytes_at(f.scheme, r.context)));
    if (r.in_use >= 0) s["bytes_in_use"] = static_cast<int64_t>(std::llround(mem.bytes_at(f.scheme, r.in_use)));
    s["ratio_vs_latent"] = mem.ratio_vs_latent(f.scheme);
    schemes.push_back(s);
  }
  j["schemes"] = schemes;
  return j;
}

std::string render_routing_text(const TraceModel& tm, size_t pos, ColorMode m) {
  check_pos(tm, pos);
  std::string out = bold(m) + token_label(tm, pos) + reset(m) + "\n";
  if (tm.n_moe_layers() == 0) return out + "  the model has no MoE layers\n";
  if (tm.token(pos).routes.empty()) return out + "  routing was not captured for this token (capture policy off)\n";
  out += dim(m) + "  layer  experts (weight)" + reset(m) + "\n";
  for (int layer : tm.moe_layers()) {
    const RouteRow* r = tm.route(pos, layer);
    if (!r) continue;
    std::string line = "  " + pad_left(std::to_string(layer), 5) + "  ";
    std::string cells;
    size_t visible = 0;
    for (int i = 0; i < r->k; ++i) {
      const std::string cell = expert_name(r->expert[static_cast<size_t>(i)]) + " " +
                               fmt("%.3f", r->weight[static_cast<size_t>(i)]);
      cells += paint_expert(m, cell, r->expert[static_cast<size_t>(i)], tm.n_routed_experts()) + "  ";
      visible += cell.size() + 2;
    }
    line += cells + std::string(visible < 48 ? 48 - visible : 1, ' ') + dim(m) + "margin " + fmt("%.4f", r->margin) + reset(m);
    out += line + "\n";
  }
  return out;
}

json routing_json(const TraceModel& tm, size_t pos) {
  check_pos(tm, pos);
  const StepRecord& rec = tm.token(pos);
  json j;
  j["position"] = pos;
  j["id"] = rec.id;
  j["text"] = rec.text;
  j["is_prompt"] = rec.is_prompt;
  j["prob"] = rec.prob;
  json layers = json::array();
  for (int layer : tm.moe_layers()) {
    const RouteRow* r = tm.route(pos, layer);
    if (!r) continue;
    json l;
    l["layer"] = layer;
    json ex = json::array(), wt = json::array();
    for (int i = 0; i < r->k; ++i) {
      ex.push_back(r->expert[static_cast<size_t>(i)]);
      wt.push_back(r->weight[static_cast<size_t>(i)]);
    }
    l["experts"] = ex;
    l["weights"] = wt;
    l["margin"] = r->margin;
    l["kept_groups"] = r->kept_groups;
    layers.push_back(l);
  }
  j["layers"] = layers;
  return j;
}

ExpertLoadStats expert_load_stats(const TraceModel& tm, int layer, size_t begin, size_t end) {
  ExpertLoadStats s;
  s.layer = layer;
  const std::vector<double> load = tm.expert_load(layer, begin, end);
  const double total = std::accumulate(load.begin(), load.end(), 0.0);
  s.slots = static_cast<uint64_t>(total);
  s.share.assign(load.size(), 0.0);
  if (load.empty() || total <= 0) return s;
  const double mean = total / static_cast<double>(load.size());
  double var = 0;
  for (size_t e = 0; e < load.size(); ++e) {
    s.share[e] = load[e] / total;
    var += (load[e] - mean) * (load[e] - mean);
  }
  var /= static_cast<double>(load.size());
  s.max_over_mean = *std::max_element(load.begin(), load.end()) / mean;
  s.min_over_mean = *std::min_element(load.begin(), load.end()) / mean;
  s.cv = std::sqrt(var) / mean;
  return s;
}

namespace {
std::vector<int> chosen_layers(const TraceModel& tm, int layer) {
  if (layer < 0) return {tm.moe_layers().begin(), tm.moe_layers().end()};
  if (tm.moe_index(layer) < 0)
    fail("terminal", "layer " + std::to_string(layer),
         "is not an MoE layer (MoE layers: " +
             (tm.n_moe_layers() ? std::to_string(tm.moe_layers().front()) + ".." + std::to_string(tm.moe_layers().back())
                                : std::string("none")) + ")");
  return {layer};
}
}  // namespace

std::string render_expert_load_text(const TraceModel& tm, int layer, ColorMode m, size_t begin, size_t end) {
  const std::vector<int> layers = chosen_layers(tm, layer);
  std::string out;
  const int n = tm.n_routed_experts();
  if (n <= 0) return "the model has no routed experts\n";
  const double uniform = 1.0 / n;
  constexpr int kBar = 32;  // cells for twice the uniform share; the '|' marks uniform
  for (int l : layers) {
    const ExpertLoadStats s = expert_load_stats(tm, l, begin, end);
    out += bold(m) + "layer " + std::to_string(l) + reset(m) + "  " + std::to_string(s.slots) + " routed slots";
    if (s.slots == 0) {
      out += " (routing not captured)\n";
      continue;
    }
    out += ", max/mean " + fmt("%.2f", s.max_over_mean) + ", min/mean " + fmt("%.2f", s.min_over_mean) + ", CV " +
           fmt("%.3f", s.cv) + "  (uniform " + fmt("%.2f%%", 100.0 * uniform) + " = |)\n";
    for (int e = 0; e < n; ++e) {
      const double share = s.share[static_cast<size_t>(e)];
      const int cells = static_cast<int>(std::lround(share / (2 * uniform) * kBar));
      std::string bar;
      for (int c = 0; c < kBar; ++c) {
        if (c == kBar / 2) bar += '|';
        bar += c < cells ? '#' : ' ';
      }
      if (cells > kBar) bar += '>';
      out += "  " + paint_expert(m, pad_right(expert_name(e), 5), e, n) + pad_left(fmt("%.1f%%", 100.0 * share), 6) +
             " " + paint_expert(m, bar, e, n) + "\n";
    }
  }
  return out;
}

json expert_load_json(const TraceModel& tm, int layer, size_t begin, size_t end) {
  json j;
  j["n_routed_experts"] = tm.n_routed_experts();
  j["tokens"] = std::min(end, tm.size()) - std::min(begin, tm.size());
  json layers = json::array();
  for (int l : chosen_layers(tm, layer)) {
    const ExpertLoadStats s = expert_load_stats(tm, l, begin, end);
    json o;
    o["layer"] = l;
    o["slots"] = s.slots;
    o["share"] = s.share;
    o["max_over_mean"] = s.max_over_mean;
    o["min_over_mean"] = s.min_over_mean;
    o["cv"] = s.cv;
    layers.push_back(o);
  }
  j["layers"] = layers;
  return j;
}

std::vector<AttendedKey> top_attended(const TraceModel& tm, size_t pos, int layer, int head, int k) {
  check_pos(tm, pos);
  const AttentionRow* a = tm.attention(pos, layer);
  if (!a || a->n_keys <= 0 || a->probs.size() < static_cast<size_t>(a->n_heads) * static_cast<size_t>(a->n_keys)) return {};
  if (head >= a->n_heads)
    fail("terminal", "head " + std::to_string(head), "out of range (the model has " + std::to_string(a->n_heads) + " heads)");
  std::vector<AttendedKey> keys(static_cast<size_t>(a->n_keys));
  for (int key = 0; key < a->n_keys; ++key) {
    double p = 0;
    if (head >= 0) {
      p = a->probs[static_cast<size_t>(head) * static_cast<size_t>(a->n_keys) + static_cast<size_t>(key)];
    } else {
      for (int h = 0; h < a->n_heads; ++h) p += a->probs[static_cast<size_t>(h) * static_cast<size_t>(a->n_keys) + static_cast<size_t>(key)];
      p /= a->n_heads;
    }
    keys[static_cast<size_t>(key)] = {key, static_cast<float>(p)};
  }
  // Ties keep the earlier position first so output is stable.
  std::stable_sort(keys.begin(), keys.end(), [](const AttendedKey& x, const AttendedKey& y) { return x.prob > y.prob; });
  if (k > 0 && keys.size() > static_cast<size_t>(k)) keys.resize(static_cast<size_t>(k));
  return keys;
}

std::string render_attention_text(const TraceModel& tm, size_t pos, int layer, int head, int k, ColorMode m) {
  check_pos(tm, pos);
  if (layer < 0 || layer >= tm.config().num_hidden_layers)
    fail("terminal", "layer " + std::to_string(layer),
         "out of range (the model has layers 0.." + std::to_string(tm.config().num_hidden_layers - 1) + ")");
  std::string out = bold(m) + token_label(tm, pos) + reset(m) + ", layer " + std::to_string(layer) + ", " +
                    (head >= 0 ? "head " + std::to_string(head) : std::string("mean of heads")) + "\n";
  const std::vector<AttendedKey> keys = top_attended(tm, pos, layer, head, k);
  if (keys.empty()) return out + "  attention of this layer was not captured (capture policy routing+attention or everything)\n";
  for (const AttendedKey& a : keys) {
    const int cells = static_cast<int>(std::lround(a.prob * 30));
    out += "  " + pad_left(std::to_string(a.key), 6) + "  " + pad_right(quoted(tm.token(static_cast<size_t>(a.key)).text), 16) + " " +
           fmt("%.3f", a.prob) + "  " + std::string(static_cast<size_t>(cells), '#') + "\n";
  }
  return out;
}

json attention_json(const TraceModel& tm, size_t pos, int layer, int head, int k) {
  json j;
  j["position"] = pos;
  j["layer"] = layer;
  j["head"] = head >= 0 ? json(head) : json("mean");
  json keys = json::array();
  for (const AttendedKey& a : top_attended(tm, pos, layer, head, k)) {
    json o;
    o["position"] = a.key;
    o["text"] = tm.token(static_cast<size_t>(a.key)).text;
    o["prob"] = a.prob;
    keys.push_back(o);
  }
  j["top"] = keys;
  return j;
}

std::string dump_json(const json& j, int indent) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

std::string printable_token(const std::string& text) {
  std::string out;
  for (unsigned char ch : text) {
    if (ch == '\n' || ch == '\t' || ch >= 0x20) {
      if (ch == 0x7f) out += "\\x7f";
      else out += static_cast<char>(ch);
    } else {
      out += hex_escape(ch);
    }
  }
  return out;
}

std::string render_transcript(const TraceModel& tm, int layer, ColorMode m, size_t begin, size_t end) {
  std::string out;
  end = std::min(end, tm.size());
  for (size_t t = begin; t < end; ++t) {
    const std::string text = printable_token(tm.token(t).text);
    out += paint_expert(m, text, tm.dominant_expert(t, layer), tm.n_routed_experts());
  }
  return out;
}

}  // namespace mlascope::app
