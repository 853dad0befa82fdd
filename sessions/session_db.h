// sessions/session_db.h — opening the session database safely: where it lives by default, the
// schema with its version (PRAGMA user_version) and migrations, and the identity check
// (PRAGMA application_id) that runs on a read-only connection before anything is written, so a
// corrupt or foreign file is reported and never modified.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include <SQLiteCpp/Database.h>

namespace mlascope::sessions {

constexpr int32_t kApplicationId = 0x4d4c4153;  // "MLAS"
constexpr int kSchemaVersion = 3;

// --session-db option, else $MLASCOPE_SESSION_DB, else ${XDG_DATA_HOME:-~/.local/share}/mlascope/sessions.db.
std::filesystem::path default_session_db();
std::filesystem::path resolve_session_db(const std::string& option);

enum class DbAccess {
  Read,   // the file must exist; the returned connection is read-only and never writes the file (an
          // older schema reads through TEMP views that add the newer columns with their defaults)
  Write,  // created (with parent folders) when missing; read-write, WAL; an older schema is migrated
};

// Throws Error "[sessions] FILE: ..." naming the file for anything that is not a session database
// of a version we understand, and for I/O failures.
SQLite::Database open_session_db(const std::filesystem::path& path, DbAccess access);

// Throws the one-line Error open_session_db would give when `path` exists and is not a session database
// this build can read and write (not SQLite, another program's, a newer schema). A missing or empty file
// passes. Writes nothing: commands check before doing work whose result they are asked to record.
void check_session_db(const std::filesystem::path& path);

// What a read-only look at the file found (used by open_session_db; exposed for `sessions verify`-style checks and tests).
struct DbIdentity {
  bool empty = false;  // zero bytes, or a SQLite file without any table
  int32_t application_id = 0;
  int user_version = 0;
};
DbIdentity inspect_session_db(const std::filesystem::path& path);

// The current schema (for documentation and tests that compare with SCHEMA.md).
const char* schema_sql();

}  // namespace mlascope::sessions
