// app/terminal_views.h — the text views of the terminal front end, pure functions of read-only
// data (KvMemory, TraceModel) returning strings or JSON, shared by the interactive chat
// (/kv, /routing, /experts, /attn) and the headless commands (kv, replay, inspect).
// Text goes to people (may be coloured); JSON goes to scripts (stable keys, no colour).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/kv_memory.h"
#include "engine/trace/trace_model.h"
#include "term_color.h"

namespace mlascope::app {

// bf16 / fp16 -> 2, fp32 -> 4, fp8 -> 1; throws Error naming the value otherwise.
int dtype_bytes(const std::string& dtype);

struct KvReport {
  std::string source;      // config file or preset name
  std::string model_type;
  std::string dtype = "bf16";
  int64_t context = 0;     // tokens the "at N" column is computed for
  int64_t in_use = -1;     // tokens cached now (chat); -1 = not shown
  KvMemory memory;
};
KvReport make_kv_report(const ModelConfig& c, std::string source, const std::string& dtype, int64_t context,
                        int gqa_groups);
std::string render_kv_text(const KvReport& r, ColorMode m);
nlohmann::json kv_json(const KvReport& r);

// The experts and weights of token `pos` in every MoE layer, with the layer's margin.
std::string render_routing_text(const TraceModel& tm, size_t pos, ColorMode m);
nlohmann::json routing_json(const TraceModel& tm, size_t pos);

struct ExpertLoadStats {
  int layer = 0;
  std::vector<double> share;  // [n_routed_experts] fraction of the layer's routed slots
  double max_over_mean = 0;   // 1 = perfectly balanced
  double min_over_mean = 0;
  double cv = 0;              // coefficient of variation of the counts
  uint64_t slots = 0;         // routed slots counted (tokens x top_k)
};
ExpertLoadStats expert_load_stats(const TraceModel& tm, int layer, size_t begin, size_t end);
// One block per MoE layer (or only `layer` when >= 0): a bar per expert against the uniform share.
std::string render_expert_load_text(const TraceModel& tm, int layer, ColorMode m, size_t begin = 0,
                                    size_t end = SIZE_MAX);
nlohmann::json expert_load_json(const TraceModel& tm, int layer, size_t begin = 0, size_t end = SIZE_MAX);

struct AttendedKey {
  int32_t key = 0;  // position attended to
  float prob = 0;
};
// Top `k` keys token `pos` attends to in (layer, head); head -1 = mean over heads. Empty when the
// attention of that layer was not captured.
std::vector<AttendedKey> top_attended(const TraceModel& tm, size_t pos, int layer, int head, int k);
std::string render_attention_text(const TraceModel& tm, size_t pos, int layer, int head, int k, ColorMode m);
nlohmann::json attention_json(const TraceModel& tm, size_t pos, int layer, int head, int k);

// The session's text with every token coloured by its dominant expert in `layer` (prompt tokens
// dimmed when colours are on). A legend line follows when `legend`.
std::string render_transcript(const TraceModel& tm, int layer, ColorMode m, size_t begin = 0, size_t end = SIZE_MAX);
// Make a token's display text safe to print: control characters shown as escapes, newlines kept.
std::string printable_token(const std::string& text);

// JSON for scripts (--json): text from sessions may hold bytes that are not UTF-8 (a token cut in
// the middle of a character, a crafted file); they become U+FFFD instead of a nlohmann type_error.
std::string dump_json(const nlohmann::json& j, int indent = 2);

}  // namespace mlascope::app
