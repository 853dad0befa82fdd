// tests/sessions/test_session_db.cpp — what opening a database file does to files that are not a
// current session database: read an older schema without writing it, migrate it on the first write,
// reject corrupt, foreign and newer files with one line naming the file, and leave rejected files
// byte-for-byte unchanged.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include "engine/error.h"
#include "sessions/reader.h"
#include "sessions/recorder.h"
#include "sessions/session_db.h"
#include "sessions/synthetic.h"
#include "support/data_paths.h"

using namespace mlascope;
using namespace mlascope::sessions;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t fnv1a(const fs::path& p) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : read_all(p)) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string demo_config_json() { return read_all(test::asset_path("models/mla-moe-demo/config.json")); }

// Expects an Error whose message is one line and names the file; returns the message.
template <typename F>
std::string expect_error(F&& f, const fs::path& file) {
  try {
    f();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(file.string()), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    return m;
  }
  ADD_FAILURE() << "no error for " << file;
  return {};
}

// A version-1 database as mlascope 0.0 wrote it (no mla_mode/capture/gate_bias, no raw_prob/kv_bytes,
// no annotations), written here by hand so the migration is tested against an independent file.
void write_v1_database(const fs::path& p) {
  SQLite::Database db(p.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec(R"sql(
CREATE TABLE sessions (id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL,
  model_name TEXT NOT NULL DEFAULT '', model_path TEXT NOT NULL DEFAULT '', model_hash TEXT NOT NULL DEFAULT '',
  config_json TEXT NOT NULL DEFAULT '', sampler_json TEXT NOT NULL DEFAULT '', engine_version TEXT NOT NULL DEFAULT '',
  backend TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '');
CREATE INDEX sessions_created ON sessions(created);
CREATE TABLE messages (session_id INTEGER NOT NULL, idx INTEGER NOT NULL, role TEXT NOT NULL, text TEXT NOT NULL,
  first_token INTEGER NOT NULL, end_token INTEGER NOT NULL, PRIMARY KEY (session_id, idx)) WITHOUT ROWID;
CREATE TABLE tokens (session_id INTEGER NOT NULL, position INTEGER NOT NULL, token_id INTEGER NOT NULL,
  text TEXT NOT NULL, is_prompt INTEGER NOT NULL, message INTEGER NOT NULL, prob REAL NOT NULL, top_raw BLOB,
  top_sampled BLOB, ms REAL NOT NULL, PRIMARY KEY (session_id, position)) WITHOUT ROWID;
CREATE TABLE routing (session_id INTEGER NOT NULL, position INTEGER NOT NULL, routes BLOB NOT NULL, scores BLOB,
  selection BLOB, PRIMARY KEY (session_id, position)) WITHOUT ROWID;
CREATE TABLE attention (session_id INTEGER NOT NULL, position INTEGER NOT NULL, layer INTEGER NOT NULL,
  n_heads INTEGER NOT NULL, n_keys INTEGER NOT NULL, format INTEGER NOT NULL, top_k INTEGER NOT NULL DEFAULT 0,
  probs BLOB NOT NULL, nope BLOB, rope BLOB, PRIMARY KEY (session_id, position, layer)) WITHOUT ROWID;
CREATE TABLE bookmarks (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, position INTEGER NOT NULL,
  note TEXT NOT NULL DEFAULT '');
PRAGMA application_id = 1296843091;
PRAGMA user_version = 1;
)sql");
  SQLite::Statement s(db, "INSERT INTO sessions (id, title, created, model_name, config_json) VALUES (4, 'old one', 1700000000, 'demo', ?)");
  s.bind(1, demo_config_json());
  s.exec();
  db.exec("INSERT INTO messages VALUES (4, 0, 'user', 'hi', 0, 2)");
  // Routing blob of one MoE layer per the v1 layout (unchanged in v2): format 1, 1 layer, k=1,
  // margin 0, kept_groups all ones, expert 9, weight 2.0.
  db.exec("INSERT INTO tokens VALUES (4, 0, 17, 'a', 1, 0, -1.0, X'', X'', 1.5)");
  db.exec("INSERT INTO tokens VALUES (4, 1, 23, 'b', 1, 0, 0.25, X'', X'', 0.5)");
  db.exec("INSERT INTO routing VALUES (4, 1, X'01010100000000FFFFFFFFFFFFFFFF090000000040', NULL, NULL)");
  db.exec("INSERT INTO bookmarks VALUES (1, 4, 1, 'kept')");
}

}  // namespace

