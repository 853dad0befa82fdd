// app/gui/script.cpp — see script.h.
#include "script.h"

#include <fstream>
#include <sstream>

#include "engine/error.h"

namespace mlascope::app::gui {

namespace {
struct Verb {
  const char* name;
  int min_args, max_args;
  bool numeric;  // all args must be integers
};
const Verb kVerbs[] = {
    {"load_model", 1, 2, false},    {"connect_server", 2, 2, false}, {"synthetic", 1, 2, false},   {"prompt", 1, 1, false},
    {"wait_idle", 0, 0, false},     {"wait", 1, 1, true},        {"select_token", 1, 1, true},
    {"lock_token", 1, 1, true},     {"select_layer", 1, 1, true}, {"range", 2, 2, true},
    {"replay_position", 1, 1, true}, {"open_panel", 1, 1, false}, {"close_panel", 1, 1, false},
    {"only_panels", 1, 16, false},  {"tab", 2, 2, false},        {"preset", 1, 1, false},
    {"attention", 2, 2, true},      {"tour", 1, 2, false},       {"open_session", 1, 1, false},
    {"compare_session", 1, 1, false}, {"presenter", 1, 1, false}, {"screenshot", 1, 2, false},
    {"frame_stats", 1, 1, true},    {"quit", 0, 0, false},       {"title", 1, 1, false},
    {"sampler", 1, 8, false},       {"clear", 0, 0, false},      {"regenerate", 0, 0, false},
    {"fork", 2, 2, true},           {"bookmark", 1, 32, false},
    // layout and input
    {"maximize", 1, 1, false},      {"restore", 0, 0, false},    {"resize", 2, 2, true},
    {"click", 1, 2, false},         {"double_click", 1, 2, false},         {"drag", 3, 4, false},       {"export_png", 0, 1, false},
    {"tour_next", 0, 0, false},     {"tour_skip", 0, 0, false},  {"tour_back", 0, 0, false},
    {"tour_leave", 0, 0, false},    {"expect_error", 1, 1, false},
    // assertions: a failed one is printed and makes the exit status 1
    {"assert_panels_inside", 0, 16, false}, {"assert_visible", 1, 1, false}, {"assert_selected", 1, 1, true},
    {"assert_session", 1, 1, false}, {"assert_toast", 1, 1, false}, {"assert_status", 1, 1, false},
    {"assert_errors", 1, 1, true},  {"assert_open", 1, 16, false}, {"assert_maximized", 1, 1, false},
    {"assert_width", 2, 2, false},  {"assert_tour", 1, 2, false}, {"assert_rec_count", 0, 0, false},
    {"assert_panel_text", 2, 2, false}, {"assert_kv_equal", 0, 0, false},
};

// Verbs whose one argument is the rest of the line (titles and texts contain spaces).
bool takes_rest(const std::string& v) {
  for (const char* r : {"prompt", "open_session", "compare_session", "title", "expect_error", "assert_session", "assert_toast", "assert_status"})
    if (v == r) return true;
  return false;
}

bool is_int(const std::string& s) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}
// Prompts are one line: \n and \t stand for a newline and a tab, \\ for a backslash.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == 't' || s[i + 1] == '\\')) {
      out += s[i + 1] == 'n' ? '\n' : s[i + 1] == 't' ? '\t' : '\\';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

std::vector<ScriptCommand> parse_script(const std::string& text, const std::string& src) {
  std::vector<ScriptCommand> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    ScriptCommand c;
    c.line = n;
    std::istringstream ls(line.substr(first));
    ls >> c.verb;
    const std::string where = src + ":" + std::to_string(n);
    const Verb* v = nullptr;
    for (const Verb& k : kVerbs)
      if (c.verb == k.name) v = &k;
    if (!v) fail("script", where, "unknown command '" + c.verb + "'");
    if (c.verb == "assert_panel_text") {  // a panel id, then the rest of the line
      std::string id, rest;
      ls >> id;
      std::getline(ls, rest);
      const size_t b = rest.find_first_not_of(" \t");
      if (!id.empty()) c.args.push_back(id);
      if (b != std::string::npos) c.args.push_back(rest.substr(b));
    } else if (takes_rest(c.verb)) {
      std::string rest;
      std::getline(ls, rest);
      const size_t b = rest.find_first_not_of(" \t");
      if (b != std::string::npos) c.args.push_back(c.verb == "prompt" ? unescape(rest.substr(b)) : rest.substr(b));
    } else {
      for (std::string a; ls >> a;) c.args.push_back(a);
    }
    const int na = static_cast<int>(c.args.size());
    if (na < v->min_args || na > v->max_args)
      fail("script", where, "'" + c.verb + "' takes " + std::to_string(v->min_args) +
                                (v->max_args != v->min_args ? ".." + std::to_string(v->max_args) : "") + " argument(s), got " + std::to_string(na));
    if (v->numeric)
      for (const std::string& a : c.args)
        if (!is_int(a)) fail("script", where, "'" + c.verb + "' wants integers, got '" + a + "'");
    if (c.verb == "bookmark" && !is_int(c.args[0])) fail("script", where, "'bookmark' wants a token position first, got '" + c.args[0] + "'");
    if (c.verb == "synthetic" && (!is_int(c.args[0]) || (na == 2 && c.args[1] != "demo" && c.args[1] != "v2-lite" && c.args[1] != "v3")))
      fail("script", where, "'synthetic' takes a token count and optionally demo | v2-lite | v3");
    if (c.verb == "tour" && na == 2 && !is_int(c.args[1])) fail("script", where, "'tour' step must be an integer, got '" + c.args[1] + "'");
    if ((c.verb == "assert_tour" && !is_int(c.args[0])) || (c.verb == "assert_width" && !is_int(c.args[1])))
      fail("script", where, "'" + c.verb + "' wants an integer, got '" + (c.verb == "assert_tour" ? c.args[0] : c.args[1]) + "'");
    if (c.verb == "assert_tour" && na == 2 && c.args[1] != "done" && c.args[1] != "waiting")
      fail("script", where, "'assert_tour' second argument must be done or waiting, got '" + c.args[1] + "'");
    if (c.verb == "load_model" && na == 2 && c.args[1] != "nowait")
      fail("script", where, "'load_model' second argument must be nowait, got '" + c.args[1] + "'");
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ScriptCommand> load_script(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("script", file.string(), "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_script(ss.str(), file.string());
}

}  // namespace mlascope::app::gui
