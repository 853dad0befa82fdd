// engine/remote/wire.cpp — see wire.h and PROTOCOLS.md.
#include "wire.h"

#include <algorithm>
#include <cstring>

#include "../error.h"
#include "base64.h"
#include "sessions/blob_codec.h"

namespace mlascope::remote {

using nlohmann::json;

const char* to_string(Protocol p) {
  switch (p) {
    case Protocol::Auto: return "auto";
    case Protocol::SGLang: return "sglang";
    case Protocol::Completions: return "completions";
    case Protocol::Chat: return "chat";
  }
  return "?";
}

bool parse_protocol(std::string_view text, Protocol& out) {
  if (text == "auto") out = Protocol::Auto;
  else if (text == "sglang" || text == "generate") out = Protocol::SGLang;
  else if (text == "completions") out = Protocol::Completions;
  else if (text == "chat") out = Protocol::Chat;
  else return false;
  return true;
}

namespace {

std::string str(std::string_view s) { return std::string(s); }

// Little-endian element reads (the wire is LE; so is every machine we build for, but say so).
template <typename T>
T load_le(const uint8_t* p) {
  T v{};
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::string b64_f32(std::span<const float> v) {
  return base64_encode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)));
}

std::vector<float> f32_from_b64(const json& j, std::string_view where, std::string_view field) {
  if (!j.is_string()) fail("remote", str(where), "field '" + str(field) + "' is not a base64 string");
  auto bytes = base64_decode(j.get_ref<const std::string&>());
  if (!bytes) fail("remote", str(where), "field '" + str(field) + "' is not valid base64");
  if (bytes->size() % 4 != 0) fail("remote", str(where), "field '" + str(field) + "' is not a whole number of float32 values");
  std::vector<float> out(bytes->size() / 4);
  std::memcpy(out.data(), bytes->data(), bytes->size());
  return out;
}

std::vector<uint8_t> bytes_from_b64(const json& j, std::string_view where, std::string_view field) {
  if (!j.is_string()) fail("remote", str(where), "field '" + str(field) + "' is not a base64 string");
  auto bytes = base64_decode(j.get_ref<const std::string&>());
  if (!bytes) fail("remote", str(where), "field '" + str(field) + "' is not valid base64");
  return std::move(*bytes);
}

float to_prob(double logprob) { return static_cast<float>(std::exp(logprob)); }

// A JSON number or null as a log-probability (NaN = none). llama.cpp sends the lowest float for
// log(0); exp of it is 0, which is what it means.
float logprob_value(const json& v, std::string_view where, std::string_view field) {
  if (v.is_null()) return NAN;
  if (!v.is_number()) fail("remote", str(where), "'" + str(field) + "' holds a " + std::string(v.type_name()) + ", not a log-probability");
  const double d = v.get<double>();
  if (std::isnan(d) || d > 1e-3) fail("remote", str(where), "'" + str(field) + "' holds " + std::to_string(d) + ", not a log-probability");
  return static_cast<float>(d);
}

int32_t token_id_value(const json& v, std::string_view where, std::string_view field) {
  if (!v.is_number_integer()) fail("remote", str(where), "'" + str(field) + "' is not a token id");
  const int64_t id = v.get<int64_t>();
  if (id < 0 || id > INT32_MAX) fail("remote", str(where), "'" + str(field) + "' token id " + std::to_string(id) + " is out of range");
  return static_cast<int32_t>(id);
}

// SGLang's logprob tuple: [logprob|null, token_id, text|null].
void sglang_tuple(const json& t, std::string_view where, std::string_view field, float& lp, int32_t& id) {
  if (!t.is_array() || t.size() < 2) fail("remote", str(where), "'" + str(field) + "' entry is not [logprob, token_id, ...]");
  lp = logprob_value(t[0], where, field);
  id = token_id_value(t[1], where, field);
}

std::vector<TopEntry> sglang_top(const json& list, std::string_view where, std::string_view field) {
  std::vector<TopEntry> out;
  if (list.is_null()) return out;
  if (!list.is_array()) fail("remote", str(where), "'" + str(field) + "' entry is not a list");
  for (const json& t : list) {
    float lp;
    int32_t id;
    sglang_tuple(t, where, field, lp, id);
    out.push_back({id, std::isnan(lp) ? -1.0f : to_prob(lp)});
  }
  return out;
}