TEST(SessionDb, Version1DatabaseIsReadWithoutWritingAndMigratedByTheFirstWrite) {
  const fs::path dir = test::temp_dir("migrate");
  const fs::path p = dir / "old.db";
  write_v1_database(p);
  EXPECT_EQ(inspect_session_db(p).user_version, 1);
  const uint64_t before = fnv1a(p);

  // A read (sessions list/show/export, replay, inspect) leaves the file as it was.
  {
    SessionReader reader(p);
    EXPECT_EQ(reader.list().size(), 1u);
    TraceModel tm;
    reader.load(4, tm);
    EXPECT_EQ(tm.size(), 2u);
  }
  EXPECT_EQ(inspect_session_db(p).user_version, 1);
  EXPECT_EQ(fnv1a(p), before);

  SessionReader reader(p);
  const auto list = reader.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].title, "old one");
  EXPECT_EQ(list[0].n_tokens, 2);
  TraceModel tm;
  reader.load(4, tm);
  ASSERT_EQ(tm.size(), 2u);
  EXPECT_EQ(tm.token(1).id, 23);
  EXPECT_EQ(tm.token(1).raw_prob, -1.0f);  // column added in version 2, read with its default
  EXPECT_EQ(tm.token(1).kv_bytes, 0u);
  EXPECT_EQ(tm.meta().capture, CapturePolicy::Routing);
  const RouteRow* r = tm.route(1, 1);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->k, 1);
  EXPECT_EQ(r->expert[0], 9);
  EXPECT_EQ(r->weight[0], 2.0f);
  EXPECT_EQ(r->kept_groups, ~0ull);
  EXPECT_EQ(tm.bookmarks().size(), 1u);
  EXPECT_EQ(tm.meta().kv_dtype, "");  // v3 columns added with their defaults
  EXPECT_EQ(tm.meta().server_url, "");
  ASSERT_EQ(tm.messages().size(), 1u);
  EXPECT_EQ(tm.messages()[0].text, "hi");
  EXPECT_EQ(tm.messages()[0].sampler_json, "");

  EXPECT_EQ(inspect_session_db(p).user_version, 1);
  EXPECT_EQ(fnv1a(p), before);

  // The first write migrates; the file then takes new recordings with the v2 and v3 columns.
  SessionMeta meta;
  meta.config_json = demo_config_json();
  meta.config = ModelConfig::from_json_text(meta.config_json, "demo");
  meta.title = "new";
  meta.kv_dtype = "bf16";
  meta.server_url = "http://127.0.0.1:30000";
  meta.server_model = "deepseek-ai/DeepSeek-V3";
  int64_t new_id = -1;
  {
    auto rec = SessionRecorder::start(p, meta);
    new_id = rec->session_id();
    rec->record(synthetic_step(meta.config, {}, 1, 0));
    rec->add_annotation({-1, 0, -1, "note"});
    Message m{"user", "line one\nline two", 0, 1};
    m.sampler_json = R"({"temperature":0.7,"seed":7})";
    rec->add_message(0, m);
  }
  EXPECT_EQ(inspect_session_db(p).user_version, 3);
  SessionReader again(p);
  EXPECT_EQ(again.list().size(), 2u);
  TraceModel fresh;
  again.load(new_id, fresh);
  EXPECT_EQ(fresh.meta().kv_dtype, "bf16");
  EXPECT_EQ(fresh.meta().server_url, "http://127.0.0.1:30000");
  EXPECT_EQ(fresh.meta().server_model, "deepseek-ai/DeepSeek-V3");
  ASSERT_EQ(fresh.messages().size(), 1u);
  EXPECT_EQ(fresh.messages()[0].text, "line one\nline two");
  EXPECT_EQ(fresh.messages()[0].sampler_json, R"({"temperature":0.7,"seed":7})");
  SQLite::Database db(p.string(), SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM annotations").getInt(), 1);
  fs::remove_all(dir);
}

