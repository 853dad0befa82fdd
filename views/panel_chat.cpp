// views/panel_chat.cpp — multi-turn chat that reads like a chat app: messages stream in from the
// TraceModel with newlines and tabs as they are, code in monospace blocks, special tokens as small
// chips, a copy button per message and per code block, a caret while the answer streams and an
// optional teaching pace. Send, stop, regenerate, edit-and-resend, system prompt and sampler
// settings are requests to the shell.
#include <algorithm>
#include <cstdio>

#include "chat_text.h"
#include "views.h"
#include "widgets.h"

namespace mlascope::views {

namespace {
bool input_text(const char* label, std::string& s, bool multiline, float h = 0) {
  // ImGui 1.86 wants a fixed buffer here (imgui_stdlib is not in Debian's library).
  static char buf[8192];
  std::snprintf(buf, sizeof buf, "%s", s.c_str());
  const bool changed = multiline ? ImGui::InputTextMultiline(label, buf, sizeof buf, ImVec2(-1, h))
                                 : ImGui::InputText(label, buf, sizeof buf);
  if (changed) s = buf;
  return changed;
}

// A special token as a small rounded chip on the current line.
void special_chip(const std::string& label) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float pad = 3.0f;
  const ImVec2 sz = ImGui::CalcTextSize(label.c_str());
  const ImVec2 p = ImGui::GetCursorScreenPos();
  dl->AddRectFilled(p, ImVec2(p.x + sz.x + 2 * pad, p.y + sz.y), IM_COL32(90, 80, 140, 255), 4.0f);
  dl->AddText(ImVec2(p.x + pad, p.y), IM_COL32(230, 225, 255, 255), label.c_str());
  ImGui::Dummy(ImVec2(sz.x + 2 * pad, sz.y));
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("special token: the template's marker, not text the model wrote");
}

// A fenced code block: monospace, framed, its language and a copy button above it.
void code_block(const ChatSegment& c, int id) {
  ImGui::PushID(id);
  ImGui::TextDisabled("%s%s", c.language.empty() ? "code" : c.language.c_str(), c.open ? " ..." : "");
  ImGui::SameLine();
  if (ImGui::SmallButton("copy code")) ImGui::SetClipboardText(c.text.c_str());
  ImFont* mono = mono_font();
  if (mono) ImGui::PushFont(mono);
  const float pad = 4.0f;
  const float wrap = std::max(40.0f, ImGui::GetContentRegionAvail().x - 2 * pad);
  const ImVec2 sz = ImGui::CalcTextSize(c.text.c_str(), nullptr, false, wrap);
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImGui::GetWindowDrawList()->AddRectFilled(p, ImVec2(p.x + wrap + 2 * pad, p.y + sz.y + 2 * pad), IM_COL32(28, 30, 38, 255), 3.0f);
  ImGui::SetCursorScreenPos(ImVec2(p.x + pad, p.y + pad));
  ImGui::PushTextWrapPos(ImGui::GetCursorPos().x + wrap);
  ImGui::TextUnformatted(c.text.c_str());
  ImGui::PopTextWrapPos();
  if (mono) ImGui::PopFont();
  ImGui::Dummy(ImVec2(1, pad));
  ImGui::PopID();
}

// The message's text laid out segment by segment. Chips sit on the line of the text that follows.
void message_body(const std::string& text, bool caret) {
  const std::vector<ChatSegment> segs = segment_chat_text(text);
  bool after_chip = false;
  for (size_t i = 0; i < segs.size(); ++i) {
    const ChatSegment& g = segs[i];
    switch (g.kind) {
      case ChatSegment::Special:
        if (after_chip) ImGui::SameLine(0, 3);
        special_chip(g.text);
        after_chip = true;
        break;
      case ChatSegment::Text: {
        std::string_view t = g.text;
        if (after_chip && !t.empty() && t.front() != '\n') ImGui::SameLine(0, 3);
        if (!t.empty() && t.front() == '\n' && after_chip) t.remove_prefix(1);
        ImGui::PushTextWrapPos(0.0f);
        ImGui::TextUnformatted(t.data(), t.data() + t.size());
        ImGui::PopTextWrapPos();
        after_chip = false;
        break;
      }
      case ChatSegment::Code:
        code_block(g, static_cast<int>(i));
        after_chip = false;
        break;
    }
  }
  if (caret) {
    // The answer is still streaming: a blinking block after the last line.
    if (!segs.empty()) ImGui::SameLine(0, 2);
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const float h = ImGui::GetTextLineHeight();
    if (static_cast<int>(ImGui::GetTime() * 2.0) % 2 == 0) ImGui::GetWindowDrawList()->AddRectFilled(p, ImVec2(p.x + h * 0.45f, p.y + h), IM_COL32(200, 230, 200, 220));
    ImGui::Dummy(ImVec2(h * 0.5f, h));
  }
}

// Text of message `m` up to token `n_tokens` (replay cursor, teaching pace).
std::string message_prefix(const TraceModel& tm, const Message& m, size_t n_tokens) {
  std::vector<std::string_view> toks;
  for (int32_t t = m.first_token; t < m.end_token && static_cast<size_t>(t) < tm.size(); ++t) toks.push_back(tm.token(static_cast<size_t>(t)).text);
  const size_t n = n_tokens > static_cast<size_t>(m.first_token) ? n_tokens - static_cast<size_t>(m.first_token) : 0;
  return m.text.substr(0, message_prefix_bytes(m.text, toks, n));
}
}  // namespace