// "token_id:123" (vLLM's return_tokens_as_token_ids) -> 123, else -1.
int32_t id_from_token_string(const std::string& s) {
  static constexpr std::string_view kPrefix = "token_id:";
  if (s.compare(0, kPrefix.size(), kPrefix) != 0) return -1;
  int64_t v = 0;
  if (s.size() == kPrefix.size() || s.size() > kPrefix.size() + 10) return -1;
  for (size_t i = kPrefix.size(); i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v > INT32_MAX ? -1 : static_cast<int32_t>(v);
}

// One entry of logprobs.content (OpenAI chat; llama-server also for /v1/completions):
// {"id"?: n, "token": s, "logprob": x, "top_logprobs": [{"id"?, "token", "logprob"}]}.
TokenOut openai_content_entry(const json& e, std::string_view where) {
  if (!e.is_object()) fail("remote", str(where), "'logprobs.content' entry is not an object");
  TokenOut t;
  if (auto it = e.find("token"); it != e.end() && it->is_string()) t.text = it->get<std::string>();
  if (auto it = e.find("id"); it != e.end()) t.id = token_id_value(*it, where, "logprobs.content[].id");
  else if (!t.text.empty()) t.id = id_from_token_string(t.text);
  if (auto it = e.find("logprob"); it != e.end()) t.logprob = logprob_value(*it, where, "logprobs.content[].logprob");
  if (auto it = e.find("top_logprobs"); it != e.end() && it->is_array()) {
    for (const json& a : *it) {
      if (!a.is_object()) fail("remote", str(where), "'top_logprobs' entry is not an object");
      int32_t id = -1;
      if (auto ii = a.find("id"); ii != a.end()) id = token_id_value(*ii, where, "top_logprobs[].id");
      else if (auto tt = a.find("token"); tt != a.end() && tt->is_string()) id = id_from_token_string(tt->get<std::string>());
      float lp = NAN;
      if (auto ll = a.find("logprob"); ll != a.end()) lp = logprob_value(*ll, where, "top_logprobs[].logprob");
      if (id >= 0 && !std::isnan(lp)) t.top.push_back({id, to_prob(lp)});
    }
  }
  return t;
}

// Legacy completions logprobs: {"tokens": [s], "token_logprobs": [x], "top_logprobs": [{s: x}]}.
std::vector<TokenOut> openai_legacy_logprobs(const json& lp, std::string_view where) {
  std::vector<TokenOut> out;
  const auto tokens = lp.find("tokens");
  if (tokens == lp.end() || !tokens->is_array()) return out;
  const auto vals = lp.find("token_logprobs");
  const auto tops = lp.find("top_logprobs");
  for (size_t i = 0; i < tokens->size(); ++i) {
    TokenOut t;
    if ((*tokens)[i].is_string()) t.text = (*tokens)[i].get<std::string>();
    t.id = id_from_token_string(t.text);
    if (vals != lp.end() && vals->is_array() && i < vals->size())
      t.logprob = logprob_value((*vals)[i], where, "logprobs.token_logprobs");
    if (tops != lp.end() && tops->is_array() && i < tops->size() && (*tops)[i].is_object()) {
      for (const auto& [k, v] : (*tops)[i].items()) {
        const int32_t id = id_from_token_string(k);
        const float l = logprob_value(v, where, "logprobs.top_logprobs");
        if (id >= 0 && !std::isnan(l)) t.top.push_back({id, to_prob(l)});
      }
      std::sort(t.top.begin(), t.top.end(), [](const TopEntry& a, const TopEntry& b) { return a.prob > b.prob; });
    }
    out.push_back(std::move(t));
  }
  return out;
}

// vLLM-style nested routed experts [rows][layers][top_k] -> flat, with the row width.
std::vector<int32_t> flatten_nested(const json& j, std::string_view where, std::string_view field, size_t& width) {
  std::vector<int32_t> flat;
  width = 0;
  if (!j.is_array()) fail("remote", str(where), "'" + str(field) + "' is not a list");
  for (const json& row : j) {
    if (!row.is_array()) fail("remote", str(where), "'" + str(field) + "' row is not a list");
    size_t w = 0;
    for (const json& layer : row) {
      if (!layer.is_array()) fail("remote", str(where), "'" + str(field) + "' layer entry is not a list");
      for (const json& e : layer) {
        if (!e.is_number_integer()) fail("remote", str(where), "'" + str(field) + "' holds a non-integer expert id");
        flat.push_back(static_cast<int32_t>(std::clamp<int64_t>(e.get<int64_t>(), INT32_MIN, INT32_MAX)));
        ++w;
      }
    }
    if (width == 0) width = w;
    else if (w != width) fail("remote", str(where), "'" + str(field) + "' rows have different widths");
  }
  return flat;
}

json finish_of(const json& fr) {
  if (fr.is_null()) return nullptr;
  return fr;
}

}  // namespace

