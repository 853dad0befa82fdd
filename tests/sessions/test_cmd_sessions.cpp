// tests/sessions/test_cmd_sessions.cpp — `mlascope sessions ...` as a user runs it: the real binary
// against a real database file recorded here.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <SQLiteCpp/Database.h>
#include <nlohmann/json.hpp>

#include "sessions/recorder.h"
#include "sessions/synthetic.h"
#include "support/data_paths.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

struct CliRun {
  int code = -1;
  std::string out;  // stdout and stderr
};

// `env`: "NAME=value" assignments for the child's environment.
CliRun run_cli(const std::string& args, const std::string& env = "") {
  const std::string cmd = env + " " + test::mlascope_binary().string() + " " + args + " 2>&1";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

int64_t record_demo(const fs::path& db, const std::string& title, int n_tokens) {
  SessionMeta m;
  std::ifstream in(test::asset_path("models/mla-moe-demo/config.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  m.config_json = ss.str();
  m.config = ModelConfig::from_json_text(m.config_json, "demo");
  m.title = title;
  m.model_name = "mla-moe-demo";
  auto rec = sessions::SessionRecorder::start(db, m);
  rec->add_message(0, {"user", "hi there", 0, n_tokens});
  for (int p = 0; p < n_tokens; ++p) rec->record(sessions::synthetic_step(m.config, {}, 8, p));
  return rec->session_id();
}

}  // namespace

TEST(CmdSessions, ListShowExportDelete) {
  const fs::path dir = test::temp_dir("cmd-sessions");
  const fs::path db = dir / "s.db";
  const int64_t a = record_demo(db, "alpha chat", 12);
  const int64_t b = record_demo(db, "beta chat", 5);
  const std::string opt = " --session-db " + db.string();

  CliRun r = run_cli("sessions list" + opt);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("alpha chat"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("beta chat"), std::string::npos) << r.out;

  r = run_cli("sessions list --json --search ALPHA" + opt);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["id"], a);
  EXPECT_EQ(j[0]["tokens"], 12);

  // The environment variable is the default location.
  r = run_cli("sessions list --json", "MLASCOPE_SESSION_DB=" + db.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 2u);

  r = run_cli("sessions show " + std::to_string(a) + opt);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("hi there"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens    12"), std::string::npos) << r.out;

  const fs::path csv = dir / "routing.csv";
  r = run_cli("sessions export " + std::to_string(a) + " --format routing -o " + csv.string() + opt);
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream in(csv);
  std::string line;
  int rows = -1;
  while (std::getline(in, line)) ++rows;
  EXPECT_EQ(rows, 12 * 5 * 4);  // tokens x MoE layers x top-k

  r = run_cli("sessions export " + std::to_string(a) + " --format attention --layer 2" + opt);
  EXPECT_EQ(r.code, 1);  // routing policy: no attention captured, said in one line
  EXPECT_NE(r.out.find("not captured"), std::string::npos) << r.out;

  r = run_cli("sessions delete " + std::to_string(b) + opt);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_cli("sessions delete " + std::to_string(b) + opt);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no session with id"), std::string::npos) << r.out;
  r = run_cli("sessions list --json" + opt);
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 1u);
  fs::remove_all(dir);
}

TEST(CmdSessions, ForeignFileIsOneLineErrorAndExitOne) {
  const fs::path dir = test::temp_dir("cmd-foreign");
  const fs::path f = dir / "x.db";
  std::ofstream(f) << "not sqlite at all, just text that is long enough to look like something";
  const CliRun r = run_cli("sessions list --session-db " + f.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(f.string()), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;  // exactly one line
  fs::remove_all(dir);
}

// `sessions list` (a read) used to migrate a version-1 file in place. Reads now leave it as it was,
// byte for byte; `sessions delete` (a write) migrates it.
TEST(CmdSessions, ReadCommandsLeaveAnOlderDatabaseUntouched) {
  const fs::path dir = test::temp_dir("cmd-old-schema");
  const fs::path db = dir / "v1.db";
  {
    SQLite::Database d(db.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    d.exec(R"sql(
CREATE TABLE sessions (id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL,
  model_name TEXT NOT NULL DEFAULT '', model_path TEXT NOT NULL DEFAULT '', model_hash TEXT NOT NULL DEFAULT '',
  config_json TEXT NOT NULL DEFAULT '', sampler_json TEXT NOT NULL DEFAULT '', engine_version TEXT NOT NULL DEFAULT '',
  backend TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '');
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
INSERT INTO sessions (id, title, created, model_name) VALUES (4, 'old one', 1700000000, 'demo');
INSERT INTO sessions (id, title, created, model_name) VALUES (5, 'older one', 1600000000, 'demo');
INSERT INTO messages VALUES (4, 0, 'user', 'hi', 0, 1);
INSERT INTO tokens VALUES (4, 0, 17, 'a', 1, 0, -1.0, X'', X'', 1.5);
PRAGMA application_id = 1296843091;
PRAGMA user_version = 1;
)sql");
  }
  std::ifstream in(db, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bytes = [&] {
    std::ifstream f(db, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  const std::string opt = " --session-db " + db.string();
  CliRun r = run_cli("sessions list" + opt);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("old one"), std::string::npos) << r.out;
  r = run_cli("sessions show 4" + opt);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("[user] tokens 0..1: hi"), std::string::npos) << r.out;
  r = run_cli("sessions export 4" + opt);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(bytes() == before) << "a read command changed the file";
  SQLite::Database ro(db.string(), SQLite::OPEN_READONLY);
  EXPECT_EQ(ro.execAndGet("PRAGMA user_version").getInt(), 1);

  r = run_cli("sessions delete 5" + opt);
  EXPECT_EQ(r.code, 0) << r.out;
  SQLite::Database after(db.string(), SQLite::OPEN_READONLY);
  EXPECT_EQ(after.execAndGet("PRAGMA user_version").getInt(), 3);
  fs::remove_all(dir);
}
