// views/views.h — the panels of the desktop workbench and the UI-only state they share.
// Every panel is a pure draw function of (const TraceModel&, ViewState&): it reads the session,
// changes only UI state, and asks the shell for anything else (send a prompt, fork, add a bookmark,
// export) by queueing an Action. Views never call sessions or engine compute, so a replayed session
// and a live one look the same to them.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/sampler.h"
#include "engine/trace/trace_model.h"
#include "tour.h"
#include "view_math.h"

namespace mlascope::views {

// Requests a panel makes of the shell (which owns the engine, the sessions and the files).
enum class ActionKind {
  SendPrompt,     // text = user message
  Stop,           // cancel the running generation
  Regenerate,     // drop the last assistant answer and generate it again
  EditResend,     // a = message index, text = new text: truncate there and resend
  ForkAt,         // a = token index, b = alternative token id: continue from that choice
  AddBookmark,    // a = token index, text = note
  RemoveBookmark, // a = bookmark id
  OpenSession,    // a = index in SessionsState::list
  CompareSession, // a = index in SessionsState::list (-1 = stop comparing)
  OpenModel,      // text = model folder ("" = bundled demo model)
  OpenConfig,     // text = config.json path (KV memory panel, no weights needed)
  ExportPanel,    // text = panel id
  ExportWindow,
  StartTour,      // a = tour index
  TourAction,     // a tour step's action for the shell to perform (text = JSON of the action)
  ClearChat,
  RefreshSessions,  // re-read the session databases
};

struct Action {
  ActionKind kind = ActionKind::Stop;
  std::string text;
  int64_t a = -1;
  int64_t b = -1;
};

struct ChatState {
  std::string input;
  std::string system_prompt;
  SamplerSettings sampler;
  int max_new_tokens = 64;
  bool generating = false;   // set by the shell
  int edit_message = -1;     // message being edited, -1 = none
  std::string edit_text;
  bool base_model = true;    // plain completion (no chat template)
  std::string template_name; // the model's chat template ("plain" for a base model); set by the shell
  bool has_model = false;    // set by the shell: a model is loaded and can chat
  bool live = true;          // set by the shell: false while a recorded session is shown
  // Teaching pace: the answer appears at this many tokens per second however fast the engine is
  // (0 = off; presenter mode is a good place for ~4). The panel keeps its own reveal position.
  float teaching_pace = 0.0f;
  double revealed = 0.0;      // tokens of the last answer shown so far under the teaching pace
  int revealed_message = -1;  // the message `revealed` counts in
};

enum class ChipColor { DominantExpert, ExpertSet, Probability };

struct TokenStripState {
  ChipColor color = ChipColor::DominantExpert;
  bool show_prompt = true;
};

struct RoutingState {
  int matrix_layer = -1;  // layer of the token x expert matrix (-1 = ViewState::layer)
  std::vector<uint8_t> muted;  // per routed expert: 1 = hidden from the plots
  int solo = -1;               // the only expert shown, -1 = none
  bool show_scores = false;    // token x expert matrix: selection scores instead of weights
  int select_tab = -1;         // 0 token, 1 matrix, 2 load: brought to front next frame (scripts, tours)
  int picker_group = 0;        // expert picker: the routing group whose experts are listed
  int load_layer = -1;         // expert-load chart's layer (-1 = ViewState::layer)
  GridView token_grid;         // zoom/pan of the selected token's layer x expert map
  GridView matrix_grid;        // zoom/pan of the token x expert matrix
};

enum class AttnPart { Probs, Nope, Rope, NopePlusRope };

struct AttentionState {
  int layer = 0;
  int head = -1;  // -1 = average over heads
  AttnPart part = AttnPart::Probs;
  bool all_heads = false;  // small multiples: one thumbnail per head (click one to pick it)
  GridView view;           // zoom/pan of the query x key map
};

struct KvPreset {
  std::string name;  // "DeepSeek-V3", ...
  ModelConfig config;
};

struct KvMemoryState {
  std::vector<KvPreset> presets;  // filled by the shell from assets/presets/*.json
  int preset = -1;                // -1 = the session's model
  int dtype = -1;                 // -1 = the session's own cache dtype (kv_shown), 0 f32, 1 bf16/f16, 2 fp8
  int baseline = 0;               // KvBaseline (views/kv_figures.h): what MLA is compared with
  int mha_heads = 32;             // N of "MHA with N heads of d_h"
  int gqa_groups = 8;             // g of GQA-g; the panel snaps it to a divisor of the heads
  float budget_gib = 80.0f;
  bool log_scale = false;
  std::string config_path;  // text box for "open config.json"
};

struct ReplayState {
  bool playing = false;
  float speed = 8.0f;  // tokens per second
  double accum = 0.0;
  std::string note;
};

struct SessionSummary {
  std::string title, model, date, source;  // source: file or database row the shell understands
  int64_t n_tokens = 0;
};

struct SessionsState {
  std::vector<SessionSummary> list;  // filled by the shell
  std::string filter;
  int selected = -1;
  int open = -1;     // index in `list` of the session on screen (set by the shell), -1 = live chat
  int compare = -1;
  const TraceModel* compare_model = nullptr;  // owned by the shell while comparing
};

// What the status bar shows; written by the shell.
struct StatusInfo {
  std::string model = "(no model)";
  std::string backend = "cpu";
  double tokens_per_s = 0.0;
  bool recording = false;
  std::string record_text = "not recording";  // recording state or why it stopped
  std::string load_message;
  float load_progress = -1.0f;  // [0,1] while a model loads, else < 0
  double frame_ms = 0.0;
};

struct ViewState {
  // Selection: hover previews, click locks. Panels read selected_token(); the token strip writes
  // hover_next during the frame and the shell promotes it at the start of the next frame.
  int hovered_token = -1;
  int hover_next = -1;
  int locked_token = -1;
  int layer = -1;                // selected layer (absolute index); -1 = first MoE layer
  int range_begin = -1;          // token range [begin, end) that filters the statistics; -1 = all
  int range_end = -1;
  int replay_position = -1;      // tokens visible (replay cursor); -1 = all (live)
  float ui_scale = 1.0f;

