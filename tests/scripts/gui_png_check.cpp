// tests/scripts/gui_png_check.cpp — checks the scripted GUI run's screenshots: each expected PNG
// exists, decodes, is at least 64x64, and is not one flat colour (at least 16 distinct colours).
// Usage: gui_png_check DIR NAME...
#include <cstdio>
#include <cstdint>
#include <set>
#include <string>

#include <stb/stb_image.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: gui_png_check DIR NAME...\n");
    return 2;
  }
  int bad = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string path = std::string(argv[1]) + "/" + argv[i] + ".png";
    int w = 0, h = 0, n = 0;
    unsigned char* px = stbi_load(path.c_str(), &w, &h, &n, 4);
    if (!px) {
      std::fprintf(stderr, "%s: missing or not a PNG\n", path.c_str());
      ++bad;
      continue;
    }
    std::set<uint32_t> colours;
    for (long j = 0; j < static_cast<long>(w) * h && colours.size() < 16; ++j) {
      const unsigned char* p = px + j * 4;
      colours.insert(uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]);
    }
    stbi_image_free(px);
    if (w < 64 || h < 64 || colours.size() < 16) {
      std::fprintf(stderr, "%s: trivial image (%dx%d, %zu colours)\n", path.c_str(), w, h, colours.size());
      ++bad;
    } else {
      std::printf("%s: %dx%d ok\n", path.c_str(), w, h);
    }
  }
  return bad == 0 ? 0 : 1;
}
