// views/widgets.h — small ImGui helpers shared by the panels.
#pragma once
#include <string>

#include <imgui.h>

#include "view_math.h"

namespace mlascope::views {

inline ImU32 col32(Rgb c, float alpha = 1.0f) { return to_abgr(c, alpha); }
// Black or white text, whichever reads on `bg`.
inline ImU32 text_on(Rgb bg) { return luminance(bg) > 0.5f ? IM_COL32(10, 10, 10, 255) : IM_COL32(245, 245, 245, 255); }
void help_marker(const char* text);
// Token text for display: SentencePiece/BPE space marker to a space, newline to a visible symbol.
std::string display_token(const std::string& text);
// Chat text: the marker to a space, newlines kept.
std::string display_text(const std::string& text);
std::string human_bytes(double bytes);
// A colour legend strip for heat_color between the two labels.
void heat_legend(const char* lo, const char* hi, float width);

}  // namespace mlascope::views
