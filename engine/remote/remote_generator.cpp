// engine/remote/remote_generator.cpp — see remote_generator.h and PROTOCOLS.md.
#include "remote_generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "../error.h"
#include "../tokenizer/tokenizer.h"
#include "sse.h"

namespace mlascope::remote {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

json parse_json(std::string_view text, const std::string& where) {
  if (!json_depth_ok(text, 64)) fail("remote", where, "response JSON is nested deeper than 64 levels");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    std::string head(text.substr(0, 80));
    for (char& c : head)
      if (c == '\n' || c == '\r') c = ' ';
    fail("remote", where, "malformed JSON in the response: '" + head + (text.size() > 80 ? "...'" : "'"));
  }
  return j;
}

std::string status_error(const HttpResponse& r) {
  std::string s = "HTTP " + std::to_string(r.status) + ": " + error_message(r.body);
  if (r.status == 401 || r.status == 403) s += " (pass --api-key KEY or set MLASCOPE_API_KEY)";
  return s;
}

}  // namespace

RemoteGenerator::RemoteGenerator(const ModelConfig& config, std::shared_ptr<const Tokenizer> tokenizer, RemoteOptions opt)
    : config_(config), tok_(std::move(tokenizer)), opt_(std::move(opt)) {
  http_ = std::make_unique<HttpClient>(opt_.url, opt_.client);
  info_.url = http_->endpoint().origin() + http_->endpoint().base_path;
  const std::string models_url = http_->endpoint().url("/v1/models");

  const HttpResponse models = http_->get("/v1/models");
  if (models.status == 401 || models.status == 403) fail("remote", models_url, status_error(models));
  bool have_models = false;
  if (models.status == 200) {
    const json j = parse_json(models.body, models_url);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array())
      fail("remote", models_url, "the answer has no 'data' list: not an OpenAI-compatible server");
    have_models = true;
    if (!j["data"].empty() && j["data"][0].is_object()) {
      const json& m0 = j["data"][0];
      if (opt_.model.empty() && m0.contains("id") && m0["id"].is_string()) info_.model = m0["id"].get<std::string>();
      if (auto it = m0.find("max_model_len"); it != m0.end() && it->is_number_integer()) info_.max_context = it->get<int>();
      if (auto meta = m0.find("meta"); meta != m0.end() && meta->is_object())  // llama-server
        if (auto it = meta->find("n_ctx_train"); it != meta->end() && it->is_number_integer() && info_.max_context == 0)
          info_.max_context = it->get<int>();
    }
  }
  if (!opt_.model.empty()) info_.model = opt_.model;

  const std::string info_url = http_->endpoint().url("/get_model_info");
  const HttpResponse gmi = http_->get("/get_model_info");
  bool sglang_like = false;
  if (gmi.status == 401 || gmi.status == 403) fail("remote", info_url, status_error(gmi));
  if (gmi.status == 200 && json_depth_ok(gmi.body, 64)) {
    const json j = json::parse(gmi.body, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("model_path")) {
      sglang_like = true;
      info_.kind = "sglang";
      if (info_.model.empty() && j["model_path"].is_string()) info_.model = j["model_path"].get<std::string>();
      if (auto m = j.find("mlascope"); m != j.end() && m->is_object()) {
        info_.kind = "mlascope";
        info_.version = m->value("version", std::string());
        if (auto c = m->find("max_context"); c != m->end() && c->is_number_integer()) info_.max_context = c->get<int>();
      }
    }
  }
  if (!have_models && !sglang_like)
    fail("remote", models_url, "neither /v1/models (" + status_error(models) + ") nor /get_model_info answered: not an SGLang or OpenAI-compatible server");
  if (info_.kind.empty()) info_.kind = "openai";
  info_.protocol = opt_.protocol == Protocol::Auto ? (sglang_like ? Protocol::SGLang : Protocol::Completions) : opt_.protocol;
}

RemoteGenerator::~RemoteGenerator() = default;

std::string RemoteGenerator::backend_name() const {
  return "remote (" + info_.kind + " " + to_string(info_.protocol) + ", " + info_.url + ")";
}

int RemoteGenerator::max_context() const {
  int c = info_.max_context > 0 ? info_.max_context : config_.max_position_embeddings;
  return c > 0 ? c : 4096;
}

std::string RemoteGenerator::text_of(int32_t id) const {
  if (tok_ && id >= 0) return tok_->token_display(id);
  std::string s = "#";
  s += std::to_string(id);
  return s;
}

