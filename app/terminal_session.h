// app/terminal_session.h — opening a recorded session for the headless commands (replay, inspect)
// and the chat's /load: SESSION is an id from `mlascope sessions list`, or `last` for the newest.
#pragma once
#include <filesystem>
#include <string>

#include "engine/trace/trace_model.h"

namespace mlascope::app {

// Resolves --session-db (empty = the default database) and loads the session into `tm`.
// Throws Error naming the database and the id when there is no such session.
void load_session(const std::filesystem::path& session_db, const std::string& session, TraceModel& tm,
                  const char* where);

}  // namespace mlascope::app