void draw_chat(const TraceModel& tm, ViewState& st) {
  ChatState& c = st.chat;
  if (ImGui::CollapsingHeader("system prompt and sampler")) {
    ImGui::Checkbox("plain completion (base model)", &c.base_model);
    ImGui::SameLine();
    ImGui::TextDisabled("model template: %s", c.template_name.empty() ? "-" : c.template_name.c_str());
    if (!c.base_model) input_text("system", c.system_prompt, true, ImGui::GetTextLineHeight() * 3);
    ImGui::SetNextItemWidth(160 * st.ui_scale);
    ImGui::SliderFloat("temperature", &c.sampler.temperature, 0.0f, 2.0f, "%.2f");
    ImGui::SetNextItemWidth(160 * st.ui_scale);
    ImGui::SliderInt("top-k", &c.sampler.top_k, 0, 200);
    ImGui::SetNextItemWidth(160 * st.ui_scale);
    ImGui::SliderFloat("top-p", &c.sampler.top_p, 0.0f, 1.0f, "%.2f");
    ImGui::SetNextItemWidth(160 * st.ui_scale);
    ImGui::SliderFloat("min-p", &c.sampler.min_p, 0.0f, 1.0f, "%.2f");
    ImGui::SetNextItemWidth(160 * st.ui_scale);
    ImGui::SliderFloat("repetition penalty", &c.sampler.repetition_penalty, 1.0f, 2.0f, "%.2f");
    ImGui::SetNextItemWidth(160 * st.ui_scale);
    ImGui::SliderInt("max new tokens", &c.max_new_tokens, 1, 1024);
    int seed = static_cast<int>(c.sampler.seed);
    ImGui::SetNextItemWidth(160 * st.ui_scale);
    if (ImGui::InputInt("seed", &seed)) c.sampler.seed = static_cast<uint64_t>(std::max(0, seed));
    bool pace = c.teaching_pace > 0;
    if (ImGui::Checkbox("teaching pace", &pace)) c.teaching_pace = pace ? 4.0f : 0.0f;
    help_marker("Show the answer at a readable speed, token by token, however fast the model is (for presenting).");
    if (pace) {
      ImGui::SameLine();
      ImGui::SetNextItemWidth(120 * st.ui_scale);
      ImGui::SliderFloat("tokens/s##pace", &c.teaching_pace, 0.5f, 30.0f, "%.1f");
    }
  }
  const float input_h = ImGui::GetTextLineHeightWithSpacing() * 4 + ImGui::GetFrameHeightWithSpacing();
  ImGui::BeginChild("messages", ImVec2(0, -input_h), true);
  const size_t n_vis = visible_tokens(tm, st);
  const auto msgs = tm.messages();
  // Teaching pace: the last answer is revealed at c.teaching_pace tokens per second.
  size_t paced_end = n_vis;
  if (c.teaching_pace > 0 && c.live && !msgs.empty() && msgs.back().role == "assistant") {
    const int last = static_cast<int>(msgs.size()) - 1;
    if (c.revealed_message != last) {
      c.revealed_message = last;
      c.revealed = 0.0;
    }
    c.revealed += static_cast<double>(ImGui::GetIO().DeltaTime) * c.teaching_pace;
    paced_end = std::min(n_vis, static_cast<size_t>(msgs.back().first_token) + static_cast<size_t>(c.revealed));
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    if (static_cast<size_t>(m.first_token) >= n_vis && m.first_token > 0) break;  // replay: not reached yet
    ImGui::PushID(static_cast<int>(i));
    const ImVec4 role_col = m.role == "user" ? ImVec4(0.55f, 0.8f, 1, 1) : m.role == "system" ? ImVec4(0.8f, 0.8f, 0.5f, 1) : ImVec4(0.6f, 1, 0.6f, 1);
    ImGui::TextColored(role_col, "%s", m.role.c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("copy")) ImGui::SetClipboardText(m.text.c_str());
    if (m.role == "user" && !c.generating && c.live) {
      ImGui::SameLine();
      if (ImGui::SmallButton("edit")) {
        c.edit_message = static_cast<int>(i);
        c.edit_text = m.text;
      }
    }
    const bool last = i + 1 == msgs.size();
    const size_t shown_end = last ? paced_end : n_vis;
    const bool streaming = last && m.role == "assistant" && (c.generating || shown_end < static_cast<size_t>(m.end_token));
    if (streaming) {
      ImGui::SameLine();
      ImGui::TextDisabled("streaming: %d tokens", static_cast<int>(std::min<size_t>(shown_end, static_cast<size_t>(m.end_token))) - m.first_token);
    }
    if (c.edit_message == static_cast<int>(i)) {
      input_text("##edit", c.edit_text, true, ImGui::GetTextLineHeight() * 3);
      if (ImGui::Button("resend")) {
        st.act(ActionKind::EditResend, c.edit_text, static_cast<int64_t>(i));
        c.edit_message = -1;
      }
      ImGui::SameLine();
      if (ImGui::Button("cancel")) c.edit_message = -1;
    } else {
      // During replay (or at the teaching pace) only the part of the message already reached.
      const std::string text = static_cast<size_t>(m.end_token) > shown_end ? message_prefix(tm, m, shown_end) : m.text;
      message_body(text, streaming);
    }
    ImGui::Separator();
    ImGui::PopID();
  }
  if ((c.generating || paced_end < n_vis) && ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - 40) ImGui::SetScrollHereY(1.0f);
  ImGui::EndChild();
  input_text("##input", c.input, true, ImGui::GetTextLineHeightWithSpacing() * 3);
  ImGui::BeginDisabled(c.generating || c.input.empty() || !c.has_model);
  if (ImGui::Button("send") || (!c.generating && ImGui::GetIO().KeyCtrl && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter)) && !c.input.empty())) {
    st.act(ActionKind::SendPrompt, c.input);
    c.input.clear();
  }
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(!c.generating);
  if (ImGui::Button("stop")) st.act(ActionKind::Stop);
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(c.generating || msgs.empty());
  if (ImGui::Button("regenerate")) st.act(ActionKind::Regenerate);
  ImGui::SameLine();
  if (ImGui::Button("clear")) st.act(ActionKind::ClearChat);
  ImGui::EndDisabled();
  if (c.generating) {
    ImGui::SameLine();
    ImGui::TextDisabled("generating...");
  }
}

}  // namespace mlascope::views