// ---- routed experts ---------------------------------------------------------------------------------

std::string encode_routed_experts(std::span<const int32_t> ids) {
  std::vector<uint8_t> bytes(ids.size() * 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint32_t v = static_cast<uint32_t>(ids[i]);
    bytes[4 * i + 0] = static_cast<uint8_t>(v);
    bytes[4 * i + 1] = static_cast<uint8_t>(v >> 8);
    bytes[4 * i + 2] = static_cast<uint8_t>(v >> 16);
    bytes[4 * i + 3] = static_cast<uint8_t>(v >> 24);
  }
  return base64_encode(bytes);
}

std::vector<int32_t> decode_routed_experts(std::string_view b64, std::string_view dtype, std::string_view where) {
  size_t elem = 4;
  if (dtype.empty() || dtype == "int32") elem = 4;
  else if (dtype == "uint16") elem = 2;
  else if (dtype == "uint8") elem = 1;
  else fail("remote", str(where), "routed_experts_dtype '" + str(dtype) + "' is not int32, uint16 or uint8");
  const auto bytes = base64_decode(b64);
  if (!bytes) fail("remote", str(where), "routed_experts is not valid base64");
  if (bytes->size() % elem != 0)
    fail("remote", str(where), "routed_experts holds " + std::to_string(bytes->size()) + " bytes, not a whole number of " +
                                   (dtype.empty() ? std::string("int32") : str(dtype)) + " values");
  std::vector<int32_t> out(bytes->size() / elem);
  const uint8_t* p = bytes->data();
  for (size_t i = 0; i < out.size(); ++i) {
    if (elem == 4) out[i] = static_cast<int32_t>(uint32_t{p[4 * i]} | uint32_t{p[4 * i + 1]} << 8 | uint32_t{p[4 * i + 2]} << 16 |
                                                 uint32_t{p[4 * i + 3]} << 24);
    else if (elem == 2) out[i] = static_cast<int32_t>(uint32_t{p[2 * i]} | uint32_t{p[2 * i + 1]} << 8);
    else out[i] = p[i];
  }
  return out;
}

std::vector<std::vector<RouteRow>> routes_from_rows(const ModelConfig& c, std::span<const int32_t> flat, size_t n_rows,
                                                    std::string_view where) {
  const int k = c.num_experts_per_tok;
  const int L = c.num_hidden_layers;
  const int n_moe = c.n_moe_layers();
  std::vector<std::vector<RouteRow>> out(n_rows);
  if (n_rows == 0) return out;
  if (k <= 0 || n_moe == 0) fail("remote", str(where), "the server sent routing but config.json describes a model without MoE layers");
  if (k > kMaxTopK) fail("remote", str(where), "num_experts_per_tok " + std::to_string(k) + " exceeds what mlascope records (" + std::to_string(kMaxTopK) + ")");
  if (flat.size() % n_rows != 0)
    fail("remote", str(where), "routed_experts holds " + std::to_string(flat.size()) + " values, not a whole number of rows for " +
                                   std::to_string(n_rows) + " positions");
  const size_t width = flat.size() / n_rows;
  bool all_layers;
  if (width == static_cast<size_t>(L) * static_cast<size_t>(k)) all_layers = true;
  else if (width == static_cast<size_t>(n_moe) * static_cast<size_t>(k)) all_layers = false;
  else
    fail("remote", str(where), "routing rows hold " + std::to_string(width) + " experts per position; config.json says num_hidden_layers " +
                                   std::to_string(L) + " x num_experts_per_tok " + std::to_string(k) + " = " + std::to_string(L * k) +
                                   " (or " + std::to_string(n_moe) + " MoE layers x " + std::to_string(k) +
                                   "): the server runs a different model than config.json describes");
  for (size_t r = 0; r < n_rows; ++r) {
    std::vector<RouteRow>& rows = out[r];
    rows.reserve(static_cast<size_t>(n_moe));
    int moe = 0;
    for (int l = 0; l < L; ++l) {
      if (!c.is_moe_layer(l)) continue;
      const size_t slot = all_layers ? static_cast<size_t>(l) : static_cast<size_t>(moe);
      const int32_t* e = flat.data() + r * width + slot * static_cast<size_t>(k);
      RouteRow row;
      row.k = static_cast<uint8_t>(k);
      for (int i = 0; i < k; ++i) {
        if (e[i] < 0 || e[i] >= c.n_routed_experts)
          fail("remote", str(where), "position " + std::to_string(r) + " layer " + std::to_string(l) + ": expert id " + std::to_string(e[i]) +
                                         " outside [0, " + std::to_string(c.n_routed_experts) + ")");
        row.expert[static_cast<size_t>(i)] = static_cast<int16_t>(e[i]);
        row.weight[static_cast<size_t>(i)] = NAN;  // SGLang sends expert ids only
      }
      row.margin = NAN;
      rows.push_back(row);
      ++moe;
    }
  }
  return out;
}

