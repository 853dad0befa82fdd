// app/cmd_sessions.cpp — `mlascope sessions list|show|export|delete|verify`: recorded sessions in the
// SQLite database (--session-db, else $MLASCOPE_SESSION_DB, else the XDG data folder).
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "engine_options.h"
#include "engine/error.h"
#include "sessions/export.h"
#include "sessions/fingerprint.h"
#include "sessions/reader.h"
#include "sessions/session_db.h"
#include "sessions/verify.h"
#include "engine_options.h"
#include "remote_setup.h"
#include "terminal_session.h"
#include "terminal_views.h"

// verify needs Model::load, which arrives with the loader (engine/weights/safetensors.*).
#if __has_include("engine/weights/safetensors.h")
#define MLASCOPE_SESSIONS_VERIFY 1
#include "engine/backend/backend.h"
#include "engine/generator.h"
#include "engine/model/model.h"
#include "engine/sampler.h"
#endif

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {

struct SessionsArgs {
  std::string db;
  // list
  std::string search, model, since, until;
  bool json = false;
  // show / export / delete / verify
  int64_t id = -1;
  int show_tokens = 20;
  std::string format = "json";
  std::string out;
  int layer = -1, head = 0;
  std::string model_path;
  std::string kv_type;  // verify: the KV dtype of the re-run (default: the recorded one)
  int threads = 0;
};

int64_t parse_date(const std::string& s, const char* option) {
  std::tm tm{};
  int y = 0, m = 0, d = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
    fail("sessions", std::string(option) + " " + s, "expected a date as YYYY-MM-DD");
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  return static_cast<int64_t>(timegm(&tm));
}

std::string date_time(int64_t unix) {
  const std::time_t t = static_cast<std::time_t>(unix);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

void run_list(const SessionsArgs& a) {
  const sessions::SessionReader reader(sessions::resolve_session_db(a.db));
  sessions::SessionQuery q;
  q.title = a.search;
  q.model = a.model;
  if (!a.since.empty()) q.since_unix = parse_date(a.since, "--since");
  if (!a.until.empty()) q.until_unix = parse_date(a.until, "--until") + 86400;  // the whole day
  const auto list = reader.list(q);
  if (a.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& s : list)
      j.push_back({{"id", s.id}, {"title", s.title}, {"created_unix", s.created_unix}, {"model", s.model_name},
                   {"model_path", s.model_path}, {"backend", s.backend}, {"capture", to_string(s.capture)},
                   {"tokens", s.n_tokens}, {"generated", s.n_generated}, {"messages", s.n_messages}});
    std::printf("%s\n", dump_json(j).c_str());
    return;
  }
  if (list.empty()) {
    std::printf("no sessions%s in %s\n", q.title.empty() && q.model.empty() ? "" : " match", reader.path().c_str());
    return;
  }
  std::printf("%5s  %-16s  %7s  %-18s  %-17s  %s\n", "id", "created", "tokens", "model", "capture", "title");
  for (const auto& s : list)
    std::printf("%5lld  %-16s  %7lld  %-18s  %-17s  %s\n", static_cast<long long>(s.id), date_time(s.created_unix).c_str(),
                static_cast<long long>(s.n_tokens), s.model_name.c_str(), to_string(s.capture), s.title.c_str());
}

TraceModel load(const SessionsArgs& a, fs::path* db_out = nullptr) {
  const fs::path db = sessions::resolve_session_db(a.db);
  const sessions::SessionReader reader(db);
  TraceModel tm;
  report_load_problems(reader.load(a.id, tm));
  if (db_out) *db_out = db;
  return tm;
}

void run_show(const SessionsArgs& a) {
  const TraceModel tm = load(a);
  const SessionMeta& m = tm.meta();
  size_t generated = 0;
  for (const StepRecord& r : tm.tokens()) generated += r.is_prompt ? 0 : 1;
  std::printf("session %lld: %s\n", static_cast<long long>(m.session_id), m.title.c_str());
  std::printf("  created   %s\n", date_time(m.created_unix).c_str());
  std::printf("  model     %s (%s)\n", m.model_name.c_str(), m.model_path.c_str());
  std::printf("  hash      %s\n", m.model_hash.c_str());
  std::printf("  backend   %s, MLA %s, engine %s\n", m.backend.c_str(), m.mla_mode.c_str(), m.engine_version.c_str());
  std::printf("  sampler   %s\n", m.sampler_json.c_str());
  std::printf("  capture   %s\n", to_string(m.capture));
  std::printf("  tokens    %zu (%zu prompt, %zu generated)\n", tm.size(), tm.size() - generated, generated);
  if (!m.notes.empty()) std::printf("  notes     %s\n", m.notes.c_str());
  for (const Message& msg : tm.messages())
    std::printf("  [%s] tokens %d..%d: %s\n", msg.role.c_str(), msg.first_token, msg.end_token, msg.text.c_str());
  for (const Bookmark& b : tm.bookmarks()) std::printf("  bookmark @%d: %s\n", b.position, b.note.c_str());
  for (const Annotation& n : tm.annotations()) std::printf("  note @%d layer %d: %s\n", n.position, n.layer, n.text.c_str());
  const size_t shown = std::min(tm.size(), static_cast<size_t>(std::max(0, a.show_tokens)));
  if (shown > 0) std::printf("  %5s  %-7s %6s  %-12s  %s\n", "pos", "id", "prob", "text", "experts of the first MoE layer");
  for (size_t t = 0; t < shown; ++t) {
    const StepRecord& r = tm.token(t);
    std::string experts;
    if (!r.routes.empty())
      for (int i = 0; i < r.routes[0].k; ++i) experts += std::to_string(r.routes[0].expert[static_cast<size_t>(i)]) + " ";
    std::printf("  %5d  %-7d %6.3f  %-12s  %s%s\n", r.position, r.id, static_cast<double>(r.prob), r.text.c_str(),
                r.is_prompt ? "(prompt) " : "", experts.c_str());
  }
}

void run_export(const SessionsArgs& a) {
  const TraceModel tm = load(a);
  std::ofstream file;
  std::ostream* os = &std::cout;
  if (!a.out.empty() && a.out != "-") {
    file.open(a.out, std::ios::binary);
    if (!file) fail("sessions", a.out, "cannot write the export file");
    os = &file;
  }
  if (a.format == "json") {
    sessions::export_json(tm, *os);
  } else if (a.format == "tokens") {
    sessions::export_tokens_csv(tm, *os);
  } else if (a.format == "routing") {
    sessions::export_routing_csv(tm, *os);
  } else {
    if (a.layer < 0) fail("sessions", "export --format attention", "pass --layer L (and --head H)");
    sessions::export_attention_csv(tm, a.layer, a.head, *os);
  }
  os->flush();
  if (!*os) fail("sessions", a.out.empty() ? "stdout" : a.out, "write failed (disk full?)");
}

void run_delete(const SessionsArgs& a) {
  sessions::SessionReader reader(sessions::resolve_session_db(a.db));
  if (!reader.remove(a.id))
    fail("sessions", reader.path().string(), "no session with id " + std::to_string(a.id));
  std::printf("deleted session %lld from %s\n", static_cast<long long>(a.id), reader.path().c_str());
}

// Returns 0 when the re-run follows the recording everywhere, 2 at the first difference.
int run_verify(const SessionsArgs& a) {
  const TraceModel tm = load(a);
#ifdef MLASCOPE_SESSIONS_VERIFY
  const SessionMeta& m = tm.meta();
  // A server computed it: the recorded model path holds config.json + tokenizer, no weights.
  if (is_remote_session(m) && a.model_path.empty())
    fail("sessions", "verify " + std::to_string(a.id),
         "computed by the server " + m.server_url + (m.server_model.empty() ? "" : " (" + m.server_model + ")") +
             ", it cannot be re-run locally unless weights are given: pass --model DIR with the same model's weights");
  const fs::path model_path = a.model_path.empty() ? fs::path(m.model_path) : fs::path(a.model_path);
  if (model_path.empty()) fail("sessions", "verify", "the session does not name its model; pass --model PATH");
  auto model = Model::load(model_path);
  if (model->config_json() != m.config_json && !m.config_json.empty())
    std::fprintf(stderr, "mlascope: warning: %s has a different config.json than the recorded model\n", model_path.c_str());
  // Sessions recorded before fingerprints existed carry none; nothing to compare then.
  if (!m.model_hash.empty()) {
    const std::string now = sessions::weights_fingerprint(model_path);
    if (now != m.model_hash)
      std::fprintf(stderr, "mlascope: warning: %s: weights fingerprint %s differs from the recorded %s\n",
                   model_path.c_str(), now.c_str(), m.model_hash.c_str());
  }
  BackendOptions bo;
  bo.device = DeviceKind::Cpu;
  bo.n_threads = a.threads;
  bo.mla = m.mla_mode == "naive" ? MlaMode::Naive : MlaMode::Absorbed;
  // The cache's element type changes the numbers a sampled token is drawn from: re-run with the
  // recorded one (sessions from before it was recorded: f32, what the engine kept then).
  if (!m.kv_dtype.empty() && !parse_kv_dtype(m.kv_dtype, bo.kv_dtype))
    fail("sessions", "verify", "the session's kv_dtype '" + m.kv_dtype + "' is not f32, bf16 or f16");
  if (m.kv_dtype.empty()) bo.kv_dtype = KvDType::F32;
  if (!a.kv_type.empty()) bo.kv_dtype = kv_dtype_of(a.kv_type);
  Generator gen(model, make_cpu_backend(*model, bo));
  if (!m.sampler_json.empty()) gen.sampler().set_settings(SamplerSettings::from_json(m.sampler_json));
  CaptureSettings cap;
  cap.policy = m.capture == CapturePolicy::Off ? CapturePolicy::Off : CapturePolicy::Routing;
  gen.set_capture(cap);

  // Prompt runs are fed as recorded; generated runs are sampled again, so a different choice shows up.
  std::vector<StepRecord> rerun;
  auto emit = [&](StepRecord&& r) { rerun.push_back(std::move(r)); };
  // Each answer is re-drawn with the sampler it recorded (settings, seed, stream position); answers
  // recorded without one use the session's settings, continuing one random stream.
  int restored_message = -1;
  size_t t = 0;
  while (t < tm.size()) {
    size_t end = t;
    const bool prompt = tm.token(t).is_prompt;
    while (end < tm.size() && tm.token(end).is_prompt == prompt) ++end;
    if (prompt) {
      std::vector<int32_t> ids;
      for (size_t i = t; i < end; ++i) ids.push_back(tm.token(i).id);
      if (gen.feed(ids, emit, tm.token(t).message) != StepStatus::Ok) break;
    } else {
      const int msg = tm.token(t).message;
      if (msg >= 0 && static_cast<size_t>(msg) < tm.messages().size() && msg != restored_message) {
        const std::string& st = tm.messages()[static_cast<size_t>(msg)].sampler_json;
        if (!st.empty()) {
          try {
            gen.sampler().restore_state(st);
          } catch (const Error& e) {
            fail("sessions", "verify", "message " + std::to_string(msg) + ": sampler_json: " + e.what());
          }
          restored_message = msg;
        }
      }
      gen.generate(static_cast<int>(end - t), emit, nullptr, msg);
    }
    if (rerun.size() < end) break;  // stopped early (EOS or context full)
    t = end;
  }
  const sessions::VerifyResult v = sessions::first_difference(tm, rerun);
  if (v.same) {
    std::printf("session %lld: all %zu tokens and their routing match the re-run on %s\n",
                static_cast<long long>(a.id), tm.size(), model_path.c_str());
    return 0;
  }
  std::printf("session %lld: first difference at position %d: %s\n", static_cast<long long>(a.id), v.position, v.what.c_str());
  return 2;
#else
  (void)tm;
  fail("sessions", "verify", "this build has no model loader yet (engine/weights/safetensors.* missing)");
#endif
}

void add_db_option(CLI::App* cmd, SessionsArgs& a) {
  cmd->add_option("--session-db", a.db, "session database (default $MLASCOPE_SESSION_DB or ~/.local/share/mlascope/sessions.db)");
}

}  // namespace

