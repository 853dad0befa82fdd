// app/terminal_session.cpp — see terminal_session.h.
#include "terminal_session.h"

#include <cstdio>

#include "engine/error.h"
#include "sessions/reader.h"
#include "sessions/session_db.h"

namespace mlascope::app {

void load_session(const std::filesystem::path& session_db, const std::string& session, TraceModel& tm,
                  const char* where) {
  const std::filesystem::path db = sessions::resolve_session_db(session_db.string());
  sessions::SessionReader reader(db);
  int64_t id = -1;
  if (session == "last") {
    const auto all = reader.list();
    if (all.empty()) fail(where, db.string(), "holds no sessions yet");
    id = all.front().id;
  } else {
    try {
      size_t used = 0;
      id = std::stoll(session, &used);
      if (used != session.size()) id = -1;
    } catch (const std::exception&) {
      id = -1;
    }
    if (id < 0) fail(where, "SESSION '" + session + "'", "expected a session id (mlascope sessions list) or 'last'");
    if (!reader.exists(id))
      fail(where, db.string(), "has no session " + std::to_string(id) + " (mlascope sessions list shows them)");
  }
  report_load_problems(reader.load(id, tm));
}

void report_load_problems(const std::vector<std::string>& problems) {
  for (const std::string& p : problems) std::fprintf(stderr, "mlascope: warning: %s\n", p.c_str());
}

}  // namespace mlascope::app
