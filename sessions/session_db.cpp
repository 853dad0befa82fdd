// sessions/session_db.cpp — schema, migrations and the read-only identity check.
#include "session_db.h"

#include <cstdlib>
#include <cstdio>

#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>
#include <SQLiteCpp/Transaction.h>

#include "engine/error.h"

namespace mlascope::sessions {

namespace fs = std::filesystem;

namespace {

// Version 3 (current). Version 1 lacked sessions.mla_mode/capture/gate_bias, tokens.raw_prob/kv_bytes
// and the annotations table (kMigrate1To2 adds them); version 2 lacked sessions.kv_dtype/server_url/
// server_model and messages.sampler_json (kMigrate2To3).
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE sessions (
  id             INTEGER PRIMARY KEY,
  title          TEXT    NOT NULL DEFAULT '',
  created        INTEGER NOT NULL,
  model_name     TEXT    NOT NULL DEFAULT '',
  model_path     TEXT    NOT NULL DEFAULT '',
  model_hash     TEXT    NOT NULL DEFAULT '',
  config_json    TEXT    NOT NULL DEFAULT '',
  sampler_json   TEXT    NOT NULL DEFAULT '',
  engine_version TEXT    NOT NULL DEFAULT '',
  backend        TEXT    NOT NULL DEFAULT '',
  notes          TEXT    NOT NULL DEFAULT '',
  mla_mode       TEXT    NOT NULL DEFAULT '',
  capture        INTEGER NOT NULL DEFAULT 1,
  gate_bias      BLOB,
  kv_dtype       TEXT    NOT NULL DEFAULT '',
  server_url     TEXT    NOT NULL DEFAULT '',
  server_model   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_created ON sessions(created);
CREATE TABLE messages (
  session_id  INTEGER NOT NULL,
  idx         INTEGER NOT NULL,
  role        TEXT    NOT NULL,
  text        TEXT    NOT NULL,
  first_token INTEGER NOT NULL,
  end_token   INTEGER NOT NULL,
  sampler_json TEXT   NOT NULL DEFAULT '',
  PRIMARY KEY (session_id, idx)
) WITHOUT ROWID;
CREATE TABLE tokens (
  session_id  INTEGER NOT NULL,
  position    INTEGER NOT NULL,
  token_id    INTEGER NOT NULL,
  text        TEXT    NOT NULL,
  is_prompt   INTEGER NOT NULL,
  message     INTEGER NOT NULL,
  prob        REAL    NOT NULL,
  top_raw     BLOB,
  top_sampled BLOB,
  ms          REAL    NOT NULL,
  raw_prob    REAL    NOT NULL DEFAULT -1,
  kv_bytes    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (session_id, position)
) WITHOUT ROWID;
CREATE TABLE routing (
  session_id INTEGER NOT NULL,
  position   INTEGER NOT NULL,
  routes     BLOB    NOT NULL,
  scores     BLOB,
  selection  BLOB,
  PRIMARY KEY (session_id, position)
) WITHOUT ROWID;
CREATE TABLE attention (
  session_id INTEGER NOT NULL,
  position   INTEGER NOT NULL,
  layer      INTEGER NOT NULL,
  n_heads    INTEGER NOT NULL,
  n_keys     INTEGER NOT NULL,
  format     INTEGER NOT NULL,
  top_k      INTEGER NOT NULL DEFAULT 0,
  probs      BLOB    NOT NULL,
  nope       BLOB,
  rope       BLOB,
  PRIMARY KEY (session_id, position, layer)
) WITHOUT ROWID;
CREATE TABLE bookmarks (
  id         INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL,
  position   INTEGER NOT NULL,
  note       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX bookmarks_session ON bookmarks(session_id, position);
CREATE TABLE annotations (
  id         INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL,
  position   INTEGER NOT NULL,
  layer      INTEGER NOT NULL DEFAULT -1,
  text       TEXT    NOT NULL
);
CREATE INDEX annotations_session ON annotations(session_id, position);
)sql";

constexpr const char* kMigrate1To2 = R"sql(
ALTER TABLE sessions ADD COLUMN mla_mode TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN capture INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD COLUMN gate_bias BLOB;
ALTER TABLE tokens ADD COLUMN raw_prob REAL NOT NULL DEFAULT -1;
ALTER TABLE tokens ADD COLUMN kv_bytes INTEGER NOT NULL DEFAULT 0;
CREATE TABLE annotations (
  id         INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL,
  position   INTEGER NOT NULL,
  layer      INTEGER NOT NULL DEFAULT -1,
  text       TEXT    NOT NULL
);
CREATE INDEX annotations_session ON annotations(session_id, position);
)sql";

constexpr const char* kMigrate2To3 = R"sql(
ALTER TABLE sessions ADD COLUMN kv_dtype TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN server_url TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN server_model TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN sampler_json TEXT NOT NULL DEFAULT '';
)sql";

// migrations[v] turns version v into v + 1.
const char* const kMigrations[] = {nullptr, kMigrate1To2, kMigrate2To3};
static_assert(std::size(kMigrations) == kSchemaVersion);

[[noreturn]] void fail_db(const fs::path& path, const std::string& what) { fail("sessions", path.string(), what); }

void configure_writer(SQLite::Database& db) {
  db.exec("PRAGMA busy_timeout = 5000");
  // WAL: readers (GUI, `sessions list`) never block the recorder. NORMAL sync keeps every committed
  // transaction across a process crash; only an OS crash may lose the last few commits.
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
}

void create_schema(SQLite::Database& db, const fs::path& path) {
  try {
    SQLite::Transaction tx(db);
    db.exec(kSchemaV3);
    db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
    db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    tx.commit();
  } catch (const SQLite::Exception& e) {
    fail_db(path, std::string("cannot create the session schema: ") + e.what());
  }
}

void migrate(const fs::path& path) {
  try {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA busy_timeout = 5000");
    // Immediate: take the write lock before re-reading the version so two processes cannot both migrate.
    db.exec("BEGIN IMMEDIATE");
    try {
      int v = db.execAndGet("PRAGMA user_version").getInt();
      for (; v < kSchemaVersion; ++v) {
        db.exec(kMigrations[v]);
        db.exec("PRAGMA user_version = " + std::to_string(v + 1));
      }
      db.exec("COMMIT");
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
  } catch (const SQLite::Exception& e) {
    fail_db(path, std::string("cannot migrate the session schema to version ") + std::to_string(kSchemaVersion) + ": " + e.what());
  }
}

std::string uri_escape(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (c == '?' || c == '#' || c == '%' || c < 0x20 || c >= 0x7f) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// A read-only connection. A WAL database on a read-only file system cannot create its -shm file; when
// no -wal file holds pending commits the file alone is the whole database and `immutable` reads it.
SQLite::Database open_read_only(const fs::path& path) {
  try {
    SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
    db.execAndGet("SELECT count(*) FROM sqlite_master");
    return db;
  } catch (const SQLite::Exception& e) {
    std::error_code ec;
    const fs::path wal = path.string() + "-wal";
    const bool pending_wal = fs::exists(wal, ec) && fs::file_size(wal, ec) > 0;
    if (e.getErrorCode() != SQLITE_CANTOPEN || pending_wal) throw;
  }
  return SQLite::Database("file:" + uri_escape(fs::absolute(path).string()) + "?immutable=1",
                          SQLite::OPEN_READONLY | SQLite::OPEN_URI);
}

}  // namespace

const char* schema_sql() { return kSchemaV3; }

fs::path default_session_db() {
  if (const char* env = std::getenv("MLASCOPE_SESSION_DB"); env && *env) return env;
  fs::path base;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    base = fs::path(home) / ".local" / "share";
  } else {
    base = fs::current_path();
  }
  return base / "mlascope" / "sessions.db";
}

fs::path resolve_session_db(const std::string& option) { return option.empty() ? default_session_db() : fs::path(option); }

DbIdentity inspect_session_db(const fs::path& path) {
  DbIdentity id;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) fail_db(path, "cannot read: " + ec.message());
  if (size == 0) {
    id.empty = true;
    return id;
  }
  try {
    SQLite::Database ro = open_read_only(path);
    id.application_id = ro.execAndGet("PRAGMA application_id").getInt();
    id.user_version = ro.execAndGet("PRAGMA user_version").getInt();
    const int n_tables = ro.execAndGet("SELECT count(*) FROM sqlite_master").getInt();
    id.empty = n_tables == 0 && id.application_id == 0;
  } catch (const SQLite::Exception& e) {
    fail_db(path, std::string("not a session database (") + e.what() + ")");
  }
  return id;
}