// Version 2 (written by hand from the v1 file: the columns and table version 2 added), read through the
// same compatibility path, then migrated by a delete, which is a write.
TEST(SessionDb, Version2DatabaseIsReadWithoutWritingAndDeleteMigratesIt) {
  const fs::path dir = test::temp_dir("migrate2");
  const fs::path p = dir / "v2.db";
  write_v1_database(p);
  {
    SQLite::Database db(p.string(), SQLite::OPEN_READWRITE);
    db.exec(R"sql(
ALTER TABLE sessions ADD COLUMN mla_mode TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN capture INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD COLUMN gate_bias BLOB;
ALTER TABLE tokens ADD COLUMN raw_prob REAL NOT NULL DEFAULT -1;
ALTER TABLE tokens ADD COLUMN kv_bytes INTEGER NOT NULL DEFAULT 0;
CREATE TABLE annotations (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, position INTEGER NOT NULL,
  layer INTEGER NOT NULL DEFAULT -1, text TEXT NOT NULL);
UPDATE sessions SET mla_mode = 'naive', capture = 3 WHERE id = 4;
UPDATE tokens SET kv_bytes = 4096 WHERE session_id = 4 AND position = 1;
INSERT INTO annotations VALUES (1, 4, 1, 2, 'layer two');
INSERT INTO sessions (id, title, created) VALUES (5, 'second', 1700000001);
PRAGMA user_version = 2;
)sql");
  }
  const uint64_t before = fnv1a(p);
  {
    SessionReader reader(p);
    ASSERT_EQ(reader.list().size(), 2u);
    TraceModel tm;
    reader.load(4, tm);
    EXPECT_EQ(tm.meta().mla_mode, "naive");
    EXPECT_EQ(tm.meta().capture, CapturePolicy::Everything);
    EXPECT_EQ(tm.meta().kv_dtype, "");  // v3 columns read with their defaults
    EXPECT_EQ(tm.meta().server_model, "");
    ASSERT_EQ(tm.size(), 2u);
    EXPECT_EQ(tm.token(1).kv_bytes, 4096u);
    ASSERT_EQ(tm.annotations().size(), 1u);
    EXPECT_EQ(tm.annotations()[0].text, "layer two");
    ASSERT_EQ(tm.messages().size(), 1u);
    EXPECT_EQ(tm.messages()[0].sampler_json, "");
  }
  EXPECT_EQ(inspect_session_db(p).user_version, 2);
  EXPECT_EQ(fnv1a(p), before);

  EXPECT_TRUE(SessionReader(p).remove(5));
  EXPECT_EQ(inspect_session_db(p).user_version, 3);
  SessionReader after(p);
  ASSERT_EQ(after.list().size(), 1u);
  TraceModel tm;
  after.load(4, tm);
  EXPECT_EQ(tm.token(1).kv_bytes, 4096u);
  EXPECT_EQ(tm.meta().mla_mode, "naive");
  fs::remove_all(dir);
}

