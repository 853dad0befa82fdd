// engine/remote/wire.h — the wire formats of the servers mlascope talks to, as pure functions
// (JSON in, values out; no sockets), shared by the client (remote_generator.*) and by
// `mlascope serve` (app/server/). What each field means and which SGLang version it was read
// from is written down in PROTOCOLS.md beside this file.
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "../config.h"
#include "../sampler.h"
#include "../tokenizer/tokenizer.h"  // ChatMessage
#include "../trace/step_record.h"

namespace mlascope::remote {

// Which HTTP API a generation goes through.
enum class Protocol {
  Auto,         // SGLang's native /generate when the server answers /get_model_info, else Completions
  SGLang,       // POST /generate with input_ids (SGLang, mlascope serve)
  Completions,  // POST /v1/completions with a token-id prompt (llama-server, vLLM, SGLang)
  Chat,         // POST /v1/chat/completions with messages (any OpenAI-compatible server)
};
const char* to_string(Protocol p);
bool parse_protocol(std::string_view text, Protocol& out);

// ---- meta_info.routed_experts (SGLang) ----------------------------------------------------------
// base64 of a flat row-major array [positions, num_hidden_layers, top_k]; int32 little-endian
// unless meta_info.routed_experts_dtype says "uint16" or "uint8". Row p is the routing of the
// forward pass at position p (the one that produced token p + 1).
std::string encode_routed_experts(std::span<const int32_t> ids);
// Throws Error "[remote] <where>: ..." on bad base64, an unknown dtype, or a byte count that is not
// a whole number of elements.
std::vector<int32_t> decode_routed_experts(std::string_view base64, std::string_view dtype, std::string_view where);

// Rows of expert ids -> the RouteRows of the config's MoE layers (dense layers dropped). A row is
// [num_hidden_layers, top_k] (SGLang: every layer, dense ones zero) or [n_moe_layers, top_k]
// (vLLM's nested lists). Weights are not on the wire: they read NaN ("not reported").
// Throws Error naming `where` when the width fits neither, or an expert id is out of range.
std::vector<std::vector<RouteRow>> routes_from_rows(const ModelConfig& c, std::span<const int32_t> flat, size_t n_rows,
                                                    std::string_view where);
// The other direction, for mlascope serve: [positions][n_moe_layers] RouteRows -> SGLang's flat
// [positions, num_hidden_layers, top_k] int32 rows (dense layers zero, as SGLang's zeroed buffer).
std::vector<int32_t> rows_from_routes(const ModelConfig& c, std::span<const StepRecord> records);

// ---- requests -------------------------------------------------------------------------------------
struct GenerateRequest {
  std::vector<int32_t> input_ids;       // the whole conversation (servers are stateless; SGLang's radix cache reuses the prefix)
  std::vector<ChatMessage> messages;    // Chat protocol only
  int known_positions = 0;              // the client already holds records for positions < this
  int max_new_tokens = 64;
  SamplerSettings sampler;
  bool stream = true;
  int top_logprobs = kTopLogits;
  bool routed_experts = true;           // ask for SGLang's return_routed_experts
  bool mlascope_trace = false;          // ask mlascope serve for the rest of the trace (extension)
  CaptureSettings capture;              // what the extension carries
  int n_layers = 64;                    // num_hidden_layers: attention layers named are below it
  std::string model;                    // OpenAI "model" (the server's name for it)
};
nlohmann::json sglang_generate_body(const GenerateRequest& r);
nlohmann::json completions_body(const GenerateRequest& r);
nlohmann::json chat_body(const GenerateRequest& r);

// ---- responses ------------------------------------------------------------------------------------
struct TokenOut {
  int32_t id = -1;                   // -1: the server did not say (text only)
  float logprob = NAN;               // NaN: not reported
  std::vector<TopEntry> top;         // prob = exp(logprob)
  std::string text;                  // the server's text for it (when it sent one)
};

// What one response or streaming chunk adds, in protocol-neutral form.
struct Delta {
  bool has_input = false;                   // prompt logprobs arrived (SGLang, once)
  std::vector<float> input_logprob;         // positions [known_positions, n_prompt); NaN = none (position 0)
  std::vector<std::vector<TopEntry>> input_top;
  std::vector<TokenOut> tokens;             // new output tokens in order
  std::string text;                         // text of this chunk not attributed to tokens (no logprobs)
  std::string finish;                       // "" while running; stop | length | abort | ...
  std::string finish_message;
  std::optional<std::vector<int32_t>> routed;  // decoded routed_experts (flat), when present
  std::optional<std::vector<int32_t>> routed_nested_prompt;  // vLLM-style prompt_routed_experts (flat)
  size_t routed_width = 0;                  // nested lists: values per row (layers * top_k); 0 = unknown
  nlohmann::json trace = nullptr;           // mlascope serve's per-token records (extension), array or null
  std::string model;
};

// Reads successive chunks of one response (or one whole response) of a protocol. SGLang may stream
// cumulative output_ids/logprobs (its default) or deltas (--incremental-streaming-output): both are
// turned into deltas here. Throws Error naming `where` on a server error or a wrong shape.
class ResponseReader {
 public:
  ResponseReader(Protocol p, std::string where, int known_positions, int n_prompt);
  Delta read(const nlohmann::json& chunk);
  size_t n_output() const { return n_out_; }

 private:
  Delta read_sglang(const nlohmann::json& chunk);
  Delta read_openai(const nlohmann::json& chunk);

  Protocol p_;
  std::string where_;
  int known_ = 0;
  int n_prompt_ = 0;
  size_t n_out_ = 0;
  bool input_done_ = false;
};

// The server's error text out of an error body ({"error": {"message": ..}}, {"error": "..."},
// {"message": ..}, {"detail": ..}) or the start of the raw text; one line.
std::string error_message(std::string_view body);

// Refuses JSON nested deeper than max_depth before it is parsed (nlohmann's parser recurses).
bool json_depth_ok(std::string_view text, int max_depth);

// ---- mlascope serve's trace extension ----------------------------------------------------------------
// Per generated or prompt token: the parts of StepRecord that SGLang's format has no place for,
// exactly (f32): route weights, groups, margins (sessions/blob_codec layout, base64), router scores,
// attention rows of the captured layers, the sampler's probabilities.
nlohmann::json trace_json(const StepRecord& r);
// Fills `rec` (id, position, probabilities, routes, scores, attention) from one entry; checks the
// shapes against the config. Throws Error naming `where`.
void apply_trace_json(const nlohmann::json& j, const ModelConfig& c, StepRecord& rec, std::string_view where);

}  // namespace mlascope::remote