SQLite::Database open_session_db(const fs::path& path, DbAccess access) {
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (!exists && access == DbAccess::Read)
    fail_db(path, "no session database here (record one with `mlascope generate --record`)");
  if (exists && fs::is_directory(path, ec)) fail_db(path, "is a directory, not a session database");

  DbIdentity id;
  if (exists) {
    id = inspect_session_db(path);
    if (!id.empty) {
      if (id.application_id != kApplicationId) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%08x", static_cast<unsigned>(id.application_id));
        fail_db(path, std::string("not an mlascope session database (application_id ") + hex + ")");
      }
      if (id.user_version > kSchemaVersion)
        fail_db(path, "schema version " + std::to_string(id.user_version) + " is newer than this mlascope (" +
                          std::to_string(kSchemaVersion) + "); upgrade mlascope");
      if (id.user_version < 1) fail_db(path, "schema version " + std::to_string(id.user_version) + " is not valid");
      if (id.user_version < kSchemaVersion) migrate(path);
    } else if (access == DbAccess::Read) {
      fail_db(path, "empty file, no sessions recorded yet");
    }
  }

  if (access == DbAccess::Read) {
    try {
      SQLite::Database db = open_read_only(path);
      db.exec("PRAGMA busy_timeout = 5000");
      return db;
    } catch (const SQLite::Exception& e) {
      fail_db(path, std::string("cannot open: ") + e.what());
    }
  }

  if (!exists && path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) fail_db(path, "cannot create folder " + path.parent_path().string() + ": " + ec.message());
  }
  try {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    configure_writer(db);
    if (!exists || id.empty) create_schema(db, path);
    return db;
  } catch (const SQLite::Exception& e) {
    fail_db(path, std::string("cannot open for writing: ") + e.what());
  }
}

}  // namespace mlascope::sessions