StepStatus RemoteGenerator::feed(std::span<const int32_t> ids, const std::function<void(StepRecord&&)>& emit, int message) {
  if (ids.empty()) return StepStatus::Ok;
  if (n_positions() + static_cast<int>(ids.size()) > max_context()) return StepStatus::ContextFull;
  for (int32_t id : ids)
    if (id < 0 || id >= config_.vocab_size) fail("remote", "feed", "token id " + std::to_string(id) + " outside the vocabulary");
  pending_.insert(pending_.end(), ids.begin(), ids.end());
  all_ids_.insert(all_ids_.end(), ids.begin(), ids.end());
  feeds_.push_back({static_cast<int>(ids.size()), message, emit});
  return StepStatus::Ok;
}

void RemoteGenerator::truncate(int n) {
  n = std::clamp(n, 0, n_positions());
  if (n <= static_cast<int>(history_.size())) {
    history_.resize(static_cast<size_t>(n));
    pending_.clear();
    feeds_.clear();
  } else {
    // Drop the newest pending ids, and the feeds they came with.
    int keep = n - static_cast<int>(history_.size());
    pending_.resize(static_cast<size_t>(keep));
    std::vector<Feed> kept;
    for (Feed& f : feeds_) {
      if (keep <= 0) break;
      f.count = std::min(f.count, keep);
      keep -= f.count;
      kept.push_back(std::move(f));
    }
    feeds_ = std::move(kept);
  }
  all_ids_ = history_;
  all_ids_.insert(all_ids_.end(), pending_.begin(), pending_.end());
}

