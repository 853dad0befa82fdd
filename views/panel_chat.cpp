// views/panel_chat.cpp — multi-turn chat: messages stream in from the TraceModel; send, stop,
// regenerate, edit-and-resend, system prompt and sampler settings are requests to the shell.
#include <algorithm>
#include <cstdio>

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
}  // namespace

void draw_chat(const TraceModel& tm, ViewState& st) {
  ChatState& c = st.chat;
  if (ImGui::CollapsingHeader("system prompt and sampler")) {
    ImGui::Checkbox("plain completion (base model)", &c.base_model);
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
  }
  const float input_h = ImGui::GetTextLineHeightWithSpacing() * 4 + ImGui::GetFrameHeightWithSpacing();
  ImGui::BeginChild("messages", ImVec2(0, -input_h), true);
  const size_t n_vis = visible_tokens(tm, st);
  const auto msgs = tm.messages();
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    if (static_cast<size_t>(m.first_token) >= n_vis && m.first_token > 0) break;  // replay: not reached yet
    ImGui::PushID(static_cast<int>(i));
    const ImVec4 role_col = m.role == "user" ? ImVec4(0.55f, 0.8f, 1, 1) : m.role == "system" ? ImVec4(0.8f, 0.8f, 0.5f, 1) : ImVec4(0.6f, 1, 0.6f, 1);
    ImGui::TextColored(role_col, "%s", m.role.c_str());
    if (m.role == "user" && !c.generating) {
      ImGui::SameLine();
      if (ImGui::SmallButton("edit")) {
        c.edit_message = static_cast<int>(i);
        c.edit_text = display_text(m.text);
      }
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
      // During replay show only the part of the message already reached.
      std::string text;
      if (static_cast<size_t>(m.end_token) > n_vis) {
        for (int32_t t = m.first_token; t < static_cast<int32_t>(n_vis); ++t) text += tm.token(static_cast<size_t>(t)).text;
      } else {
        text = m.text;
      }
      ImGui::PushTextWrapPos(0.0f);
      ImGui::TextUnformatted(display_text(text).c_str());
      ImGui::PopTextWrapPos();
    }
    ImGui::Separator();
    ImGui::PopID();
  }
  if (c.generating && ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - 40) ImGui::SetScrollHereY(1.0f);
  ImGui::EndChild();
  input_text("##input", c.input, true, ImGui::GetTextLineHeightWithSpacing() * 3);
  ImGui::BeginDisabled(c.generating || c.input.empty());
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
