// app/gui/session_store.h — the workbench's view of the session databases: the user's database
// (live chats are recorded there) and the read-only bundled ones under assets/sessions/. Lists
// them for the sessions browser, loads one into a TraceModel, and keeps bookmarks of a stored
// session in its database (the recorder only writes the session it is recording).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/trace/trace_model.h"

namespace mlascope::app::gui {

struct StoredSession {
  std::filesystem::path db;
  int64_t id = -1;
  bool bundled = false;  // under assets/: read-only
  std::string title, model;
  int64_t created_unix = 0;
  int64_t n_tokens = 0;
};

// Sessions of every readable database in `dbs` (missing files are skipped; a corrupt or foreign
// one adds a line to `errors` naming the file). Bundled first, then the user's, newest first.
std::vector<StoredSession> list_stored_sessions(const std::vector<std::filesystem::path>& bundled_dbs,
                                                const std::filesystem::path& user_db, std::vector<std::string>* errors);
// *.db files in `dir`, sorted.
std::vector<std::filesystem::path> bundled_session_dbs(const std::filesystem::path& dir);
// Throws Error naming the file for a missing session or unreadable rows.
void load_stored_session(const StoredSession& s, TraceModel& into);

// Bookmarks of a stored session; throws Error naming the file when it cannot be written.
int64_t store_bookmark(const std::filesystem::path& db, int64_t session_id, int32_t position, const std::string& note);
void delete_bookmark(const std::filesystem::path& db, int64_t session_id, int64_t bookmark_id);

// "2025-01-31 14:05" in local time.
std::string format_date(int64_t unix_seconds);

}  // namespace mlascope::app::gui
