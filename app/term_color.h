// app/term_color.h — colours for the terminal front end: each routed expert gets a stable colour so
// a streamed token shows which expert dominated it. Depth follows the terminal: 24-bit when
// COLORTERM says so, the xterm 256-colour palette otherwise, nothing for NO_COLOR, TERM=dumb or
// output that is not a terminal (pipes, files, scripts).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace mlascope::app {

enum class ColorMode { None, Ansi256, TrueColor };
const char* to_string(ColorMode m);

// The decision itself, with every input explicit (null = variable unset).
ColorMode color_mode_from(bool is_tty, const char* no_color, const char* colorterm, const char* term);
// The decision for a file descriptor and the process environment.
ColorMode detect_color_mode(int fd);

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

// Index into the xterm 256-colour palette nearest to `c` (6x6x6 cube 16..231 or grey ramp 232..255).
int ansi256_index(Rgb c);
// The palette entry's RGB value (indices 16..255).
Rgb ansi256_rgb(int index);

// Colour of routed expert `expert` out of `n_routed_experts`: hues spread so that neighbouring ids
// differ strongly, bright enough to read on a dark background. Same input, same colour, in every
// front end (GUI and terminal).
Rgb expert_rgb(int expert, int n_routed_experts);

// Escape sequences; empty strings in ColorMode::None.
std::string fg(ColorMode m, Rgb c);
std::string bg(ColorMode m, Rgb c);
std::string reset(ColorMode m);
std::string bold(ColorMode m);
std::string dim(ColorMode m);

// "e12"
std::string expert_name(int expert);

// `text` in the colour of `expert` (unchanged when expert < 0 or colours are off).
std::string paint_expert(ColorMode m, std::string_view text, int expert, int n_routed_experts);

}  // namespace mlascope::app