TEST(SessionDb, CorruptFileIsRejectedAndUnchanged) {
  const fs::path dir = test::temp_dir("corrupt");
  // A real session database whose header was overwritten.
  const fs::path p = dir / "corrupt.db";
  {
    SessionMeta meta;
    meta.title = "x";
    auto rec = SessionRecorder::start(p, meta);
  }
  SQLite::Database(p.string(), SQLite::OPEN_READWRITE).exec("PRAGMA journal_mode = DELETE");  // fold the WAL in
  ASSERT_FALSE(fs::exists(dir / "corrupt.db-wal"));
  {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.write("garbage garbage garbage garbage!", 32);
  }
  const uint64_t before = fnv1a(p);
  const std::string m = expect_error([&] { SessionReader r(p); }, p);
  EXPECT_NE(m.find("not a session database"), std::string::npos) << m;
  expect_error([&] { SessionRecorder::start(p, SessionMeta{}); }, p);
  EXPECT_EQ(fnv1a(p), before);
  EXPECT_FALSE(fs::exists(dir / "corrupt.db-wal"));
  EXPECT_FALSE(fs::exists(dir / "corrupt.db-journal"));

  // A text file that merely has the name.
  const fs::path txt = dir / "notes.db";
  std::ofstream(txt) << "these are my notes, not a database\n";
  const uint64_t txt_before = fnv1a(txt);
  expect_error([&] { SessionRecorder::start(txt, SessionMeta{}); }, txt);
  expect_error([&] { SessionReader r(txt); }, txt);
  EXPECT_EQ(fnv1a(txt), txt_before);
  fs::remove_all(dir);
}

TEST(SessionDb, DamagedPagesGiveAnErrorNamingTheFile) {
  const fs::path dir = test::temp_dir("damaged");
  const fs::path p = dir / "damaged.db";
  SessionMeta meta;
  meta.config_json = demo_config_json();
  meta.config = ModelConfig::from_json_text(meta.config_json, "demo");
  int64_t sid;
  {
    auto rec = SessionRecorder::start(p, meta);
    sid = rec->session_id();
    CaptureSettings cap;
    cap.policy = CapturePolicy::Everything;
    for (int i = 0; i < 60; ++i) rec->record(synthetic_step(meta.config, cap, 2, i));
  }
  SQLite::Database(p.string(), SQLite::OPEN_READWRITE).exec("PRAGMA journal_mode = DELETE");
  // Scribble over the second half of the file: b-tree pages the header does not cover.
  const auto size = fs::file_size(p);
  {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    std::string junk(size / 2, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const uint64_t before = fnv1a(p);
  expect_error(
      [&] {
        SessionReader r(p);
        TraceModel tm;
        r.load(sid, tm);
      },
      p);
  EXPECT_EQ(fnv1a(p), before);
  fs::remove_all(dir);
}

TEST(SessionDb, ForeignAndNewerDatabasesAreRejectedAndUnchanged) {
  const fs::path dir = test::temp_dir("foreign");
  const fs::path foreign = dir / "browser.sqlite";
  {
    SQLite::Database db(foreign.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places VALUES (1, 'x')");
  }
  const uint64_t fb = fnv1a(foreign);
  const std::string m = expect_error([&] { SessionReader r(foreign); }, foreign);
  EXPECT_NE(m.find("application_id 0x00000000"), std::string::npos) << m;
  expect_error([&] { SessionRecorder::start(foreign, SessionMeta{}); }, foreign);
  EXPECT_EQ(fnv1a(foreign), fb);

  const fs::path newer = dir / "newer.db";
  {
    SQLite::Database db(newer.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE sessions (id INTEGER PRIMARY KEY); PRAGMA application_id = 1296843091; PRAGMA user_version = 9");
  }
  const uint64_t nb = fnv1a(newer);
  const std::string m2 = expect_error([&] { SessionReader r(newer); }, newer);
  EXPECT_NE(m2.find("schema version 9"), std::string::npos) << m2;
  expect_error([&] { SessionRecorder::start(newer, SessionMeta{}); }, newer);
  EXPECT_EQ(fnv1a(newer), nb);

  expect_error([&] { SessionReader r(dir / "missing.db"); }, dir / "missing.db");
  EXPECT_FALSE(fs::exists(dir / "missing.db"));
  fs::remove_all(dir);
}
