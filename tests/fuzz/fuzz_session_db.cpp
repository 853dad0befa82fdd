// tests/fuzz/fuzz_session_db.cpp — a session database from someone else: the input is written as
// a SQLite file in the fuzzer's temp folder, then everything `sessions`, `replay` and `inspect` do
// with it: the identity check, list, load of every session (every record kind: tokens, routing,
// attention, messages, bookmarks, annotations, meta) into a TraceModel, the replay cursor, the JSON
// and CSV exports and the terminal views. Seeds: fuzz_make_seeds writes small recorded sessions.
#include <cstdint>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "app/terminal_views.h"
#include "engine/error.h"
#include "engine/trace/trace_model.h"
#include "fuzz_util.h"
#include "sessions/export.h"
#include "sessions/reader.h"
#include "sessions/session_db.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {
void views(const TraceModel& tm) {
  using app::ColorMode;
  const size_t n = std::min<size_t>(tm.size(), 48);
  std::ostringstream os;
  sessions::export_json(tm, os);
  sessions::export_tokens_csv(tm, os);
  sessions::export_routing_csv(tm, os);
  const int layers = std::min(tm.config().num_hidden_layers, 8);
  for (int layer = 0; layer < layers; ++layer) {
    try {
      sessions::export_attention_csv(tm, layer, -1, os);
      sessions::export_attention_csv(tm, layer, 0, os);
    } catch (const Error& e) {
      fuzz::check_error(e);  // not captured in this session
    }
    (void)app::render_expert_load_text(tm, layer, ColorMode::Ansi256);
    (void)app::dump_json(app::expert_load_json(tm, layer));
    (void)app::render_transcript(tm, layer, ColorMode::Ansi256);
  }
  (void)app::render_expert_load_text(tm, -1, ColorMode::None);
  for (size_t pos = 0; pos < n; ++pos) {
    (void)app::render_routing_text(tm, pos, ColorMode::TrueColor);
    (void)app::dump_json(app::routing_json(tm, pos));
    for (int layer = 0; layer < layers; ++layer) {
      (void)app::render_attention_text(tm, pos, layer, -1, 5, ColorMode::None);
      (void)app::dump_json(app::attention_json(tm, pos, layer, 0, 5));
    }
  }
  TraceModel view;
  sessions::ReplayCursor cursor(tm, view);
  while (cursor.position() < n && cursor.forward()) {
  }
  cursor.back();
  cursor.jump(tm.size() + 1);
  cursor.jump(0);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path db = fuzz::temp_dir() / "sessions.db";
  std::error_code ec;
  for (const char* suffix : {"-wal", "-shm", "-journal"}) fs::remove(db.string() + suffix, ec);
  fuzz::write_file(db, std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    (void)sessions::inspect_session_db(db);
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  try {
    sessions::SessionReader reader(db);
    const std::vector<sessions::SessionSummary> list = reader.list();
    (void)reader.list(sessions::SessionQuery{"a", "m", 1, 0});
    size_t loaded = 0;
    for (const sessions::SessionSummary& s : list) {
      if (++loaded > 4) break;
      TraceModel tm;
      try {
        (void)reader.load(s.id, tm);
      } catch (const Error& e) {
        fuzz::check_error(e);
        continue;
      }
      views(tm);
    }
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
