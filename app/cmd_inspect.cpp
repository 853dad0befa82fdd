// app/cmd_inspect.cpp — `mlascope inspect routing|attention|experts SESSION`: the chat's views of a
// recorded session as tables or stable JSON, for scripts and notebooks.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_checks.h"
#include "commands.h"
#include "engine/error.h"
#include "term_color.h"
#include "terminal_session.h"
#include "terminal_views.h"

namespace mlascope::app {

namespace {

struct InspectArgs {
  std::string what;
  std::string session;
  std::filesystem::path session_db;
  int layer = -1;
  int head = -1;
  int pos = -1;
  int top = 8;
  bool json = false;
};

void run_inspect(const InspectArgs& a) {
  TraceModel tm;
  load_session(a.session_db, a.session, tm, "inspect");
  const ColorMode m = detect_color_mode(1);
  std::string text;
  nlohmann::json j;
  if (a.what == "experts") {
    if (a.json) j = expert_load_json(tm, a.layer);
    else text = render_expert_load_text(tm, a.layer, m);
  } else if (a.what == "routing") {
    if (a.pos >= 0) {
      if (a.json) j = routing_json(tm, static_cast<size_t>(a.pos));
      else text = render_routing_text(tm, static_cast<size_t>(a.pos), m);
    } else if (a.json) {
      j = nlohmann::json::array();
      for (size_t t = 0; t < tm.size(); ++t) j.push_back(routing_json(tm, t));
    } else {
      for (size_t t = 0; t < tm.size(); ++t) text += render_routing_text(tm, t, m);
    }
  } else {  // attention
    if (tm.empty()) fail("inspect", "session " + a.session, "has no tokens");
    int layer = a.layer;
    const size_t pos = a.pos >= 0 ? static_cast<size_t>(a.pos) : tm.size() - 1;
    if (layer < 0) {
      if (pos < tm.size() && !tm.token(pos).attention.empty()) layer = tm.token(pos).attention.front().layer;
      else fail("inspect", "session " + a.session, "recorded no attention (capture policy routing+attention or everything)");
    }
    if (a.json) j = attention_json(tm, pos, layer, a.head, a.top);
    else text = render_attention_text(tm, pos, layer, a.head, a.top, m);
  }
  if (a.json) std::printf("%s\n", dump_json(j).c_str());
  else std::fputs(text.c_str(), stdout);
}

}  // namespace

void register_inspect(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* cmd = root.add_subcommand("inspect", "routing, attention or expert load of a recorded session (no model needed)");
  cmd->add_option("WHAT", a->what, "routing | attention | experts")->required()->check(CLI::IsMember({"routing", "attention", "experts"}));
  cmd->add_option("SESSION", a->session, "session id (mlascope sessions list) or 'last'")->required();
  cmd->add_option("--session-db", a->session_db, "sessions database (default: ~/.local/share/mlascope/sessions.db)");
  cmd->add_option("--layer", a->layer, "layer (experts: one MoE layer instead of all; attention: default the first captured)");
  cmd->add_option("--head", a->head, "attention head (default: the mean of all heads)")->check(non_negative());
  cmd->add_option("--pos", a->pos, "token position (routing: default every token; attention: default the last)")
      ->check(non_negative());
  cmd->add_option("--top", a->top, "attention: how many keys to list")->check(positive());
  cmd->add_flag("--json", a->json, "machine-readable output (stable keys)");
  cmd->callback([a, &ctx] {
    run_inspect(*a);
    ctx.exit_code = 0;
  });
}

}  // namespace mlascope::app
