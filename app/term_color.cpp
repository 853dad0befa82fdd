// app/term_color.cpp — see term_color.h.
#include "term_color.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace mlascope::app {

const char* to_string(ColorMode m) {
  switch (m) {
    case ColorMode::None: return "none";
    case ColorMode::Ansi256: return "256";
    case ColorMode::TrueColor: return "truecolor";
  }
  return "?";
}

ColorMode color_mode_from(bool is_tty, const char* no_color, const char* colorterm, const char* term) {
  // no-color.org: NO_COLOR set to any non-empty value turns colour off.
  if (no_color && *no_color) return ColorMode::None;
  if (!is_tty) return ColorMode::None;
  if (term && std::string_view(term) == "dumb") return ColorMode::None;
  if (colorterm) {
    const std::string_view ct(colorterm);
    if (ct == "truecolor" || ct == "24bit") return ColorMode::TrueColor;
  }
  return ColorMode::Ansi256;
}

ColorMode detect_color_mode(int fd) {
  return color_mode_from(::isatty(fd) == 1, std::getenv("NO_COLOR"), std::getenv("COLORTERM"), std::getenv("TERM"));
}

namespace {
constexpr std::array<int, 6> kCubeLevels = {0, 95, 135, 175, 215, 255};

int nearest_cube_level(int v) {
  int best = 0;
  for (int i = 1; i < 6; ++i)
    if (std::abs(kCubeLevels[static_cast<size_t>(i)] - v) < std::abs(kCubeLevels[static_cast<size_t>(best)] - v)) best = i;
  return best;
}

int dist2(Rgb a, Rgb b) {
  const int dr = a.r - b.r, dg = a.g - b.g, db = a.b - b.b;
  return dr * dr + dg * dg + db * db;
}
}  // namespace

Rgb ansi256_rgb(int index) {
  if (index >= 232) {
    const auto v = static_cast<uint8_t>(8 + 10 * (index - 232));
    return {v, v, v};
  }
  const int i = std::max(0, index - 16);
  return {static_cast<uint8_t>(kCubeLevels[static_cast<size_t>(i / 36)]),
          static_cast<uint8_t>(kCubeLevels[static_cast<size_t>((i / 6) % 6)]),
          static_cast<uint8_t>(kCubeLevels[static_cast<size_t>(i % 6)])};
}

int ansi256_index(Rgb c) {
  // Best cube entry and best grey, then whichever is closer: greys fill the gaps of the cube.
  const int cube = 16 + 36 * nearest_cube_level(c.r) + 6 * nearest_cube_level(c.g) + nearest_cube_level(c.b);
  const int mean = (c.r + c.g + c.b) / 3;
  const int grey = 232 + std::clamp((mean - 8 + 5) / 10, 0, 23);
  return dist2(c, ansi256_rgb(grey)) < dist2(c, ansi256_rgb(cube)) ? grey : cube;
}

Rgb expert_rgb(int expert, int n_routed_experts) {
  (void)n_routed_experts;  // hues do not depend on the count so an expert keeps its colour across models
  // Golden-ratio hue steps put consecutive ids far apart on the colour wheel; alternating
  // saturation separates ids whose hues land close together.
  const double hue = std::fmod(0.07 + static_cast<double>(expert) * 0.6180339887498949, 1.0) * 6.0;
  const double s = (expert % 2 == 0) ? 0.75 : 0.45;
  const double v = 1.0;
  const int sector = static_cast<int>(hue) % 6;
  const double f = hue - std::floor(hue);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = 0, g = 0, b = 0;
  switch (sector) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
  }
  auto u8 = [](double x) { return static_cast<uint8_t>(std::lround(std::clamp(x, 0.0, 1.0) * 255.0)); };
  return {u8(r), u8(g), u8(b)};
}

std::string fg(ColorMode m, Rgb c) {
  switch (m) {
    case ColorMode::None: return {};
    case ColorMode::Ansi256: return "\x1b[38;5;" + std::to_string(ansi256_index(c)) + "m";
    case ColorMode::TrueColor:
      return "\x1b[38;2;" + std::to_string(c.r) + ";" + std::to_string(c.g) + ";" + std::to_string(c.b) + "m";
  }
  return {};
}

std::string bg(ColorMode m, Rgb c) {
  switch (m) {
    case ColorMode::None: return {};
    case ColorMode::Ansi256: return "\x1b[48;5;" + std::to_string(ansi256_index(c)) + "m";
    case ColorMode::TrueColor:
      return "\x1b[48;2;" + std::to_string(c.r) + ";" + std::to_string(c.g) + ";" + std::to_string(c.b) + "m";
  }
  return {};
}

std::string reset(ColorMode m) { return m == ColorMode::None ? std::string() : std::string("\x1b[0m"); }
std::string bold(ColorMode m) { return m == ColorMode::None ? std::string() : std::string("\x1b[1m"); }
std::string dim(ColorMode m) { return m == ColorMode::None ? std::string() : std::string("\x1b[2m"); }

std::string expert_name(int expert) {
  std::string s = "e";
  s += std::to_string(expert);
  return s;
}

std::string paint_expert(ColorMode m, std::string_view text, int expert, int n_routed_experts) {
  if (m == ColorMode::None || expert < 0) return std::string(text);
  return fg(m, expert_rgb(expert, n_routed_experts)) + std::string(text) + reset(m);
}

}  // namespace mlascope::app
