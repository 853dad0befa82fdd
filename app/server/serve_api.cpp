// app/server/serve_api.cpp — see serve_api.h. Parsing is strict where a wrong value would change
// the output silently (unknown sampling parameters, ids outside the vocabulary) and every refusal is
// a 400 with one line saying which field; nothing a client sends reaches the engine unchecked.
#include "serve_api.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/remote/wire.h"
#include "engine/tokenizer/tokenizer.h"
#include "serve_engine.h"

namespace mlascope::app::server {

using nlohmann::json;

namespace {


// A refusal: status + one-line message.
struct Refusal {
  int status;
  std::string message;
};
[[noreturn]] void refuse(int status, std::string message) { throw Refusal{status, std::move(message)}; }

std::string error_body(int status, const std::string& message) {
  const char* type = status == 401   ? "authentication_error"
                     : status == 404 ? "not_found_error"
                     : status == 503 ? "server_overloaded"
                     : status >= 500 ? "server_error"
                                     : "invalid_request_error";
  // The message may quote the request (its path) or a file: bytes that are not UTF-8 become U+FFFD
  // rather than a type_error out of a function that must not throw.
  return json{{"error", {{"message", message}, {"type", type}, {"code", status}}}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

void set_error(HttpOut& out, int status, const std::string& message) {
  out.status = status;
  out.content_type = "application/json";
  out.body = error_body(status, message);
}

bool const_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

// Typed field reads that refuse with the field's name.
const json* field(const json& o, const char* k) {
  auto it = o.find(k);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}
bool get_bool(const json& o, const char* k, bool def) {
  const json* v = field(o, k);
  if (!v) return def;
  if (!v->is_boolean()) refuse(400, std::string("'") + k + "' must be true or false");
  return v->get<bool>();
}
int64_t get_int(const json& o, const char* k, int64_t def, int64_t lo, int64_t hi) {
  const json* v = field(o, k);
  if (!v) return def;
  if (!v->is_number_integer()) refuse(400, std::string("'") + k + "' must be an integer");
  const int64_t x = v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : v->get<int64_t>();
  if (x < lo || x > hi) refuse(400, std::string("'") + k + "' is " + std::to_string(x) + ", not in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}
double get_num(const json& o, const char* k, double def, double lo, double hi) {
  const json* v = field(o, k);
  if (!v) return def;
  if (!v->is_number()) refuse(400, std::string("'") + k + "' must be a number");
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) refuse(400, std::string("'") + k + "' is " + std::to_string(x) + ", not in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}
std::string get_string(const json& o, const char* k, const std::string& def) {
  const json* v = field(o, k);
  if (!v) return def;
  if (!v->is_string()) refuse(400, std::string("'") + k + "' must be a string");
  return v->get<std::string>();
}

double logprob_of(float prob) { return prob > 0 ? std::log(static_cast<double>(prob)) : -9999.0; }

std::string rid_now() {
  static std::atomic<uint64_t> n{0};
  return "mlascope-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(n.fetch_add(1));
}

}  // namespace



ServeApi::ServeApi(ServeEngine& engine, ApiOptions opt) : engine_(engine), opt_(std::move(opt)) {
  if (opt_.served_model_name.empty()) opt_.served_model_name = engine_.model_name();
}
ServeApi::~ServeApi() = default;

std::unique_ptr<ServeApi::Pending> ServeApi::begin(const HttpIn& in, HttpOut& out) {
  out = HttpOut{};
  try {
    const std::string& path = in.path;
    // Health needs no key: load balancers probe it.
    if (path == "/health" || path == "/health_generate") {
      if (in.method != "GET" && in.method != "HEAD") refuse(405, "use GET " + path);
      if (engine_.draining()) refuse(503, "the server is shutting down");
      out.content_type = "text/plain";
      out.body = "";
      return nullptr;
    }
    if (!opt_.api_key.empty() && !const_time_equal(in.authorization, "Bearer " + opt_.api_key))
      refuse(401, in.authorization.empty() ? "missing API key: send 'Authorization: Bearer KEY'" : "invalid API key");

    const ModelConfig& c = engine_.config();
    if (path == "/v1/models" || path == "/get_model_info") {
      if (in.method != "GET") refuse(405, "use GET " + path);
      if (path == "/v1/models") {
        out.body = json{{"object", "list"},
                        {"data", json::array({json{{"id", opt_.served_model_name},
                                                   {"object", "model"},
                                                   {"created", 0},
                                                   {"owned_by", "mlascope"},
                                                   {"root", opt_.served_model_name},
                                                   {"max_model_len", engine_.max_context()}}})}}
                       .dump(-1, ' ', false, json::error_handler_t::replace);  // folder names need not be UTF-8
      } else {
        out.body = json{{"model_path", engine_.model_path()},
                        {"tokenizer_path", engine_.model_path()},
                        {"is_generation", true},
                        {"preferred_sampling_params", nullptr},
                        {"weight_version", "default"},
                        {"mlascope", {{"version", MLASCOPE_VERSION},
                                      {"max_context", engine_.max_context()},
                                      {"backend", engine_.backend_name()},
                                      {"trace_extension", 1},
                                      {"num_hidden_layers", c.num_hidden_layers},
                                      {"num_experts_per_tok", c.num_experts_per_tok}}}}
                       .dump(-1, ' ', false, json::error_handler_t::replace);  // folder names need not be UTF-8
      }
      return nullptr;
    }
    ApiRoute route;
    if (path == "/generate") route = ApiRoute::Generate;
    else if (path == "/v1/completions") route = ApiRoute::Completions;
    else if (path == "/v1/chat/completions") route = ApiRoute::Chat;
    else refuse(404, "no route " + path + " (try /generate, /v1/completions, /v1/chat/completions, /v1/models, /health)");
    if (in.method != "POST") refuse(405, "use POST " + path);
    if (in.body.size() > opt_.max_body_bytes) refuse(413, "request body of " + std::to_string(in.body.size()) + " bytes exceeds the limit of " + std::to_string(opt_.max_body_bytes));
    if (!remote::json_depth_ok(in.body, 32)) refuse(400, "request JSON is nested deeper than 32 levels");
    const json body = json::parse(in.body, nullptr, false);
    if (body.is_discarded()) refuse(400, "the request body is not valid JSON");
    if (!body.is_object()) refuse(400, "the request body must be a JSON object");

    auto p = std::make_unique<Pending>();
    p->route = route;
    p->rid = get_string(body, "rid", rid_now());
    p->model = opt_.served_model_name;
    p->created = static_cast<int64_t>(std::time(nullptr));
    p->t0 = Clock::now();
    GenJob job;
    const Tokenizer* tok = engine_.tokenizer();
    auto encode_text = [&](const std::string& text) {
      if (!tok) refuse(400, "this model has no tokenizer; send token ids");
      std::vector<int32_t> ids;
      if (tok->add_bos() && tok->bos_id() >= 0) ids.push_back(tok->bos_id());
      const std::vector<int32_t> e = tok->encode(text);
      ids.insert(ids.end(), e.begin(), e.end());
      return ids;
    };
    auto read_ids = [&](const json& arr, const char* name) {
      std::vector<int32_t> ids;
      if (!arr.is_array()) refuse(400, std::string("'") + name + "' must be a list of token ids");
      if (!arr.empty() && arr[0].is_array()) refuse(400, std::string("batched '") + name + "' (a list of lists) is not supported: send one prompt per request");
      ids.reserve(arr.size());
      for (const json& v : arr) {
        if (!v.is_number_integer()) refuse(400, std::string("'") + name + "' holds a non-integer");
        const int64_t id = v.get<int64_t>();
        if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) refuse(400, std::string("'") + name + "' holds an id outside the vocabulary");
        if (id < 0 || id >= c.vocab_size)
          refuse(400, std::string("'") + name + "' holds token id " + std::to_string(id) + ", outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
        ids.push_back(static_cast<int32_t>(id));
      }
      return ids;
    };
    SamplerSettings& s = job.sampler;
    int64_t max_new = 0;
    if (route == ApiRoute::Generate) {
      const json* ids = field(body, "input_ids");
      const json* text = field(body, "text");
      if (ids && text) refuse(400, "send either 'text' or 'input_ids', not both");
      if (ids) job.input_ids = read_ids(*ids, "input_ids");
      else if (text) {
        if (text->is_array()) refuse(400, "batched 'text' (a list) is not supported: send one prompt per request");
        if (!text->is_string()) refuse(400, "'text' must be a string");
        job.input_ids = encode_text(text->get<std::string>());
      } else refuse(400, "send 'text' or 'input_ids'");
      if (field(body, "input_embeds")) refuse(400, "'input_embeds' is not supported");
      json sp = json::object();
      if (const json* v = field(body, "sampling_params")) {
        if (v->is_array()) refuse(400, "batched 'sampling_params' (a list) is not supported");
        if (!v->is_object()) refuse(400, "'sampling_params' must be an object");
        sp = *v;
      }
      static const std::set<std::string> known = {"max_new_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty",
                                                  "sampling_seed", "seed", "n", "stop", "stop_token_ids", "ignore_eos",
                                                  "skip_special_tokens", "spaces_between_special_tokens", "no_stop_trim",
                                                  "frequency_penalty", "presence_penalty", "min_new_tokens", "json_schema", "regex", "ebnf",
                                                  "stop_regex", "custom_params", "logit_bias"};
      for (const auto& [k, v] : sp.items())
        if (!known.count(k)) refuse(400, "unknown sampling parameter '" + k + "'");
      max_new = get_int(sp, "max_new_tokens", 128, 0, INT32_MAX);
      s.temperature = static_cast<float>(get_num(sp, "temperature", 1.0, 0.0, 100.0));
      s.top_p = static_cast<float>(get_num(sp, "top_p", 1.0, 1e-9, 1.0));
      const int64_t tk = get_int(sp, "top_k", -1, -1, INT32_MAX);
      s.top_k = tk <= 0 ? 0 : static_cast<int>(tk);
      s.min_p = static_cast<float>(get_num(sp, "min_p", 0.0, 0.0, 1.0));
      s.repetition_penalty = static_cast<float>(get_num(sp, "repetition_penalty", 1.0, 1e-3, 100.0));
      s.seed = static_cast<uint64_t>(get_int(sp, "sampling_seed", get_int(sp, "seed", 0, 0, INT64_MAX), 0, INT64_MAX));
      if (get_int(sp, "n", 1, 1, 1) != 1) refuse(400, "'n' must be 1");
      if (get_bool(sp, "ignore_eos", false)) refuse(400, "'ignore_eos' is not supported");
      for (const char* k : {"stop", "stop_token_ids", "json_schema", "regex", "ebnf", "stop_regex", "logit_bias", "custom_params"})
        if (const json* v = field(sp, k); v && !(v->is_array() && v->empty()) && !(v->is_string() && v->get<std::string>().empty()))
          refuse(400, std::string("sampling parameter '") + k + "' is not supported");
      for (const char* k : {"frequency_penalty", "presence_penalty"})
        if (get_num(sp, k, 0.0, -2.0, 2.0) != 0.0) refuse(400, std::string("'") + k + "' is not supported (use repetition_penalty)");
      if (get_int(sp, "min_new_tokens", 0, 0, 0) != 0) refuse(400, "'min_new_tokens' is not supported");

      p->stream = get_bool(body, "stream", false);
      p->return_logprob = get_bool(body, "return_logprob", false);
      const int n_prompt = static_cast<int>(job.input_ids.size());
      p->logprob_start = static_cast<int>(get_int(body, "logprob_start_len", -1, -1, std::max(0, n_prompt - 1)));
      p->top_n = static_cast<int>(get_int(body, "top_logprobs_num", 0, 0, kTopLogits));
      p->return_text_in_logprobs = get_bool(body, "return_text_in_logprobs", false);
      p->routed = get_bool(body, "return_routed_experts", false);
      p->routed_start = static_cast<int>(get_int(body, "routed_experts_start_len", 0, 0, n_prompt));
      if (const json* tr = field(body, "mlascope_trace")) {
        if (!tr->is_object()) refuse(400, "'mlascope_trace' must be an object");
        p->trace = true;
        const std::string cap = get_string(*tr, "capture", "routing");
        if (cap == "routing" || cap == "off") job.capture.policy = CapturePolicy::Routing;
        else if (cap == "attention") job.capture.policy = CapturePolicy::RoutingAttention;
        else if (cap == "everything") job.capture.policy = CapturePolicy::Everything;
        else refuse(400, "'mlascope_trace.capture' must be routing, attention or everything");
        if (const json* al = field(*tr, "attention_layers")) {
          if (!al->is_array()) refuse(400, "'mlascope_trace.attention_layers' must be a list of layers");
          uint64_t mask = 0;
          for (const json& l : *al) {
            if (!l.is_number_integer() || l.get<int64_t>() < 0 || l.get<int64_t>() >= std::min(c.num_hidden_layers, 64))
              refuse(400, "'mlascope_trace.attention_layers' holds a layer outside [0, " + std::to_string(std::min(c.num_hidden_layers, 64)) + ")");
            mask |= 1ull << l.get<int>();
          }
          job.capture.attention_layers = al->empty() ? ~0ull : mask;
        }
        p->trace_start = static_cast<int>(get_int(*tr, "start", std::max(0, p->logprob_start), 0, n_prompt));
      }
    } else {
      // OpenAI: defaults as OpenAI documents them (temperature 1, max_tokens 16 for completions).
      if (route == ApiRoute::Completions) {
        const json* pr = field(body, "prompt");
        if (!pr) refuse(400, "'prompt' is required");
        if (pr->is_string()) job.input_ids = encode_text(pr->get<std::string>());
        else if (pr->is_array() && !pr->empty() && pr->at(0).is_string()) refuse(400, "a list of prompts is not supported: send one per request");
        else job.input_ids = read_ids(*pr, "prompt");
        if (get_bool(body, "echo", false)) refuse(400, "'echo' is not supported");
        const json* lp = field(body, "logprobs");
        if (lp && lp->is_boolean()) p->oa_logprobs = lp->get<bool>() ? 1 : -1;
        else p->oa_logprobs = static_cast<int>(get_int(body, "logprobs", -1, 0, kTopLogits));
        max_new = get_int(body, "max_tokens", 16, 0, INT32_MAX);
        if (field(body, "suffix") || field(body, "best_of")) refuse(400, "'suffix' and 'best_of' are not supported");
      } else {
        const json* msgs = field(body, "messages");
        if (!msgs || !msgs->is_array() || msgs->empty()) refuse(400, "'messages' must be a non-empty list");
        if (!tok) refuse(400, "this model has no tokenizer: the chat route needs one");
        std::vector<ChatMessage> cm;
        for (const json& m : *msgs) {
          if (!m.is_object()) refuse(400, "each message must be an object");
          const std::string role = get_string(m, "role", "");
          if (role != "system" && role != "user" && role != "assistant") refuse(400, "message role '" + role + "' is not system, user or assistant");
          const json* content = field(m, "content");
          if (!content || !content->is_string()) refuse(400, "message content must be a string");
          cm.push_back({role, content->get<std::string>()});
        }
        job.input_ids = tok->apply_chat_template(cm, true);
        p->oa_chat_logprobs = get_bool(body, "logprobs", false);
        p->oa_logprobs = p->oa_chat_logprobs ? static_cast<int>(get_int(body, "top_logprobs", 0, 0, 20)) : -1;
        max_new = get_int(body, "max_completion_tokens", get_int(body, "max_tokens", 4096, 0, INT32_MAX), 0, INT32_MAX);
      }
      if (get_int(body, "n", 1, 1, 1) != 1) refuse(400, "'n' must be 1");
      s.temperature = static_cast<float>(get_num(body, "temperature", 1.0, 0.0, 2.0));
      s.top_p = static_cast<float>(get_num(body, "top_p", 1.0, 1e-9, 1.0));
      const int64_t tk = get_int(body, "top_k", -1, -1, INT32_MAX);
      s.top_k = tk <= 0 ? 0 : static_cast<int>(tk);
      s.min_p = static_cast<float>(get_num(body, "min_p", 0.0, 0.0, 1.0));
      s.repetition_penalty = static_cast<float>(get_num(body, "repetition_penalty", 1.0, 1e-3, 100.0));
      s.seed = static_cast<uint64_t>(get_int(body, "seed", 0, 0, INT64_MAX));
      for (const char* k : {"frequency_penalty", "presence_penalty"})
        if (get_num(body, k, 0.0, -2.0, 2.0) != 0.0) refuse(400, std::string("'") + k + "' is not supported (use repetition_penalty)");
      for (const char* k : {"stop", "tools", "response_format", "logit_bias"})
        if (const json* v = field(body, k); v && !(v->is_array() && v->empty())) refuse(400, std::string("'") + k + "' is not supported");
      p->stream = get_bool(body, "stream", false);
      p->token_ids = get_bool(body, "return_tokens_as_token_ids", false);
      p->routed = get_bool(body, "return_routed_experts", false);
    }
    if (job.input_ids.empty()) refuse(400, "the prompt is empty");
    const int ctx = engine_.max_context();
    const int max_prompt = opt_.max_prompt_tokens > 0 ? std::min(opt_.max_prompt_tokens, ctx - 1) : ctx - 1;
    if (static_cast<int>(job.input_ids.size()) > max_prompt)
      refuse(400, "the prompt has " + std::to_string(job.input_ids.size()) + " tokens; this server takes at most " + std::to_string(max_prompt));
    p->n_prompt = static_cast<int>(job.input_ids.size());
    job.max_new = static_cast<int>(std::min<int64_t>(max_new, opt_.max_new_tokens));
    if (job.capture.policy == CapturePolicy::Off) job.capture.policy = CapturePolicy::Routing;
    job.deadline = Clock::now() + std::chrono::seconds(opt_.request_timeout_s);
    job.prompt_records = true;
    p->ticket = engine_.submit(std::move(job));
    if (!p->ticket) {
      out.headers.push_back({"Retry-After", std::to_string(opt_.retry_after_s)});
      refuse(503, engine_.draining() ? "the server is shutting down" : "the request queue is full; retry later");
    }
    out.status = 200;
    out.content_type = p->stream ? "text/event-stream" : "application/json";
    if (p->stream) {
      out.headers.push_back({"Cache-Control", "no-cache"});
      out.headers.push_back({"X-Accel-Buffering", "no"});
    }
    return p;
  } catch (const Refusal& r) {
    set_error(out, r.status, r.message);
  } catch (const Error& e) {
    set_error(out, 400, e.what());
  } catch (const std::exception& e) {
    set_error(out, 500, std::string("internal error: ") + e.what());
  }
  return nullptr;
}

namespace {

// Everything an answer is assembled from, gathered as the events arrive.
struct Run {
  std::vector<StepRecord> prompt;
  std::vector<StepRecord> out;
  int cached = 0;
  bool done = false;
  StopReason stop = StopReason::None;
  std::string error;
};

json finish_json(const Run& r, int eos) {
  if (!r.done) return nullptr;
  if (!r.error.empty()) return {{"type", "abort"}, {"message", r.error}};
  switch (r.stop) {
    case StopReason::Eos: return {{"type", "stop"}, {"matched", eos}};
    case StopReason::Length:
    case StopReason::ContextFull:
    case StopReason::None: return {{"type", "length"}, {"length", static_cast<int>(r.out.size())}};
    case StopReason::Cancelled: return {{"type", "abort"}, {"message", "cancelled"}};
  }
  return nullptr;
}

std::string openai_finish(const Run& r) {
  if (!r.error.empty() || r.stop == StopReason::Cancelled) return "abort";
  return r.stop == StopReason::Eos ? "stop" : "length";
}

}  // namespace

void ServeApi::produce(Pending& p, const std::function<bool(std::string_view)>& write) {
  const ModelConfig& c = engine_.config();
  const Tokenizer* tok = engine_.tokenizer();
  const int eos = c.eos_token_id;
  Run run;
  bool client_gone = false;
  auto send = [&](const std::string& s) {
    if (client_gone) return;
    if (!write(s)) {
      client_gone = true;
      p.ticket->cancel();
    }
  };
  auto sse = [&](const json& j) { send("data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"); };
  auto token_text = [&](int32_t id) -> json {
    if (!tok) return nullptr;
    return tok->decode(std::span<const int32_t>(&id, 1));
  };
  std::unique_ptr<StreamDecoder> decoder;
  if (tok) decoder = std::make_unique<StreamDecoder>(*tok);
  auto visible = [&](int32_t id) -> std::string {  // text a user sees for a generated token
    if (!decoder || tok->is_special(id)) return {};
    return decoder->push(id);
  };

  // ---- SGLang /generate pieces ----
  size_t sent_out = 0;      // output tokens already in a streamed chunk
  size_t sent_trace = 0;    // trace entries sent (prompt part counted as positions from trace_start)
  bool sent_prompt_trace = false;
  auto sg_tuple = [&](float prob, int32_t id) {
    json t = json::array({prob < 0 ? json(nullptr) : json(logprob_of(prob)), id});
    t.push_back(p.return_text_in_logprobs ? token_text(id) : json(nullptr));
    return t;
  };
  auto sg_top = [&](const std::vector<TopEntry>& top, bool none) -> json {
    if (none) return nullptr;
    json a = json::array();
    for (size_t i = 0; i < top.size() && static_cast<int>(i) < p.top_n; ++i) a.push_back(sg_tuple(top[i].prob, top[i].id));
    return a;
  };
  auto sg_meta = [&](size_t from, size_t to, bool with_input, bool final_chunk) {
    json mi = {{"id", p.rid}, {"finish_reason", finish_json(run, eos)}, {"prompt_tokens", p.n_prompt},
               {"completion_tokens", static_cast<int>(run.out.size())}, {"cached_tokens", run.cached}};
    if (p.return_logprob) {
      json itl = json::array(), itt = json::array();
      if (with_input && p.logprob_start >= 0) {
        for (size_t i = static_cast<size_t>(p.logprob_start); i < run.prompt.size(); ++i) {
          const StepRecord& r = run.prompt[i];
          itl.push_back(sg_tuple(i == 0 ? -1.0f : r.raw_prob, r.id));
          itt.push_back(sg_top(r.top_raw, i == 0));
        }
      }
      json otl = json::array(), ott = json::array();
      for (size_t i = from; i < to; ++i) {
        otl.push_back(sg_tuple(run.out[i].raw_prob, run.out[i].id));
        ott.push_back(sg_top(run.out[i].top_raw, false));
      }
      mi["input_token_logprobs"] = std::move(itl);
      mi["output_token_logprobs"] = std::move(otl);
      if (p.top_n > 0) {
        mi["input_top_logprobs"] = std::move(itt);
        mi["output_top_logprobs"] = std::move(ott);
      }
    }
    if (p.trace) {
      json entries = json::array();
      if (!sent_prompt_trace) {
        for (size_t i = static_cast<size_t>(p.trace_start); i < run.prompt.size(); ++i) entries.push_back(remote::trace_json(run.prompt[i]));
        sent_prompt_trace = true;
      }
      for (; sent_trace < run.out.size(); ++sent_trace) entries.push_back(remote::trace_json(run.out[sent_trace]));
      mi["mlascope"] = std::move(entries);
    }
    if (final_chunk && p.routed && c.n_moe_layers() > 0) {
      // Rows [routed_start, total - 1): every position that ran a forward pass for this answer's
      // tokens except the last token's (SGLang never runs it).
      std::vector<StepRecord> rows;
      const size_t total = run.prompt.size() + run.out.size();
      for (size_t pos = static_cast<size_t>(p.routed_start); pos + 1 < total; ++pos)
        rows.push_back(pos < run.prompt.size() ? run.prompt[pos] : run.out[pos - run.prompt.size()]);
      mi["routed_experts"] = remote::encode_routed_experts(remote::rows_from_routes(c, rows));
    }
    if (final_chunk) mi["e2e_latency"] = std::chrono::duration<double>(Clock::now() - p.t0).count();
    return mi;
  };
  auto ids_json = [&](size_t from, size_t to) {
    json a = json::array();
    for (size_t i = from; i < to; ++i) a.push_back(run.out[i].id);
    return a;
  };
  std::string text_all;

  // ---- OpenAI pieces ----
  auto oa_token = [&](int32_t id) -> std::string {
    if (p.token_ids) return "token_id:" + std::to_string(id);
    const json t = token_text(id);
    return t.is_string() ? t.get<std::string>() : "#" + std::to_string(id);
  };
  auto oa_logprobs_json = [&](size_t from, size_t to) -> json {
    if (p.oa_logprobs < 0) return nullptr;
    if (p.route == ApiRoute::Chat) {
      json content = json::array();
      for (size_t i = from; i < to; ++i) {
        const StepRecord& r = run.out[i];
        json top = json::array();
        for (size_t k = 0; k < r.top_raw.size() && static_cast<int>(k) < p.oa_logprobs; ++k)
          top.push_back({{"token", oa_token(r.top_raw[k].id)}, {"logprob", logprob_of(r.top_raw[k].prob)}});
        content.push_back({{"token", oa_token(r.id)}, {"logprob", logprob_of(r.raw_prob)}, {"top_logprobs", top}});
      }
      return {{"content", content}};
    }
    json tokens = json::array(), vals = json::array(), tops = json::array(), offs = json::array();
    for (size_t i = from; i < to; ++i) {
      const StepRecord& r = run.out[i];
      tokens.push_back(oa_token(r.id));
      vals.push_back(logprob_of(r.raw_prob));
      json top = json::object();
      for (size_t k = 0; k < r.top_raw.size() && static_cast<int>(k) < p.oa_logprobs; ++k) top[oa_token(r.top_raw[k].id)] = logprob_of(r.top_raw[k].prob);
      tops.push_back(top);
      offs.push_back(0);
    }
    return {{"tokens", tokens}, {"token_logprobs", vals}, {"top_logprobs", tops}, {"text_offset", offs}};
  };
  auto oa_sglext = [&](json& resp) {
    if (!p.routed || c.n_moe_layers() == 0) return;
    std::vector<StepRecord> rows;
    const size_t total = run.prompt.size() + run.out.size();
    for (size_t pos = 0; pos + 1 < total; ++pos) rows.push_back(pos < run.prompt.size() ? run.prompt[pos] : run.out[pos - run.prompt.size()]);
    resp["sglext"] = {{"routed_experts", remote::encode_routed_experts(remote::rows_from_routes(c, rows))}};
  };
  const char* object = p.route == ApiRoute::Chat ? (p.stream ? "chat.completion.chunk" : "chat.completion")
                                              : "text_completion";
  auto oa_chunk = [&](const std::string& text, size_t from, size_t to, json finish) {
    json choice = {{"index", 0}, {"finish_reason", finish}};
    if (p.route == ApiRoute::Chat) choice["delta"] = json{{"content", text}};
    else choice["text"] = text;
    choice["logprobs"] = oa_logprobs_json(from, to);
    return json{{"id", p.rid}, {"object", object}, {"created", p.created}, {"model", p.model}, {"choices", json::array({choice})}};
  };
  auto usage = [&] {
    return json{{"prompt_tokens", p.n_prompt}, {"completion_tokens", static_cast<int>(run.out.size())},
                {"total_tokens", p.n_prompt + static_cast<int>(run.out.size())}};
  };

  // ---- the event loop ----
  while (!run.done) {
    JobEvent ev;
    if (!p.ticket->next(ev, 200)) {
      // Nothing yet (queued, or a long prefill): a streaming client that left is noticed when a
      // write fails; SSE comments keep idle proxies from closing the stream.
      if (p.stream) send(": waiting\n\n");
      if (client_gone) p.ticket->cancel();
      continue;
    }
    if (ev.kind == JobEvent::Kind::Prompt) {
      run.prompt = std::move(ev.records);
      run.cached = ev.cached;
      continue;
    }
    if (ev.kind == JobEvent::Kind::Token) {
      for (StepRecord& r : ev.records) run.out.push_back(std::move(r));
      if (!p.stream) continue;
      const size_t i = run.out.size() - 1;
      const std::string piece = visible(run.out[i].id);
      text_all += piece;
      if (p.route == ApiRoute::Generate) {
        const bool cumulative = !opt_.incremental_stream;
        json chunk = {{"text", cumulative ? text_all : piece},
                      {"output_ids", cumulative ? ids_json(0, run.out.size()) : ids_json(sent_out, run.out.size())},
                      {"meta_info", sg_meta(cumulative ? 0 : sent_out, run.out.size(), cumulative || sent_out == 0, false)}};
        sse(chunk);
      } else {
        sse(oa_chunk(piece, i, i + 1, nullptr));
      }
      sent_out = run.out.size();
      continue;
    }
    run.done = true;
    run.stop = ev.stop;
    run.error = ev.error;
  }
  const std::string tail = decoder ? decoder->flush() : std::string();
  text_all += tail;
  if (!p.stream) {
    // Whole answer at once.
    std::string text;
    if (tok) {
      StreamDecoder d(*tok);
      for (const StepRecord& r : run.out)
        if (!tok->is_special(r.id)) text += d.push(r.id);
      text += d.flush();
    }
    json resp;
    if (p.route == ApiRoute::Generate) {
      resp = {{"text", text}, {"output_ids", ids_json(0, run.out.size())}, {"meta_info", sg_meta(0, run.out.size(), true, true)}};
    } else {
      json choice = {{"index", 0}, {"finish_reason", openai_finish(run)}, {"logprobs", oa_logprobs_json(0, run.out.size())}};
      if (p.route == ApiRoute::Chat) choice["message"] = json{{"role", "assistant"}, {"content", text}};
      else choice["text"] = text;
      resp = {{"id", p.rid}, {"object", object}, {"created", p.created}, {"model", p.model}, {"choices", json::array({choice})}, {"usage", usage()}};
      oa_sglext(resp);
    }
    send(resp.dump(-1, ' ', false, json::error_handler_t::replace));
    return;
  }
  // The closing chunk: finish reason (and SGLang's routed experts), then [DONE].
  if (p.route == ApiRoute::Generate) {
    const bool cumulative = !opt_.incremental_stream;
    json chunk = {{"text", cumulative ? text_all : tail},
                  {"output_ids", cumulative ? ids_json(0, run.out.size()) : json::array()},
                  {"meta_info", sg_meta(cumulative ? 0 : run.out.size(), run.out.size(), cumulative || run.out.empty(), true)}};
    sse(chunk);
  } else {
    json chunk = oa_chunk(tail, run.out.size(), run.out.size(), openai_finish(run));
    chunk["usage"] = usage();
    oa_sglext(chunk);
    sse(chunk);
  }
  send("data: [DONE]\n\n");
}

void ServeApi::cancel(Pending& p) { p.ticket->cancel(); }

HttpOut ServeApi::handle(const HttpIn& in) {
  HttpOut out;
  std::unique_ptr<Pending> p = begin(in, out);
  if (p) produce(*p, [&](std::string_view s) {
      out.body.append(s);
      return true;
    });
  return out;
}

}  // namespace mlascope::app::server