std::vector<int32_t> rows_from_routes(const ModelConfig& c, std::span<const StepRecord> records) {
  const int k = c.num_experts_per_tok;
  const int L = c.num_hidden_layers;
  std::vector<int32_t> flat(records.size() * static_cast<size_t>(L) * static_cast<size_t>(std::max(k, 0)), 0);
  for (size_t r = 0; r < records.size(); ++r) {
    int moe = 0;
    for (int l = 0; l < L; ++l) {
      if (!c.is_moe_layer(l)) continue;
      if (static_cast<size_t>(moe) < records[r].routes.size()) {
        const RouteRow& row = records[r].routes[static_cast<size_t>(moe)];
        for (int i = 0; i < std::min<int>(k, row.k); ++i)
          flat[(r * static_cast<size_t>(L) + static_cast<size_t>(l)) * static_cast<size_t>(k) + static_cast<size_t>(i)] =
              row.expert[static_cast<size_t>(i)];
      }
      ++moe;
    }
  }
  return flat;
}

// ---- requests ---------------------------------------------------------------------------------------

nlohmann::json sglang_generate_body(const GenerateRequest& r) {
  json sp = {{"max_new_tokens", r.max_new_tokens}, {"temperature", r.sampler.temperature}, {"top_p", r.sampler.top_p}};
  // SGLang: top_k -1 is "off" (0 is refused); send only what differs from its defaults so older
  // versions that do not know a parameter are not asked for it.
  if (r.sampler.top_k > 0) sp["top_k"] = r.sampler.top_k;
  if (r.sampler.min_p > 0) sp["min_p"] = r.sampler.min_p;
  if (r.sampler.repetition_penalty != 1.0f) sp["repetition_penalty"] = r.sampler.repetition_penalty;
  if (r.sampler.seed != 0 && r.sampler.temperature > 0) sp["sampling_seed"] = r.sampler.seed;
  json b = {{"input_ids", r.input_ids},
            {"sampling_params", sp},
            {"stream", r.stream},
            {"return_logprob", true},
            {"logprob_start_len", r.known_positions},
            {"top_logprobs_num", r.top_logprobs}};
  if (r.routed_experts) b["return_routed_experts"] = true;
  if (r.mlascope_trace) {
    json layers = json::array();
    for (int l = 0; l < std::min(r.n_layers, 64); ++l)
      if (r.capture.attention_layers & (1ull << l)) layers.push_back(l);
    // The extension's names (PROTOCOLS.md), not to_string(CapturePolicy)'s "routing+attention".
    const char* capture = r.capture.policy == CapturePolicy::Everything         ? "everything"
                          : r.capture.policy == CapturePolicy::RoutingAttention ? "attention"
                                                                                : "routing";
    b["mlascope_trace"] = {{"capture", capture}, {"attention_layers", layers}};
  }
  return b;
}

namespace {
void openai_sampling(const GenerateRequest& r, json& b) {
  b["max_tokens"] = r.max_new_tokens;
  b["temperature"] = r.sampler.temperature;
  b["top_p"] = r.sampler.top_p;
  if (r.sampler.top_k > 0) b["top_k"] = r.sampler.top_k;  // vLLM, llama-server and SGLang extension
  if (r.sampler.min_p > 0) b["min_p"] = r.sampler.min_p;
  if (r.sampler.repetition_penalty != 1.0f) {
    b["repetition_penalty"] = r.sampler.repetition_penalty;  // vLLM, SGLang
    b["repeat_penalty"] = r.sampler.repetition_penalty;      // llama-server
  }
  if (r.sampler.seed != 0) b["seed"] = r.sampler.seed;
  b["stream"] = r.stream;
  if (!r.model.empty()) b["model"] = r.model;
  if (r.routed_experts) b["return_routed_experts"] = true;  // SGLang's OpenAI routes; others ignore it
}
}  // namespace

