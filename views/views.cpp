// views/views.cpp — the one registration table of panels, and the selection rules they share.
#include "views.h"

#include <algorithm>
#include <unordered_map>

namespace mlascope::views {

namespace {
// id, title, draw, default tile (col, row, col_span, row_span) in a 3x3 grid.
const PanelInfo kPanels[] = {
    {"chat", "Chat", draw_chat, 0, 0, 1, 1},
    {"tokens", "Token strip", draw_token_strip, 1, 0, 2, 1},
    {"routing", "Expert routing", draw_routing, 1, 1, 1, 1},
    {"attention", "Attention", draw_attention, 2, 1, 1, 1},
    {"tour", "Guided tours", draw_tour, 0, 1, 1, 1},
    {"kv_memory", "KV memory", draw_kv_memory, 0, 2, 1, 1},
    {"replay", "Replay", draw_replay, 1, 2, 1, 1},
    {"sessions", "Sessions", draw_sessions, 2, 2, 1, 1},
};
}  // namespace

std::span<const PanelInfo> panels() { return kPanels; }

const PanelInfo* find_panel(const std::string& id) {
  for (const PanelInfo& p : kPanels)
    if (id == p.id) return &p;
  return nullptr;
}

size_t visible_tokens(const TraceModel& tm, const ViewState& st) {
  if (st.replay_position < 0) return tm.size();
  return std::min(tm.size(), static_cast<size_t>(st.replay_position));
}

int shown_moe_layer(const TraceModel& tm, const ViewState& st) {
  if (st.layer >= 0 && tm.moe_index(st.layer) >= 0) return st.layer;
  return tm.n_moe_layers() > 0 ? tm.moe_layers()[0] : -1;
}

void stats_range(const TraceModel& tm, const ViewState& st, size_t* begin, size_t* end) {
  const size_t n = visible_tokens(tm, st);
  if (st.range_begin >= 0 && st.range_end > st.range_begin) {
    *begin = std::min(n, static_cast<size_t>(st.range_begin));
    *end = std::min(n, static_cast<size_t>(st.range_end));
  } else {
    *begin = 0;
    *end = n;
  }
}

std::string token_text(const TraceModel& tm, const ViewState& st, int32_t id) {
  if (st.token_text) return st.token_text(id);
  // The session's own tokens, indexed once per version of the model.
  static const TraceModel* seen = nullptr;
  static uint64_t seen_version = ~0ull;
  static size_t seen_size = 0;
  static std::unordered_map<int32_t, size_t> where;
  if (seen != &tm || seen_version != tm.version() || seen_size != tm.size()) {
    seen = &tm;
    seen_version = tm.version();
    seen_size = tm.size();
    where.clear();
    for (size_t i = 0; i < tm.size(); ++i) where.emplace(tm.token(i).id, i);
  }
  const auto it = where.find(id);
  if (it != where.end()) return tm.token(it->second).text;
  std::string s = "id ";
  s += std::to_string(id);
  return s;
}

std::vector<Alternative> fork_alternatives(const TraceModel& tm, const ViewState& st, size_t t, size_t max_n) {
  std::vector<Alternative> out;
  if (t >= tm.size()) return out;
  const StepRecord& r = tm.token(t);
  const bool raw = !r.top_raw.empty();
  for (const TopEntry& a : raw ? r.top_raw : r.top_sampled) {
    if (out.size() >= max_n) break;
    Alternative x;
    x.id = a.id;
    x.text = token_text(tm, st, a.id);
    x.p_model = raw ? a.prob : -1.0f;
    for (const TopEntry& s : r.top_sampled)
      if (s.id == a.id) x.p_sampler = s.prob;
    x.chosen = a.id == r.id;
    out.push_back(std::move(x));
  }
  return out;
}

void begin_frame(ViewState& st) {
  st.hovered_token = st.hover_next;
  st.hover_next = -1;
}

}  // namespace mlascope::views