StopReason RemoteGenerator::generate(int max_new_tokens, const std::function<void(StepRecord&&)>& emit,
                                     const std::atomic<bool>* cancel, int message) {
  if (n_positions() == 0) return StopReason::None;  // nothing fed: no distribution to sample from
  if (n_positions() >= max_context()) return StopReason::ContextFull;
  if (max_new_tokens <= 0 && pending_.empty()) return StopReason::Length;
  const int known = static_cast<int>(history_.size());
  const int n_prompt = n_positions();
  const int budget = std::max(0, std::min(max_new_tokens, max_context() - n_prompt));

  GenerateRequest req;
  req.input_ids = all_ids_;
  req.max_new_tokens = budget;
  req.sampler = sampler_.settings();
  // Servers want at least one prompt position to report on; start at the last one when all are known.
  const int lp_start = std::min(known, n_prompt - 1);
  req.known_positions = lp_start;
  req.routed_experts = config_.n_moe_layers() > 0;
  req.mlascope_trace = info_.kind == "mlascope" && opt_.trace_extension && info_.protocol == Protocol::SGLang;
  req.capture = capture_;
  req.n_layers = config_.num_hidden_layers;
  req.model = info_.model;
  if (info_.protocol == Protocol::Chat) {
    req.messages = chat_messages_;
    if (req.messages.empty()) req.messages.push_back({"user", tok_ ? tok_->decode(all_ids_) : std::string()});
  }
  const char* path = info_.protocol == Protocol::SGLang        ? "/generate"
                     : info_.protocol == Protocol::Completions ? "/v1/completions"
                                                               : "/v1/chat/completions";
  const json body = info_.protocol == Protocol::SGLang        ? sglang_generate_body(req)
                    : info_.protocol == Protocol::Completions ? completions_body(req)
                                                              : chat_body(req);
  const std::string where = http_->endpoint().url(path);

  // Records of this request in position order: the pending prompt ids, then generated tokens.
  std::vector<StepRecord> recs;
  std::vector<bool> from_trace;  // its mlascope trace entry arrived
  std::vector<const std::function<void(StepRecord&&)>*> sink;  // where each record goes
  {
    int pos = known;
    for (const Feed& f : feeds_) {
      for (int i = 0; i < f.count; ++i, ++pos) {
        StepRecord r;
        r.position = pos;
        r.id = all_ids_[static_cast<size_t>(pos)];
        r.is_prompt = true;
        r.message = f.message;
        r.text = text_of(r.id);
        recs.push_back(std::move(r));
        from_trace.push_back(false);
        sink.push_back(&f.emit);
      }
    }
  }
  const bool with_trace = req.mlascope_trace;
  // SGLang sends routing once, at the end: its records wait for it. Servers that report none
  // (llama-server, plain vLLM) and mlascope serve's per-token trace stream them live.
  bool live = with_trace || info_.kind == "openai";
  size_t emitted = 0;
  const auto t0 = Clock::now();
  auto last = t0;
  bool first_chunk = true;
  std::string finish, finish_message, text_only;
  std::optional<std::vector<int32_t>> routed, routed_prompt;
  size_t routed_width = 0;

  auto emit_ready = [&](bool all) {
    while (emitted < recs.size()) {
      StepRecord& r = recs[emitted];
      if (!all) {
        if (!live || r.id < 0) return;
        if (with_trace && !from_trace[emitted]) return;
      }
      const auto* out = sink[emitted] ? sink[emitted] : &emit;
      ++emitted;
      if (*out) (*out)(StepRecord(r));
    }
  };

  ResponseReader reader(info_.protocol, where, lp_start, n_prompt);
  auto on_chunk = [&](const json& chunk) {
    Delta d = reader.read(chunk);
    const auto now = Clock::now();
    if (first_chunk) {
      first_chunk = false;
      const float share = std::chrono::duration<float, std::milli>(now - t0).count() / static_cast<float>(std::max<size_t>(1, recs.size()));
      for (StepRecord& r : recs) r.ms = share;
    }
    if (d.has_input) {
      for (size_t i = 0; i < d.input_logprob.size(); ++i) {
        const int pos = lp_start + static_cast<int>(i);
        if (pos < known) continue;
        StepRecord& r = recs[static_cast<size_t>(pos - known)];
        if (!std::isnan(d.input_logprob[i])) r.prob = r.raw_prob = std::exp(d.input_logprob[i]);
        r.top_raw = std::move(d.input_top[i]);
      }
    }
    for (TokenOut& t : d.tokens) {
      StepRecord r;
      r.position = known + static_cast<int>(recs.size());
      r.id = t.id;
      r.message = message;
      r.text = t.id >= 0 ? text_of(t.id) : t.text;
      if (!std::isnan(t.logprob)) r.prob = r.raw_prob = std::exp(t.logprob);
      r.top_raw = std::move(t.top);
      r.ms = std::chrono::duration<float, std::milli>(now - last).count();
      recs.push_back(std::move(r));
      from_trace.push_back(false);
      sink.push_back(nullptr);
      if (recs.back().id < 0) {
        live = false;  // ids come from re-encoding the text at the end
        text_only += t.text;
      }
    }
    text_only += d.text;
    if (!d.text.empty()) live = false;
    last = now;
    if (d.trace.is_array()) {
      for (const json& e : d.trace) {
        StepRecord tr;
        apply_trace_json(e, config_, tr, where);
        if (tr.position < known) continue;  // a position this client already holds
        if (tr.position >= known + static_cast<int>(recs.size()))
          fail("remote", where, "mlascope trace entry for position " + std::to_string(tr.position) + ", which this response has not produced");
        const size_t i = static_cast<size_t>(tr.position - known);
        StepRecord& r = recs[i];
        if (tr.id != r.id) fail("remote", where, "mlascope trace names token " + std::to_string(tr.id) + " at position " + std::to_string(tr.position) + ", the response " + std::to_string(r.id));
        tr.message = r.message;
        tr.text = r.text;
        tr.ms = r.ms;
        r = std::move(tr);
        from_trace[i] = true;
      }
    }
    if (!d.finish.empty()) {
      finish = d.finish;
      finish_message = d.finish_message;
    }
    if (d.routed) routed = std::move(d.routed);
    if (d.routed_nested_prompt) routed_prompt = std::move(d.routed_nested_prompt);
    if (d.routed_width) routed_width = d.routed_width;
    emit_ready(false);
  };

  bool done = false;
  SseParser sse([&](const SseEvent& ev) {
    if (done) return;
    std::string_view data = ev.data;
    while (!data.empty() && (data.back() == ' ' || data.back() == '\n')) data.remove_suffix(1);
    if (data == "[DONE]") {
      done = true;
      return;
    }
    on_chunk(parse_json(data, where));
  });
  bool streamed_sse = false;
  std::string raw;  // a non-SSE answer (a server that ignored "stream")
  auto on_data = [&](std::string_view bytes) {
    if (cancel && cancel->load()) return false;
    if (!streamed_sse && raw.empty()) {
      const size_t k = bytes.find_first_not_of(" \t\r\n");
      if (k != std::string_view::npos) streamed_sse = bytes[k] != '{' && bytes[k] != '[';
    }
    if (streamed_sse) sse.feed(bytes);
    else raw.append(bytes);
    return !done;
  };

  const std::string body_text = body.dump();
  HttpResponse res;
  try {
    res = http_->post_json(path, body_text, on_data);
    if (res.status != 200) fail("remote", where, status_error(res));
    if (streamed_sse) sse.finish();
    else if (!raw.empty()) on_chunk(parse_json(raw, where));
  } catch (const nlohmann::json::exception& e) {
    fail("remote", where, std::string("malformed response: ") + e.what());
  }
  const bool cancelled = cancel && cancel->load();

  // Tokens the server named only by their text: the local tokenizer re-encodes it (ids approximate).
  const size_t n_before = recs.size();
  if (!text_only.empty() && tok_) {
    // Drop the id-less records and re-create them from the text.
    while (!recs.empty() && recs.back().id < 0 && !recs.back().is_prompt) {
      recs.pop_back();
      from_trace.pop_back();
      sink.pop_back();
    }
    for (int32_t id : tok_->encode(text_only)) {
      StepRecord r;
      r.position = known + static_cast<int>(recs.size());
      r.id = id;
      r.message = message;
      r.text = text_of(id);
      recs.push_back(std::move(r));
      from_trace.push_back(false);
      sink.push_back(nullptr);
    }
  }
  (void)n_before;
  for (const StepRecord& r : recs)
    if (r.id < 0 || r.id >= config_.vocab_size)
      fail("remote", where, "the server produced token id " + std::to_string(r.id) + ", outside config.json's vocab_size " + std::to_string(config_.vocab_size));

  // Routing (SGLang's ids) for positions [row_start, total - 1), unless the trace extension gave it.
  routing_reported_ = with_trace;
  if (routed && !routed->empty()) {
    const size_t total = static_cast<size_t>(known) + recs.size();
    std::vector<int32_t> flat = std::move(*routed);
    if (routed_prompt) {  // vLLM: prompt rows separately, then the completion's
      std::vector<int32_t> all = std::move(*routed_prompt);
      all.insert(all.end(), flat.begin(), flat.end());
      flat = std::move(all);
    }
    const size_t n_moe = static_cast<size_t>(config_.n_moe_layers());
    const size_t k = static_cast<size_t>(std::max(config_.num_experts_per_tok, 1));
    const size_t widths[2] = {static_cast<size_t>(config_.num_hidden_layers) * k, n_moe * k};
    // Rows cover [0, total-1) (SGLang's default), [known, total-1) (routed_experts_start_len), or
    // every position (a server that also runs the last token).
    size_t n_rows = 0, row_start = 0;
    for (size_t cand_start : {size_t{0}, static_cast<size_t>(known)}) {
      for (size_t extra : {size_t{1}, size_t{0}}) {
        if (total < cand_start + extra) continue;
        const size_t rows = total - cand_start - extra;
        for (size_t w : widths)
          if (n_rows == 0 && w > 0 && rows > 0 && flat.size() == rows * w && (routed_width == 0 || routed_width == w)) {
            n_rows = rows;
            row_start = cand_start;
          }
      }
    }
    if (n_rows == 0)
      fail("remote", where, "routed_experts holds " + std::to_string(flat.size()) + " expert ids, which fit neither " +
                                std::to_string(total - 1) + " positions x " + std::to_string(widths[0]) + " (num_hidden_layers x top_k) nor x " +
                                std::to_string(widths[1]) + " (MoE layers x top_k): the server runs a different model than config.json describes");
    const auto rows = routes_from_rows(config_, flat, n_rows, where);
    if (!with_trace) {
      for (size_t r = 0; r < n_rows; ++r) {
        const size_t pos = row_start + r;
        if (pos < static_cast<size_t>(known)) continue;
        recs[pos - static_cast<size_t>(known)].routes = rows[r];
      }
    }
    routing_reported_ = true;
  }

  emit_ready(true);
  for (size_t i = 0; i < recs.size(); ++i) history_.push_back(recs[i].id);
  pending_.clear();
  feeds_.clear();
  all_ids_ = history_;

  if (cancelled) return StopReason::Cancelled;
  if (finish == "abort") fail("remote", where, "the server aborted the request" + (finish_message.empty() ? std::string() : ": " + finish_message));
  const size_t n_generated = recs.size() - static_cast<size_t>(n_prompt - known);
  const int eos = config_.eos_token_id;
  if (finish == "length") return n_positions() >= max_context() ? StopReason::ContextFull : StopReason::Length;
  if (finish == "stop" || (n_generated > 0 && recs.back().id == eos)) return StopReason::Eos;
  return n_generated >= static_cast<size_t>(budget) ? StopReason::Length : StopReason::None;
}

}  // namespace mlascope::remote
