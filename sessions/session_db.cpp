// sessions/session_db.cpp — schema, migrations and the read-only identity check.
#include "session_db.h"

#include <cstdlib>
#include <cstdio>
#include <set>
#include <vector>

#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>
#include <unistd.h>
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

// How long a connection waits for a lock another process holds for a moment: a recorder's commit, or the
// checkpoint its last connection runs while closing (that one locks the whole file; a reader that
// gave up at once failed `sessions list` and the concurrent-reading test now and then).
constexpr int kBusyTimeoutMs = 5000;

// migrations[v] turns version v into v + 1.
const char* const kMigrations[] = {nullptr, kMigrate1To2, kMigrate2To3};
static_assert(std::size(kMigrations) == kSchemaVersion);

[[noreturn]] void fail_db(const fs::path& path, const std::string& what) { fail("sessions", path.string(), what); }

void configure_writer(SQLite::Database& db) {
  db.setBusyTimeout(kBusyTimeoutMs);
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
    db.setBusyTimeout(kBusyTimeoutMs);
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
  for (int attempt = 0;; ++attempt) {
    try {
      SQLite::Database db(path.string(), SQLite::OPEN_READONLY);
      db.setBusyTimeout(kBusyTimeoutMs);  // before the first read, which is where a closing writer is met
      db.execAndGet("SELECT count(*) FROM sqlite_master");
      return db;
    } catch (const SQLite::Exception& e) {
      // A process killed inside a transaction left a hot journal (or a WAL index to rebuild): only a
      // writable connection may put the last committed state back, which is what SQLite does on the
      // next open of any writer. Do that first, then read; it restores and never changes the schema.
      const int x = e.getExtendedErrorCode();
      if (attempt == 0 && (x == SQLITE_READONLY_ROLLBACK || x == SQLITE_READONLY_RECOVERY) && ::access(path.c_str(), W_OK) == 0) {
        SQLite::Database w(path.string(), SQLite::OPEN_READWRITE);
        w.setBusyTimeout(kBusyTimeoutMs);
        w.execAndGet("SELECT count(*) FROM sqlite_master");
        continue;
      }
      std::error_code ec;
      const fs::path wal = path.string() + "-wal";
      const bool pending_wal = fs::exists(wal, ec) && fs::file_size(wal, ec) > 0;
      if (e.getErrorCode() != SQLITE_CANTOPEN || pending_wal) throw;
    }
    break;
  }
  SQLite::Database db("file:" + uri_escape(fs::absolute(path).string()) + "?immutable=1",
                      SQLite::OPEN_READONLY | SQLite::OPEN_URI);
  db.setBusyTimeout(kBusyTimeoutMs);
  return db;
}

std::string quote_id(const std::string& name) {
  std::string q = "\"";
  for (char c : name) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// Reading an older schema without writing it: TEMP views named after the current tables shadow the
// file's own (unqualified names resolve to the temp schema first) and give the columns and tables a
// later version added their defaults, exactly what the migration would have stored. The file stays
// untouched until something writes to it (open_session_db(Write) migrates then).
void add_compat_views(SQLite::Database& db) {
  SQLite::Database current(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  current.exec(kSchemaV3);
  std::vector<std::string> tables;
  {
    SQLite::Statement st(current, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    while (st.executeStep()) tables.push_back(st.getColumn(0).getString());
  }
  for (const std::string& table : tables) {
    std::set<std::string> have;
    {
      SQLite::Statement st(db, "SELECT name FROM pragma_table_info(?1, 'main')");
      st.bind(1, table);
      while (st.executeStep()) have.insert(st.getColumn(0).getString());
    }
    std::string select;
    bool missing = false;
    SQLite::Statement cols(current, "SELECT name, dflt_value FROM pragma_table_info(?1) ORDER BY cid");
    cols.bind(1, table);
    while (cols.executeStep()) {
      const std::string name = cols.getColumn(0).getString();
      const std::string dflt = cols.getColumn(1).isNull() ? "NULL" : cols.getColumn(1).getString();
      if (!select.empty()) select += ", ";
      if (have.count(name)) {
        select += quote_id(name);
      } else {
        select += "(" + dflt + ") AS " + quote_id(name);
        missing = true;
      }
    }
    if (have.empty()) {
      db.exec("CREATE TEMP VIEW " + quote_id(table) + " AS SELECT " + select + " WHERE 0");
    } else if (missing) {
      db.exec("CREATE TEMP VIEW " + quote_id(table) + " AS SELECT " + select + " FROM main." + quote_id(table));
    }
  }
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
    if (e.getErrorCode() == SQLITE_BUSY)
      fail_db(path, "locked by another process for over " + std::to_string(kBusyTimeoutMs / 1000) + " s; try again");
    fail_db(path, std::string("not a session database (") + e.what() + ")");
  }
  return id;
}

namespace {
// The identity rules of every open: ours, a version we know.
void check_identity(const fs::path& path, const DbIdentity& id) {
  if (id.empty) return;
  if (id.application_id != kApplicationId) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", static_cast<unsigned>(id.application_id));
    fail_db(path, std::string("not an mlascope session database (application_id ") + hex + ")");
  }
  if (id.user_version > kSchemaVersion)
    fail_db(path, "schema version " + std::to_string(id.user_version) + " is newer than this mlascope (" +
                      std::to_string(kSchemaVersion) + "); upgrade mlascope");
  if (id.user_version < 1) fail_db(path, "schema version " + std::to_string(id.user_version) + " is not valid");
}
}  // namespace

void check_session_db(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  if (fs::is_directory(path, ec)) fail_db(path, "is a directory, not a session database");
  check_identity(path, inspect_session_db(path));
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
    check_identity(path, id);
    if (!id.empty) {
      // A read never writes: an older file is migrated by the first write, read through views till then.
      if (id.user_version < kSchemaVersion && access == DbAccess::Write) migrate(path);
    } else if (access == DbAccess::Read) {
      fail_db(path, "empty file, no sessions recorded yet");
    }
  }

  if (access == DbAccess::Read) {
    try {
      SQLite::Database db = open_read_only(path);
      if (id.user_version < kSchemaVersion) add_compat_views(db);
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
