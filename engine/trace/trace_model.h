// engine/trace/trace_model.h — the read-only model of one session that every view and the
// terminal draw from. Fed live by the generator (StepRecords through an SPSC queue, drained by the
// owning thread) or by the session reader: a replayed session and a live one look the same.
// Single-threaded by design: only the owner thread calls the mutating functions.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../config.h"
#include "step_record.h"

namespace mlascope {

struct SessionMeta {
  int64_t session_id = -1;     // row id in the sessions database, -1 when not recorded
  std::string title;
  int64_t created_unix = 0;
  std::string model_name;      // folder or file name
  std::string model_path;
  std::string model_hash;      // hash of the weight files
  std::string config_json;     // the model's config.json text
  ModelConfig config;          // parsed from config_json
  std::string backend;         // "cpu (2 threads)", "cuda (NVIDIA H200)"
  std::string mla_mode;        // naive | absorbed
  std::string kv_dtype;        // dtype the engine's KV cache held: f32 | bf16 | f16 ("" = not recorded)
  std::string server_url;      // remote sessions: the server that computed it (never an API key)
  std::string server_model;    // remote sessions: the model name the server reported
  std::string sampler_json;    // sampler settings
  std::string engine_version;
  CapturePolicy capture = CapturePolicy::Routing;
  std::vector<std::vector<float>> gate_bias;  // [n_moe_layers][n_routed_experts] e_score_correction_bias (V3), else empty
  std::string notes;
};

struct Message {
  std::string role;  // system | user | assistant
  std::string text;
  int32_t first_token = 0;  // token index range [first_token, end_token)
  int32_t end_token = 0;
  std::string sampler_json;  // the sampler settings (and seed/RNG state) this turn used; "" = the session's
};

struct Bookmark {
  int64_t id = -1;
  int32_t position = 0;
  std::string note;
};

// A note attached to a position (and optionally a layer) of a session.
struct Annotation {
  int64_t id = -1;
  int32_t position = 0;
  int32_t layer = -1;  // -1: the whole token
  std::string text;
};

class TraceModel {
 public:
  void reset(SessionMeta meta);
  void append(StepRecord rec);                // position must equal size()
  void reserve(size_t n_tokens) { tokens_.reserve(n_tokens); }  // bulk loads (session replay)
  void truncate(size_t n_tokens);             // regenerate / fork: drop tokens >= n
  void add_message(Message m);
  void update_message(size_t index, Message m);
  void add_bookmark(Bookmark b);
  void remove_bookmark(int64_t id);
  void add_annotation(Annotation a);
  void set_title(std::string title);

  const SessionMeta& meta() const { return meta_; }
  const ModelConfig& config() const { return meta_.config; }
  size_t size() const { return tokens_.size(); }
  bool empty() const { return tokens_.empty(); }
  const StepRecord& token(size_t i) const { return tokens_[i]; }
  std::span<const StepRecord> tokens() const { return tokens_; }
  std::span<const Message> messages() const { return messages_; }
  std::span<const Bookmark> bookmarks() const { return bookmarks_; }
  std::span<const Annotation> annotations() const { return annotations_; }
  // Bumps on every change so views can cache derived data.
  uint64_t version() const { return version_; }

  // MoE layer bookkeeping: moe_index(layer) is the row in StepRecord::routes, -1 for dense layers.
  int n_moe_layers() const { return static_cast<int>(moe_layers_.size()); }
  std::span<const int> moe_layers() const { return moe_layers_; }
  int moe_index(int layer) const;
  int n_routed_experts() const { return meta_.config.n_routed_experts; }

  const RouteRow* route(size_t token, int layer) const;           // null: dense layer / not captured
  std::span<const float> scores(size_t token, int layer) const;    // empty when not captured
  std::span<const float> selection(size_t token, int layer) const;
  const AttentionRow* attention(size_t token, int layer) const;    // null when not captured

  // Routed-slot counts per expert of one layer over tokens [begin, end) (expert load).
  std::vector<double> expert_load(int layer, size_t begin, size_t end) const;
  // Dominant expert (largest weight) of a token in a layer, -1 when none.
  int dominant_expert(size_t token, int layer) const;

 private:
  SessionMeta meta_;
  std::vector<int> moe_layers_;
  std::vector<StepRecord> tokens_;
  std::vector<Message> messages_;
  std::vector<Bookmark> bookmarks_;
  std::vector<Annotation> annotations_;
  uint64_t version_ = 0;
};

}  // namespace mlascope
