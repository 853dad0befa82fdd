// sessions/export.cpp — JSON via nlohmann::json; CSV by hand (RFC 4180 quoting for token text).
#include "export.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/json_limits.h"

namespace mlascope::sessions {

namespace {

std::string csv_quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

// Shortest text that reads back as the same float.
std::string num(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

// JSON text kept in a session (config, sampler settings) embedded as JSON; text that is not JSON,
// or nests deeper than the reader allows, is embedded as a string instead of breaking the export.
nlohmann::json embedded_json(const std::string& text) {
  if (text.empty()) return nullptr;
  if (json_depth_exceeded_at(text) == std::string_view::npos) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_discarded()) return j;
  }
  return text;
}

nlohmann::json top_json(const std::vector<TopEntry>& top) {
  nlohmann::json a = nlohmann::json::array();
  for (const TopEntry& e : top) a.push_back({{"id", e.id}, {"prob", e.prob}});
  return a;
}

}  // namespace

void export_json(const TraceModel& tm, std::ostream& os) {
  using nlohmann::json;
  const SessionMeta& m = tm.meta();
  json j;
  j["format"] = "mlascope-session";
  j["format_version"] = 1;
  j["session"] = {{"id", m.session_id},       {"title", m.title},
                  {"created_unix", m.created_unix}, {"model_name", m.model_name},
                  {"model_path", m.model_path},     {"model_hash", m.model_hash},
                  {"backend", m.backend},           {"mla_mode", m.mla_mode},
                  {"engine_version", m.engine_version}, {"capture", to_string(m.capture)},
                  {"notes", m.notes},               {"gate_bias", m.gate_bias},
                  {"kv_dtype", m.kv_dtype},         {"server_url", m.server_url},
                  {"server_model", m.server_model}};
  j["session"]["config"] = embedded_json(m.config_json);
  j["session"]["sampler"] = embedded_json(m.sampler_json);
  j["moe_layers"] = std::vector<int>(tm.moe_layers().begin(), tm.moe_layers().end());
  json msgs = json::array();
  for (const Message& msg : tm.messages())
  {
    json jm = {{"role", msg.role}, {"text", msg.text}, {"first_token", msg.first_token}, {"end_token", msg.end_token}};
    if (!msg.sampler_json.empty()) jm["sampler"] = embedded_json(msg.sampler_json);
    msgs.push_back(std::move(jm));
  }
  j["messages"] = std::move(msgs);
  json bms = json::array();
  for (const Bookmark& b : tm.bookmarks()) bms.push_back({{"id", b.id}, {"position", b.position}, {"note", b.note}});
  j["bookmarks"] = std::move(bms);
  json ans = json::array();
  for (const Annotation& a : tm.annotations())
    ans.push_back({{"id", a.id}, {"position", a.position}, {"layer", a.layer}, {"text", a.text}});
  j["annotations"] = std::move(ans);

  json toks = json::array();
  const int n_experts = tm.n_routed_experts();
  for (const StepRecord& r : tm.tokens()) {
    json t = {{"position", r.position}, {"id", r.id},       {"text", r.text},         {"is_prompt", r.is_prompt},
              {"message", r.message},   {"prob", r.prob},   {"raw_prob", r.raw_prob}, {"ms", r.ms},
              {"kv_bytes", r.kv_bytes}, {"top_raw", top_json(r.top_raw)}, {"top_sampled", top_json(r.top_sampled)}};
    json routes = json::array();
    for (size_t i = 0; i < r.routes.size(); ++i) {
      const RouteRow& rr = r.routes[i];
      json row = {{"layer", i < tm.moe_layers().size() ? tm.moe_layers()[i] : -1},
                  {"experts", std::vector<int>(rr.expert.begin(), rr.expert.begin() + rr.k)},
                  {"weights", std::vector<float>(rr.weight.begin(), rr.weight.begin() + rr.k)},
                  {"kept_groups", rr.kept_groups},
                  {"margin", rr.margin}};
      const size_t off = i * static_cast<size_t>(n_experts);
      if (n_experts > 0 && off + static_cast<size_t>(n_experts) <= r.scores.size())
        row["scores"] = std::vector<float>(r.scores.begin() + static_cast<long>(off), r.scores.begin() + static_cast<long>(off + static_cast<size_t>(n_experts)));
      if (n_experts > 0 && off + static_cast<size_t>(n_experts) <= r.selection.size())
        row["selection"] = std::vector<float>(r.selection.begin() + static_cast<long>(off),
                                              r.selection.begin() + static_cast<long>(off + static_cast<size_t>(n_experts)));
      routes.push_back(std::move(row));
    }
    t["routes"] = std::move(routes);
    json att = json::array();
    for (const AttentionRow& a : r.attention) {
      json row = {{"layer", a.layer}, {"n_heads", a.n_heads}, {"n_keys", a.n_keys}, {"probs", a.probs}};
      if (!a.nope.empty()) row["nope"] = a.nope;
      if (!a.rope.empty()) row["rope"] = a.rope;
      att.push_back(std::move(row));
    }
    t["attention"] = std::move(att);
    toks.push_back(std::move(t));
  }
  j["tokens"] = std::move(toks);
  // Token text is bytes (a token may end inside a UTF-8 character; a shared file may hold anything):
  // what is not UTF-8 is written as U+FFFD rather than failing the export.
  os << j.dump(1, ' ', false, json::error_handler_t::replace) << '\n';
}