  ChatState chat;
  TokenStripState strip;
  RoutingState routing;
  AttentionState attention;
  KvMemoryState kv;
  ReplayState replay;
  SessionsState sessions;
  TourState tour;  // views/tour.h
  StatusInfo status;

  // Text of any token id (the loaded model's tokenizer, display form); set by the shell when a model
  // is loaded, empty otherwise. Views fall back to the session's own tokens (see token_text()).
  std::function<std::string(int32_t)> token_text;

  std::vector<std::string> errors;  // shown in the window until dismissed
  std::vector<Action> actions;      // drained by the shell after each frame

  int selected_token() const { return hovered_token >= 0 ? hovered_token : locked_token; }
  void act(ActionKind k, std::string text = {}, int64_t a = -1, int64_t b = -1) {
    actions.push_back(Action{k, std::move(text), a, b});
  }
};

// Tokens the panels may show: the replay cursor, else all of them.
size_t visible_tokens(const TraceModel& tm, const ViewState& st);
// The layer the panels show: st.layer when it is a MoE layer, else the first MoE layer (-1 if none).
int shown_moe_layer(const TraceModel& tm, const ViewState& st);
// The token range statistics use: the selected range clipped to the visible tokens, else all visible.
void stats_range(const TraceModel& tm, const ViewState& st, size_t* begin, size_t* end);
// Display text of token `id`: the shell's tokenizer when set, else the text of a token with that
// id in the session, else "id N".
std::string token_text(const TraceModel& tm, const ViewState& st, int32_t id);
// The alternatives at position t for the fork menu and the token tooltip: the model's own top
// entries (raw softmax, so greedy decoding still offers real choices) as text, each with its
// probability after the sampler (-1 when the sampler cut it).
struct Alternative {
  int32_t id = -1;
  std::string text;
  float p_model = 0.0f;
  float p_sampler = -1.0f;
  bool chosen = false;
};
std::vector<Alternative> fork_alternatives(const TraceModel& tm, const ViewState& st, size_t t, size_t max_n = 10);
// Called once per frame by the shell before drawing.
void begin_frame(ViewState& st);

// The registration table: one entry per panel (views/panel_*.cpp).
using DrawPanel = void (*)(const TraceModel&, ViewState&);
struct PanelInfo {
  const char* id;     // stable id used by scripts, tours and the layout file
  const char* title;  // window title
  DrawPanel draw;     // draws the body (the shell owns Begin/End)
  // Default tile: column and row in a 3x3 grid, with spans.
  int col, row, col_span, row_span;
};
std::span<const PanelInfo> panels();
const PanelInfo* find_panel(const std::string& id);

void draw_chat(const TraceModel& tm, ViewState& st);
void draw_token_strip(const TraceModel& tm, ViewState& st);
void draw_routing(const TraceModel& tm, ViewState& st);
void draw_attention(const TraceModel& tm, ViewState& st);
void draw_kv_memory(const TraceModel& tm, ViewState& st);
void draw_replay(const TraceModel& tm, ViewState& st);
void draw_sessions(const TraceModel& tm, ViewState& st);
void draw_tour(const TraceModel& tm, ViewState& st);

}  // namespace mlascope::views
