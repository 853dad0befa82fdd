// app/terminal_session.h — opening a recorded session for the headless commands (replay, inspect)
// and the chat's /load: SESSION is an id from `mlascope sessions list`, or `last` for the newest.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "engine/trace/trace_model.h"

namespace mlascope::app {

// Resolves --session-db (empty = the default database) and loads the session into `tm`.
// Throws Error naming the database and the id when there is no such session. Records the reader
// skipped (a crafted or damaged file) are reported on stderr, one warning line each.
void load_session(const std::filesystem::path& session_db, const std::string& session, TraceModel& tm,
                  const char* where);
// "mlascope: warning: LINE" on stderr for each line of SessionReader::load().
void report_load_problems(const std::vector<std::string>& problems);

}  // namespace mlascope::app