void export_tokens_csv(const TraceModel& tm, std::ostream& os) {
  os << "position,token_id,text,is_prompt,message,prob,raw_prob,ms,kv_bytes\n";
  for (const StepRecord& r : tm.tokens())
    os << r.position << ',' << r.id << ',' << csv_quote(r.text) << ',' << (r.is_prompt ? 1 : 0) << ',' << r.message << ','
       << num(r.prob) << ',' << num(r.raw_prob) << ',' << num(r.ms) << ',' << r.kv_bytes << '\n';
}

void export_routing_csv(const TraceModel& tm, std::ostream& os) {
  os << "pos,layer,rank,expert,weight\n";
  const auto layers = tm.moe_layers();
  for (const StepRecord& r : tm.tokens())
    for (size_t i = 0; i < r.routes.size() && i < layers.size(); ++i)
      for (int k = 0; k < r.routes[i].k; ++k)
        os << r.position << ',' << layers[i] << ',' << k << ',' << r.routes[i].expert[static_cast<size_t>(k)] << ','
           << num(r.routes[i].weight[static_cast<size_t>(k)]) << '\n';
}

void export_attention_csv(const TraceModel& tm, int layer, int head, std::ostream& os) {
  bool any = false, parts = false;
  for (size_t t = 0; t < tm.size() && !any; ++t)
    if (const AttentionRow* a = tm.attention(t, layer); a && head >= 0 && head < a->n_heads) {
      any = true;
      parts = !a->nope.empty() && !a->rope.empty();
    }
  if (!any)
    fail("sessions", "export", "attention of layer " + std::to_string(layer) + " head " + std::to_string(head) +
                                   " was not captured in this session (capture policy " + to_string(tm.meta().capture) + ")");
  os << (parts ? "pos,key,prob,nope,rope\n" : "pos,key,prob\n");
  for (size_t t = 0; t < tm.size(); ++t) {
    const AttentionRow* a = tm.attention(t, layer);
    if (!a || head >= a->n_heads) continue;
    const size_t off = static_cast<size_t>(head) * static_cast<size_t>(a->n_keys);
    const bool has_parts = parts && a->nope.size() == a->probs.size() && a->rope.size() == a->probs.size();
    for (int k = 0; k < a->n_keys; ++k) {
      const size_t i = off + static_cast<size_t>(k);
      os << tm.token(t).position << ',' << k << ',' << num(a->probs[i]);
      if (parts) os << ',' << (has_parts ? num(a->nope[i]) : "") << ',' << (has_parts ? num(a->rope[i]) : "");
      os << '\n';
    }
  }
}

}  // namespace mlascope::sessions
