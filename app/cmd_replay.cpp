// app/cmd_replay.cpp — `mlascope replay SESSION [--step]`: a recorded session's text with routing
// colours, or token by token with the experts each token went to; no model needed.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_checks.h"
#include "commands.h"
#include "engine/error.h"
#include "sessions/reader.h"
#include "term_color.h"
#include "terminal_session.h"
#include "terminal_views.h"

namespace mlascope::app {

namespace {

struct ReplayArgs {
  std::string session;
  std::filesystem::path session_db;
  bool step = false;
  int layer = -1;
  int delay_ms = 0;
  bool json = false;
};

std::string header(const TraceModel& tm, ColorMode m) {
  const SessionMeta& s = tm.meta();
  char when[32] = "?";
  const std::time_t t = static_cast<std::time_t>(s.created_unix);
  if (std::tm tmv{}; gmtime_r(&t, &tmv)) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tmv);
  return bold(m) + "session " + std::to_string(s.session_id) + (s.title.empty() ? "" : ": " + s.title) + reset(m) + "  (" +
         s.model_name + ", " + when + ", " + std::to_string(tm.size()) + " tokens, capture " + to_string(s.capture) + ")\n";
}

void run_replay(const ReplayArgs& a) {
  TraceModel source;
  load_session(a.session_db, a.session, source, "replay");
  int layer = a.layer;
  if (layer < 0 && source.n_moe_layers() > 0) layer = source.moe_layers().back();
  if (layer >= 0 && source.moe_index(layer) < 0)
    fail("replay", "--layer " + std::to_string(layer), "is not an MoE layer of the session's model");
  if (a.json) {
    nlohmann::json j;
    j["session"] = source.meta().session_id;
    j["title"] = source.meta().title;
    j["model"] = source.meta().model_name;
    j["layer"] = layer;
    nlohmann::json toks = nlohmann::json::array();
    for (size_t t = 0; t < source.size(); ++t) {
      const StepRecord& r = source.token(t);
      nlohmann::json o;
      o["position"] = r.position;
      o["id"] = r.id;
      o["text"] = r.text;
      o["is_prompt"] = r.is_prompt;
      o["prob"] = r.prob;
      o["dominant_expert"] = source.dominant_expert(t, layer);
      toks.push_back(o);
    }
    j["tokens"] = toks;
    std::printf("%s\n", dump_json(j).c_str());
    return;
  }
  const ColorMode m = detect_color_mode(1);
  std::fputs(header(source, m).c_str(), stdout);
  if (!a.step) {
    if (source.messages().empty()) {
      std::fputs((render_transcript(source, layer, m) + "\n").c_str(), stdout);
      return;
    }
    for (const Message& msg : source.messages()) {
      std::fputs((dim(m) + msg.role + ":" + reset(m) + " ").c_str(), stdout);
      std::fputs(render_transcript(source, layer, m, static_cast<size_t>(msg.first_token), static_cast<size_t>(msg.end_token)).c_str(),
                 stdout);
      std::fputs("\n", stdout);
    }
    return;
  }
  // Token by token through a replay cursor, as the GUI's timeline steps.
  TraceModel view;
  sessions::ReplayCursor cursor(source, view);
  std::printf("%s%6s  %-18s %7s  %s%s\n", dim(m).c_str(), "pos", "token", "p", "experts of each MoE layer (selection order)",
              reset(m).c_str());
  while (cursor.forward()) {
    const size_t t = view.size() - 1;
    const StepRecord& r = view.token(t);
    std::string text = "'" + printable_token(r.text) + "'";
    for (size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') text.replace(i, 1, "\\n");
    char head[96];
    std::snprintf(head, sizeof head, "%6d  %-18s %7s  ", r.position, text.c_str(),
                  r.prob >= 0 ? (std::to_string(r.prob).substr(0, 5)).c_str() : "-");
    std::string line = (r.is_prompt ? dim(m) : std::string()) + head + (r.is_prompt ? reset(m) : std::string());
    for (int l : view.moe_layers()) {
      const RouteRow* row = view.route(t, l);
      if (!row) continue;
      line += "L" + std::to_string(l) + ":";
      for (int i = 0; i < row->k; ++i) {
        const int e = row->expert[static_cast<size_t>(i)];
        line += (i ? "," : "") + paint_expert(m, std::to_string(e), e, view.n_routed_experts());
      }
      line += " ";
    }
    std::fputs((line + "\n").c_str(), stdout);
    std::fflush(stdout);
    if (a.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.delay_ms));
  }
}

}  // namespace

void register_replay(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<ReplayArgs>();
  CLI::App* cmd = root.add_subcommand("replay", "print a recorded session with routing colours (no model needed)");
  cmd->add_option("SESSION", a->session, "session id (mlascope sessions list) or 'last'")->required();
  cmd->add_option("--session-db", a->session_db, "sessions database (default: ~/.local/share/mlascope/sessions.db)");
  cmd->add_flag("--step", a->step, "token by token: position, token, probability, experts of every MoE layer");
  cmd->add_option("--layer", a->layer, "MoE layer whose dominant expert colours the text (default: the last)");
  cmd->add_option("--delay", a->delay_ms, "with --step: milliseconds between tokens")->check(non_negative());
  cmd->add_flag("--json", a->json, "machine-readable tokens with their dominant expert");
  cmd->callback([a, &ctx] {
    run_replay(*a);
    ctx.exit_code = 0;
  });
}

}  // namespace mlascope::app
