// app/gui/gl_texture.cpp — see gl_texture.h.
#include "gl_texture.h"

#include <GLFW/glfw3.h>

namespace mlascope::app::gui {

ImTextureID upload_texture(ImTextureID reuse, const uint32_t* rgba, int w, int h) {
  // ImGui's OpenGL backend reads an ImTextureID as the GL texture name.
  GLuint tex = static_cast<GLuint>(reinterpret_cast<intptr_t>(reuse));
  if (tex == 0) {
    glGenTextures(1, &tex);
    glBindTexture(GL_TEXTURE_2D, tex);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  } else {
    glBindTexture(GL_TEXTURE_2D, tex);
  }
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, w, h, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  return reinterpret_cast<ImTextureID>(static_cast<intptr_t>(tex));
}

}  // namespace mlascope::app::gui