nlohmann::json completions_body(const GenerateRequest& r) {
  json b = {{"prompt", r.input_ids}};
  openai_sampling(r, b);
  b["logprobs"] = r.top_logprobs;              // legacy: how many alternatives (llama-server: n_probs)
  b["return_tokens_as_token_ids"] = true;      // vLLM: "token_id:N" instead of text pieces
  return b;
}

nlohmann::json chat_body(const GenerateRequest& r) {
  json msgs = json::array();
  for (const ChatMessage& m : r.messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
  json b = {{"messages", msgs}};
  openai_sampling(r, b);
  b["logprobs"] = true;
  b["top_logprobs"] = std::min(r.top_logprobs, 20);  // the OpenAI limit, which vLLM enforces too
  b["return_tokens_as_token_ids"] = true;
  return b;
}

// ---- responses --------------------------------------------------------------------------------------

ResponseReader::ResponseReader(Protocol p, std::string where, int known_positions, int n_prompt)
    : p_(p), where_(std::move(where)), known_(known_positions), n_prompt_(n_prompt) {}

Delta ResponseReader::read(const nlohmann::json& chunk) {
  if (!chunk.is_object()) fail("remote", where_, "response is a JSON " + std::string(chunk.type_name()) + ", not an object");
  if (auto e = chunk.find("error"); e != chunk.end() && !e->is_null()) {
    std::string msg = error_message(chunk.dump());
    fail("remote", where_, "server error: " + msg);
  }
  return p_ == Protocol::SGLang ? read_sglang(chunk) : read_openai(chunk);
}

Delta ResponseReader::read_sglang(const nlohmann::json& chunk) {
  Delta d;
  const auto ids_it = chunk.find("output_ids");
  const auto mi_it = chunk.find("meta_info");
  if (mi_it == chunk.end() || !mi_it->is_object()) fail("remote", where_, "response has no 'meta_info' object");
  const json& mi = *mi_it;
  std::vector<int32_t> ids;
  if (ids_it != chunk.end() && !ids_it->is_null()) {
    if (!ids_it->is_array()) fail("remote", where_, "'output_ids' is not a list");
    for (const json& v : *ids_it) ids.push_back(token_id_value(v, where_, "output_ids"));
  }
  // Cumulative (SGLang's default stream) or incremental: completion_tokens counts all so far.
  size_t first_new = 0;  // index into ids of the first id not seen before
  bool cumulative;
  if (auto ct = mi.find("completion_tokens"); ct != mi.end() && ct->is_number_integer()) {
    const size_t total = ct->get<size_t>();
    if (total == ids.size()) cumulative = true;
    else if (total == n_out_ + ids.size()) cumulative = false;
    else
      fail("remote", where_, "'output_ids' holds " + std::to_string(ids.size()) + " ids but completion_tokens is " +
                                 std::to_string(total) + " after " + std::to_string(n_out_) + " received");
  } else {
    cumulative = ids.size() >= n_out_ && n_out_ > 0;
  }
  if (cumulative) {
    if (ids.size() < n_out_) fail("remote", where_, "'output_ids' shrank from " + std::to_string(n_out_) + " to " + std::to_string(ids.size()));
    first_new = n_out_;
  }
  const size_t n_new = ids.size() - first_new;
  const size_t base = cumulative ? 0 : n_out_;  // absolute index of ids[0]

  // Output logprobs: same accumulation as the ids (lists may also be absent).
  std::vector<float> lp(n_new, NAN);
  std::vector<std::vector<TopEntry>> top(n_new);
  auto pick = [&](const json& list, std::string_view field, auto&& take) {
    if (!list.is_array()) fail("remote", where_, "'" + str(field) + "' is not a list");
    const size_t total_after = n_out_ + n_new;
    size_t offset;  // index in list of the first new token
    if (list.size() == total_after) offset = n_out_;
    else if (list.size() == n_new) offset = 0;
    else if (list.empty()) return;
    else
      fail("remote", where_, "'" + str(field) + "' has " + std::to_string(list.size()) + " entries for " + std::to_string(total_after) +
                                 " output tokens");
    for (size_t i = 0; i < n_new; ++i) take(list[offset + i], i);
  };
  if (auto it = mi.find("output_token_logprobs"); it != mi.end() && !it->is_null())
    pick(*it, "output_token_logprobs", [&](const json& t, size_t i) {
      int32_t id;
      sglang_tuple(t, where_, "output_token_logprobs", lp[i], id);
      if (id != ids[first_new + i])
        fail("remote", where_, "output_token_logprobs names token " + std::to_string(id) + " where output_ids has " +
                                   std::to_string(ids[first_new + i]));
    });
  if (auto it = mi.find("output_top_logprobs"); it != mi.end() && !it->is_null())
    pick(*it, "output_top_logprobs", [&](const json& t, size_t i) { top[i] = sglang_top(t, where_, "output_top_logprobs"); });
  for (size_t i = 0; i < n_new; ++i) {
    TokenOut t;
    t.id = ids[first_new + i];
    t.logprob = lp[i];
    t.top = std::move(top[i]);
    d.tokens.push_back(std::move(t));
  }
  (void)base;
  n_out_ += n_new;

  // Prompt logprobs, once: positions [known, n_prompt), the first of a conversation has none.
  if (!input_done_) {
    if (auto it = mi.find("input_token_logprobs"); it != mi.end() && it->is_array() && !it->empty()) {
      const size_t want = static_cast<size_t>(std::max(0, n_prompt_ - known_));
      if (it->size() != want)
        fail("remote", where_, "input_token_logprobs has " + std::to_string(it->size()) + " entries for " + std::to_string(want) +
                                   " prompt positions");
      d.has_input = true;
      d.input_logprob.resize(want, NAN);
      d.input_top.resize(want);
      for (size_t i = 0; i < want; ++i) {
        int32_t id;
        sglang_tuple((*it)[i], where_, "input_token_logprobs", d.input_logprob[i], id);
      }
      if (auto tt = mi.find("input_top_logprobs"); tt != mi.end() && tt->is_array()) {
        if (tt->size() != want)
          fail("remote", where_, "input_top_logprobs has " + std::to_string(tt->size()) + " entries for " + std::to_string(want) +
                                     " prompt positions");
        for (size_t i = 0; i < want; ++i) d.input_top[i] = sglang_top((*tt)[i], where_, "input_top_logprobs");
      }
      input_done_ = true;
    }
  }
  if (auto it = mi.find("finish_reason"); it != mi.end() && !it->is_null()) {
    const json fr = finish_of(*it);
    if (fr.is_object()) {
      d.finish = fr.value("type", std::string("stop"));
      if (auto m = fr.find("message"); m != fr.end() && m->is_string()) d.finish_message = m->get<std::string>();
    } else if (fr.is_string()) {
      d.finish = fr.get<std::string>();
    }
  }
  if (auto it = mi.find("routed_experts"); it != mi.end() && !it->is_null()) {
    if (!it->is_string()) fail("remote", where_, "meta_info.routed_experts is not a base64 string");
    std::string dtype;
    if (auto dt = mi.find("routed_experts_dtype"); dt != mi.end() && dt->is_string()) dtype = dt->get<std::string>();
    d.routed = decode_routed_experts(it->get_ref<const std::string&>(), dtype, where_);
  }
  if (auto it = mi.find("mlascope"); it != mi.end() && !it->is_null()) {
    if (!it->is_array()) fail("remote", where_, "meta_info.mlascope is not a list");
    d.trace = *it;
  }
  return d;
}

Delta ResponseReader::read_openai(const nlohmann::json& chunk) {
  Delta d;
  if (auto m = chunk.find("model"); m != chunk.end() && m->is_string()) d.model = m->get<std::string>();
  const auto ch = chunk.find("choices");
  if (ch != chunk.end() && !ch->is_null()) {
    if (!ch->is_array()) fail("remote", where_, "'choices' is not a list");
    if (!ch->empty()) {
      const json& c = (*ch)[0];
      if (!c.is_object()) fail("remote", where_, "'choices[0]' is not an object");
      std::string text;
      if (auto t = c.find("text"); t != c.end() && t->is_string()) text = t->get<std::string>();
      for (const char* key : {"delta", "message"}) {
        if (auto dm = c.find(key); dm != c.end() && dm->is_object())
          if (auto ct = dm->find("content"); ct != dm->end() && ct->is_string()) text += ct->get<std::string>();
      }
      if (auto lp = c.find("logprobs"); lp != c.end() && lp->is_object()) {
        if (auto content = lp->find("content"); content != lp->end() && content->is_array()) {
          for (const json& e : *content) d.tokens.push_back(openai_content_entry(e, where_));
        } else {
          d.tokens = openai_legacy_logprobs(*lp, where_);
        }
      }
      // vLLM's return_token_ids / SGLang's output ids name the tokens when logprobs did not.
      if (auto ti = c.find("token_ids"); ti != c.end() && ti->is_array()) {
        std::vector<int32_t> ids;
        for (const json& v : *ti) ids.push_back(token_id_value(v, where_, "token_ids"));
        if (d.tokens.empty()) {
          for (int32_t id : ids) d.tokens.push_back(TokenOut{id, NAN, {}, {}});
        } else if (ids.size() == d.tokens.size()) {
          for (size_t i = 0; i < ids.size(); ++i) d.tokens[i].id = ids[i];
        }
      }
      if (d.tokens.empty()) d.text = text;
      if (auto fr = c.find("finish_reason"); fr != c.end() && fr->is_string()) d.finish = fr->get<std::string>();
      if (auto re = c.find("routed_experts"); re != c.end() && !re->is_null()) {
        if (re->is_string()) d.routed = decode_routed_experts(re->get<std::string>(), "", where_);
        else d.routed = flatten_nested(*re, where_, "choices[0].routed_experts", d.routed_width);
      }
    }
  }
  for (const json* ext : {chunk.contains("sglext") ? &chunk["sglext"] : nullptr}) {
    if (!ext || !ext->is_object()) continue;
    if (auto re = ext->find("routed_experts"); re != ext->end() && re->is_string()) {
      std::string dtype;
      if (auto dt = ext->find("routed_experts_dtype"); dt != ext->end() && dt->is_string()) dtype = dt->get<std::string>();
      d.routed = decode_routed_experts(re->get<std::string>(), dtype, where_);
    }
  }
  if (auto pr = chunk.find("prompt_routed_experts"); pr != chunk.end() && !pr->is_null()) {
    size_t w = 0;
    d.routed_nested_prompt = flatten_nested(*pr, where_, "prompt_routed_experts", w);
    if (d.routed_width == 0) d.routed_width = w;
  }
  n_out_ += d.tokens.size();
  return d;
}

// ---- errors and limits --------------------------------------------------------------------------------

std::string error_message(std::string_view body) {
  auto one_line = [](std::string s) {
    for (char& c : s)
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (s.size() > 300) s = s.substr(0, 297) + "...";
    return s;
  };
  if (json_depth_ok(body, 32)) {
    const json j = json::parse(body, nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
      auto text_of = [](const json& v) -> std::string {
        if (v.is_string()) return v.get<std::string>();
        if (v.is_object()) {
          for (const char* k : {"message", "msg", "detail"})
            if (auto m = v.find(k); m != v.end() && m->is_string()) return m->get<std::string>();
        }
        if (v.is_array() && !v.empty() && v[0].is_object()) {
          for (const char* k : {"msg", "message"})
            if (auto m = v[0].find(k); m != v[0].end() && m->is_string()) return m->get<std::string>();
        }
        return {};
      };
      for (const char* k : {"error", "message", "detail"}) {
        if (auto it = j.find(k); it != j.end()) {
          std::string s = text_of(*it);
          if (!s.empty()) return one_line(s);
        }
      }
    }
  }
  std::string s(body.substr(0, 300));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return one_line(s.empty() ? std::string("(empty body)") : s);
}

bool json_depth_ok(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escape = false;
  for (char c : text) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// ---- trace extension ----------------------------------------------------------------------------------

nlohmann::json trace_json(const StepRecord& r) {
  auto top = [](const std::vector<TopEntry>& t) {
    json a = json::array();
    for (const TopEntry& e : t) a.push_back({e.id, e.prob});
    return a;
  };
  json j = {{"position", r.position}, {"id", r.id},          {"prompt", r.is_prompt},     {"prob", r.prob},
            {"raw_prob", r.raw_prob}, {"top_raw", top(r.top_raw)}, {"top_sampled", top(r.top_sampled)},
            {"ms", r.ms},             {"kv_bytes", r.kv_bytes}};
  if (!r.routes.empty()) j["routes"] = base64_encode(sessions::encode_routes(r.routes));
  if (!r.scores.empty()) j["scores"] = b64_f32(r.scores);
  if (!r.selection.empty()) j["selection"] = b64_f32(r.selection);
  if (!r.attention.empty()) {
    json a = json::array();
    for (const AttentionRow& row : r.attention) {
      json e = {{"layer", row.layer}, {"n_heads", row.n_heads}, {"n_keys", row.n_keys}, {"probs", b64_f32(row.probs)}};
      if (!row.nope.empty()) e["nope"] = b64_f32(row.nope);
      if (!row.rope.empty()) e["rope"] = b64_f32(row.rope);
      a.push_back(std::move(e));
    }
    j["attention"] = std::move(a);
  }
  return j;
}

void apply_trace_json(const nlohmann::json& j, const ModelConfig& c, StepRecord& rec, std::string_view where) {
  if (!j.is_object()) fail("remote", str(where), "a meta_info.mlascope entry is not an object");
  auto num = [&](const char* k) -> const json& {
    auto it = j.find(k);
    if (it == j.end() || !it->is_number()) fail("remote", str(where), std::string("meta_info.mlascope entry has no number '") + k + "'");
    return *it;
  };
  rec.position = num("position").get<int32_t>();
  rec.id = token_id_value(j.at("id"), where, "mlascope.id");
  if (rec.id >= c.vocab_size) fail("remote", str(where), "mlascope token id " + std::to_string(rec.id) + " outside the vocabulary");
  rec.is_prompt = j.value("prompt", false);
  rec.prob = num("prob").get<float>();
  rec.raw_prob = num("raw_prob").get<float>();
  rec.ms = num("ms").get<float>();
  rec.kv_bytes = num("kv_bytes").get<uint64_t>();
  auto top = [&](const char* k) {
    std::vector<TopEntry> out;
    auto it = j.find(k);
    if (it == j.end() || !it->is_array()) return out;
    for (const json& e : *it) {
      if (!e.is_array() || e.size() != 2 || !e[1].is_number())
        fail("remote", str(where), std::string("meta_info.mlascope '") + k + "' entry is not [id, prob]");
      out.push_back({token_id_value(e[0], where, k), e[1].get<float>()});
    }
    return out;
  };
  rec.top_raw = top("top_raw");
  rec.top_sampled = top("top_sampled");
  const int n_moe = c.n_moe_layers();
  if (auto it = j.find("routes"); it != j.end()) {
    rec.routes = sessions::decode_routes(bytes_from_b64(*it, where, "routes"));
    if (static_cast<int>(rec.routes.size()) != n_moe)
      fail("remote", str(where), "routing for " + std::to_string(rec.routes.size()) + " MoE layers; config.json has " + std::to_string(n_moe));
    for (const RouteRow& r : rec.routes)
      for (int i = 0; i < r.k; ++i)
        if (r.k > c.num_experts_per_tok || r.expert[static_cast<size_t>(i)] < 0 || r.expert[static_cast<size_t>(i)] >= c.n_routed_experts)
          fail("remote", str(where), "routing names an expert outside [0, " + std::to_string(c.n_routed_experts) + ")");
  }
  const size_t score_n = static_cast<size_t>(n_moe) * static_cast<size_t>(std::max(0, c.n_routed_experts));
  for (const char* k : {"scores", "selection"}) {
    auto it = j.find(k);
    if (it == j.end()) continue;
    std::vector<float> v = f32_from_b64(*it, where, k);
    if (v.size() != score_n)
      fail("remote", str(where), std::string("'") + k + "' holds " + std::to_string(v.size()) + " values; config.json needs " + std::to_string(score_n));
    (std::string_view(k) == "scores" ? rec.scores : rec.selection) = std::move(v);
  }
  if (auto it = j.find("attention"); it != j.end()) {
    if (!it->is_array()) fail("remote", str(where), "'attention' is not a list");
    for (const json& e : *it) {
      if (!e.is_object()) fail("remote", str(where), "an 'attention' entry is not an object");
      AttentionRow row;
      row.layer = e.value("layer", -1);
      row.n_heads = e.value("n_heads", 0);
      row.n_keys = e.value("n_keys", 0);
      if (row.layer < 0 || row.layer >= c.num_hidden_layers || row.n_heads != c.num_attention_heads || row.n_keys != rec.position + 1)
        fail("remote", str(where), "attention row of layer " + std::to_string(row.layer) + " has shape [" + std::to_string(row.n_heads) +
                                       ", " + std::to_string(row.n_keys) + "], not [num_attention_heads, position + 1]");
      const size_t n = static_cast<size_t>(row.n_heads) * static_cast<size_t>(row.n_keys);
      row.probs = f32_from_b64(e.value("probs", json()), where, "attention.probs");
      if (row.probs.size() != n) fail("remote", str(where), "attention.probs has the wrong length");
      if (e.contains("nope")) row.nope = f32_from_b64(e["nope"], where, "attention.nope");
      if (e.contains("rope")) row.rope = f32_from_b64(e["rope"], where, "attention.rope");
      if ((!row.nope.empty() && row.nope.size() != n) || (!row.rope.empty() && row.rope.size() != n))
        fail("remote", str(where), "attention nope/rope parts have the wrong length");
      rec.attention.push_back(std::move(row));
    }
  }
}

}  // namespace mlascope::remote
