// views/widgets.h — small ImGui helpers shared by the panels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <imgui.h>

#include "view_math.h"

namespace mlascope::views {

inline ImU32 col32(Rgb c, float alpha = 1.0f) { return to_abgr(c, alpha); }
// Black or white text, whichever reads on `bg`.
inline ImU32 text_on(Rgb bg) { return luminance(bg) > 0.5f ? IM_COL32(10, 10, 10, 255) : IM_COL32(245, 245, 245, 255); }
void help_marker(const char* text);
// Puts the next widget on this line when `w` pixels still fit in the window, else on a new line.
// Decides before moving the cursor (SameLine then NewLine would count the abandoned position as
// content, and the panel would look wider than it is). spacing < 0: the style's item spacing.
bool fits_after_last_item(float w, float spacing = -1.0f);
void same_line_if_fits(float w, float spacing = -1.0f);
// Token text for display: SentencePiece/BPE space marker to a space, newline to a visible symbol.
std::string display_token(const std::string& text);
// Chat text: the marker to a space, newlines kept.
std::string display_text(const std::string& text);
std::string human_bytes(double bytes);
// The monospace font for code blocks: DejaVu Sans Mono (Debian's fonts-dejavu-core, Bitstream Vera
// licence) when installed, else ImGui's built-in ProggyClean. The shell calls add_mono_font while
// it builds the atlas; mono_font() is null until then (text falls back to the default font).
ImFont* add_mono_font(ImFontAtlas* atlas, float size_px);
ImFont* mono_font();
// A colour legend strip for heat_color between the two labels.
void heat_legend(const char* lo, const char* hi, float width);

// Heatmaps as one texture each when the shell can upload textures (the GL window), else as one
// rectangle per cell (headless tests). A software renderer pays for every vertex and every
// covered pixel of thousands of small rectangles; one textured quad costs four vertices.
struct HeatmapImage {
  int w = 0, h = 0;
  std::vector<uint32_t> rgba;  // [h, w] IM_COL32 colours (bytes R, G, B, A); alpha 0 = no cell
  ImTextureID texture = nullptr;
  bool dirty = true;           // rgba changed since the last upload
  uint64_t key = 0;            // what the owner built it from (heat_grid's cache key)
  void resize(int width, int height) {
    w = width;
    h = height;
    rgba.assign(static_cast<size_t>(w) * static_cast<size_t>(h), 0u);
    dirty = true;
  }
};
// Creates (reuse == null) or refills a texture with w x h RGBA pixels; returns its id.
using TextureUpload = ImTextureID (*)(ImTextureID reuse, const uint32_t* rgba, int w, int h);
void set_texture_upload(TextureUpload f);  // the shell's GL upload; null (default): rectangles
bool textures_available();
// The texture of `img`, uploaded when it changed (null without the shell's upload).
ImTextureID heatmap_texture(HeatmapImage& img);
// Draws `img` stretched over [p0, p1]: cell (x, y) covers 1/w x 1/h of it.
void draw_heatmap(ImDrawList* dl, HeatmapImage& img, ImVec2 p0, ImVec2 p1);

}  // namespace mlascope::views
