// app/gui/session_store.cpp — see session_store.h.
#include "session_store.h"

#include <algorithm>
#include <ctime>

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>

#include "engine/error.h"
#include "sessions/reader.h"
#include "sessions/session_db.h"

namespace mlascope::app::gui {

namespace fs = std::filesystem;

std::vector<fs::path> bundled_session_dbs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".db") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<StoredSession> list_stored_sessions(const std::vector<fs::path>& bundled_dbs, const fs::path& user_db,
                                                std::vector<std::string>* errors) {
  std::vector<StoredSession> out;
  auto add = [&](const fs::path& db, bool bundled) {
    std::error_code ec;
    if (db.empty() || !fs::exists(db, ec)) return;
    try {
      const sessions::SessionReader reader(db);
      for (const sessions::SessionSummary& s : reader.list()) {
        StoredSession x;
        x.db = db;
        x.id = s.id;
        x.bundled = bundled;
        x.title = s.title.empty() ? "(untitled #" + std::to_string(s.id) + ")" : s.title;
        x.model = s.model_name;
        x.created_unix = s.created_unix;
        x.n_tokens = s.n_tokens;
        out.push_back(std::move(x));
      }
    } catch (const std::exception& e) {
      if (errors) errors->push_back(e.what());
    }
  };
  for (const fs::path& p : bundled_dbs) add(p, true);
  add(user_db, false);
  return out;
}

void load_stored_session(const StoredSession& s, TraceModel& into) {
  const sessions::SessionReader reader(s.db);
  // Records a crafted or damaged file could not back are skipped by the reader; say which.
  for (const std::string& p : reader.load(s.id, into))
    if (auto log = spdlog::get("gui")) log->warn("{}", p);
}

int64_t store_bookmark(const fs::path& db, int64_t session_id, int32_t position, const std::string& note) {
  SQLite::Database d = sessions::open_session_db(db, sessions::DbAccess::Write);
  try {
    SQLite::Statement q(d, "INSERT INTO bookmarks (session_id, position, note) VALUES (?, ?, ?)");
    q.bind(1, session_id);
    q.bind(2, position);
    q.bind(3, note);
    q.exec();
    return d.getLastInsertRowid();
  } catch (const SQLite::Exception& e) {
    fail("gui", db.string(), std::string("cannot store the bookmark: ") + e.what());
  }
}

void delete_bookmark(const fs::path& db, int64_t session_id, int64_t bookmark_id) {
  SQLite::Database d = sessions::open_session_db(db, sessions::DbAccess::Write);
  try {
    SQLite::Statement q(d, "DELETE FROM bookmarks WHERE id = ? AND session_id = ?");
    q.bind(1, bookmark_id);
    q.bind(2, session_id);
    q.exec();
  } catch (const SQLite::Exception& e) {
    fail("gui", db.string(), std::string("cannot delete the bookmark: ") + e.what());
  }
}

std::string format_date(int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

}  // namespace mlascope::app::gui
