// views/widgets.cpp — see widgets.h.
#include "widgets.h"

#include "chat_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mlascope::views {

bool fits_after_last_item(float w, float spacing) {
  if (spacing < 0) spacing = ImGui::GetStyle().ItemSpacing.x;
  return ImGui::GetItemRectMax().x + spacing + w <= ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
}

void same_line_if_fits(float w, float spacing) {
  if (fits_after_last_item(w, spacing)) ImGui::SameLine(0, spacing);
}

void help_marker(const char* text) {
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 30.0f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

namespace {
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}
}  // namespace

std::string display_token(const std::string& text) {
  // Special tokens as «label» (Latin-1 guillemets: in every font the atlas loads), not as their
  // raw fullwidth-bar markers, which read as "< | begin of sentence | >".
  if (std::string label = special_token_label(text); !label.empty()) return "\xC2\xAB" + label + "\xC2\xBB";
  std::string s = replace_all(text, "\xE2\x96\x81", " ");  // U+2581 LOWER ONE EIGHTH BLOCK
  s = replace_all(s, "\n", "\\n");
  s = replace_all(s, "\t", "\\t");
  return s.empty() ? std::string("\xE2\x88\x85") : s;  // empty set sign for an empty token
}

std::string display_text(const std::string& text) { return replace_all(text, "\xE2\x96\x81", " "); }

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) {
    b /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

void heat_legend(const char* lo, const char* hi, float width) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  ImGui::TextUnformatted(lo);
  ImGui::SameLine();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const float h = ImGui::GetTextLineHeight();
  const int n = 32;
  for (int i = 0; i < n; ++i) {
    const float x0 = p.x + width * static_cast<float>(i) / n, x1 = p.x + width * static_cast<float>(i + 1) / n;
    dl->AddRectFilled(ImVec2(x0, p.y), ImVec2(x1, p.y + h), col32(heat_color((static_cast<float>(i) + 0.5f) / n)));
  }
  ImGui::Dummy(ImVec2(width, h));
  ImGui::SameLine();
  ImGui::TextUnformatted(hi);
}

namespace {
TextureUpload g_upload = nullptr;
ImFont* g_mono = nullptr;
const char* const kMonoFont = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";
}  // namespace

ImFont* add_mono_font(ImFontAtlas* atlas, float size_px) {
  g_mono = nullptr;
  if (FILE* f = std::fopen(kMonoFont, "rb")) {
    std::fclose(f);
    ImFontConfig fc;
    fc.OversampleH = 1;
    fc.OversampleV = 1;
    g_mono = atlas->AddFontFromFileTTF(kMonoFont, size_px, &fc);
  }
  if (!g_mono) {
    ImFontConfig fc;
    fc.SizePixels = size_px;
    g_mono = atlas->AddFontDefault(&fc);
  }
  return g_mono;
}

ImFont* mono_font() { return g_mono; }

void set_texture_upload(TextureUpload f) { g_upload = f; }
bool textures_available() { return g_upload != nullptr; }

ImTextureID heatmap_texture(HeatmapImage& img) {
  if (!g_upload || img.w <= 0 || img.h <= 0) return nullptr;
  if (img.dirty || !img.texture) img.texture = g_upload(img.texture, img.rgba.data(), img.w, img.h);
  img.dirty = false;
  return img.texture;
}

void draw_heatmap(ImDrawList* dl, HeatmapImage& img, ImVec2 p0, ImVec2 p1) {
  if (img.w <= 0 || img.h <= 0) return;
  if (g_upload) {
    dl->AddImage(heatmap_texture(img), p0, p1);
    return;
  }
  // Without textures (headless tests) every drawn cell is a rectangle: sample blocks of cells so no
  // rectangle is under ~4 px and a draw list stays far below 16-bit vertex indices.
  const float cw = (p1.x - p0.x) / static_cast<float>(img.w), ch = (p1.y - p0.y) / static_cast<float>(img.h);
  const int sx = std::max(1, static_cast<int>(std::ceil(4.0f / std::max(cw, 1e-3f))));
  const int sy = std::max(1, static_cast<int>(std::ceil(4.0f / std::max(ch, 1e-3f))));
  for (int y = 0; y < img.h; y += sy)
    for (int x = 0; x < img.w; x += sx) {
      const uint32_t c = img.rgba[static_cast<size_t>(y) * static_cast<size_t>(img.w) + static_cast<size_t>(x)];
      if ((c >> 24) == 0) continue;
      const ImVec2 a(p0.x + static_cast<float>(x) * cw, p0.y + static_cast<float>(y) * ch);
      dl->AddRectFilled(a, ImVec2(a.x + cw * static_cast<float>(std::min(sx, img.w - x)), a.y + ch * static_cast<float>(std::min(sy, img.h - y))), c);
    }
}

}  // namespace mlascope::views
