// app/gui/gl_texture.h — the OpenGL side of views::draw_heatmap: RGBA images become textures
// (nearest filtering, so each cell stays a sharp square). Needs a current GL context.
#pragma once
#include <cstdint>

#include <imgui.h>

namespace mlascope::app::gui {

ImTextureID upload_texture(ImTextureID reuse, const uint32_t* rgba, int w, int h);

}  // namespace mlascope::app::gui