void register_sessions(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<SessionsArgs>();
  CLI::App* cmd = root.add_subcommand("sessions", "recorded sessions: list, show, export, delete, verify");
  cmd->require_subcommand(1);
  add_db_option(cmd, *a);

  CLI::App* list = cmd->add_subcommand("list", "list recorded sessions, newest first");
  add_db_option(list, *a);
  list->add_option("--search", a->search, "title contains (case-insensitive)");
  list->add_option("--model", a->model, "model name or path contains");
  list->add_option("--since", a->since, "created on or after YYYY-MM-DD");
  list->add_option("--until", a->until, "created on or before YYYY-MM-DD");
  list->add_flag("--json", a->json, "machine-readable output");
  list->callback([a, &ctx] {
    run_list(*a);
    ctx.exit_code = 0;
  });

  CLI::App* show = cmd->add_subcommand("show", "a session's model, settings, messages and first tokens");
  add_db_option(show, *a);
  show->add_option("id", a->id, "session id (see `sessions list`)")->required();
  show->add_option("--tokens", a->show_tokens, "how many tokens to print (default 20)");
  show->callback([a, &ctx] {
    run_show(*a);
    ctx.exit_code = 0;
  });

  CLI::App* exp = cmd->add_subcommand("export", "write a session as JSON (everything) or CSV (tokens, routing, attention)");
  add_db_option(exp, *a);
  exp->add_option("id", a->id, "session id")->required();
  exp->add_option("--format", a->format, "json | tokens | routing | attention")
      ->check(CLI::IsMember({"json", "tokens", "routing", "attention"}));
  exp->add_option("-o,--output", a->out, "output file (default: stdout)");
  exp->add_option("--layer", a->layer, "attention: layer");
  exp->add_option("--head", a->head, "attention: head (default 0)");
  exp->callback([a, &ctx] {
    run_export(*a);
    ctx.exit_code = 0;
  });

  CLI::App* del = cmd->add_subcommand("delete", "delete a session and everything recorded with it");
  add_db_option(del, *a);
  del->add_option("id", a->id, "session id")->required();
  del->callback([a, &ctx] {
    run_delete(*a);
    ctx.exit_code = 0;
  });

  CLI::App* ver = cmd->add_subcommand("verify", "re-run the recorded prompt; report the first token or routing difference");
  add_db_option(ver, *a);
  ver->add_option("id", a->id, "session id")->required();
  ver->add_option("--model", a->model_path, "model to re-run (default: the recorded model path; required for sessions computed by a server)");
  ver->add_option("--kv-type", a->kv_type, "KV cache type of the re-run: f32, bf16 or f16 (default: the recorded one)")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}));
  add_threads_option(ver, a->threads);
  ver->callback([a, &ctx] { ctx.exit_code = run_verify(*a); });
}

}  // namespace mlascope::app
