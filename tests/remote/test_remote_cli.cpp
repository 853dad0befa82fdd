// tests/remote/test_remote_cli.cpp — `--server` end to end with real processes: the real
// `mlascope serve` on the demo model (a child on a free loopback port, API key required), then the
// real `mlascope generate --server ... --record` and `mlascope chat --server ...` (under a pty) with
// --model naming a folder of config.json + tokenizer files only. The recorded remote session must
// hold the tokens and routing of a local `generate --record` of the same prompt (greedy, bf16 KV on
// both sides), name its server but never the key, and replay / inspect / export / verify like a
// local session.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "engine/trace/server_routing.h"
#include "engine/trace/trace_model.h"
#include "sessions/reader.h"
#include "support/data_paths.h"
#include "support/pty_session.h"
#include "support/temp_cleanup.h"

namespace mlascope {
namespace {

namespace fs = std::filesystem;
const test::TempCleanup kTempCleanup;
const char* kKey = "k3y-never-recorded";
const char* kPromptIds = "0,412,77,1023,5,300,9,61";

fs::path demo() { return test::asset_path("models/mla-moe-demo"); }

fs::path config_only_dir() {
  const fs::path d = test::temp_dir("remote-cli-config") / "served-demo";
  fs::create_directories(d);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"}) fs::copy_file(demo() / f, d / f);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Environment of every child: no inherited key, model or database.
test::EnvOverrides clean_env(const fs::path& home) {
  return {{"HOME", home.string()}, {"XDG_DATA_HOME", (home / "data").string()}, {"MLASCOPE_API_KEY", "\x01unset"},
          {"MLASCOPE_MODEL", "\x01unset"}, {"MLASCOPE_SESSION_DB", "\x01unset"}, {"TERM", "xterm-256color"}};
}

// `mlascope serve --port 0` as a child; the port is read from its "listening on" line.
class ServeChild {
 public:
  explicit ServeChild(const fs::path& home)
      : s_({test::mlascope_binary().string(), "serve", "--model", demo().string(), "--port", "0", "--device", "cpu", "--threads",
            "1", "--kv-type", "bf16", "--api-key", kKey},
           clean_env(home)) {
    ok_ = s_.wait_for("listening on http://", 120);
    std::smatch m;
    const std::string text = s_.text_since(0);
    if (ok_ && std::regex_search(text, m, std::regex("listening on (http://127\\.0\\.0\\.1:\\d+)"))) url_ = m[1];
  }
  ~ServeChild() {
    if (s_.pid() > 0) ::kill(s_.pid(), SIGTERM);
    s_.wait_exit(20);
  }
  const std::string& url() const { return url_; }
  std::string log() const { return s_.text_since(0); }

 private:
  test::PtySession s_;
  bool ok_ = false;
  std::string url_;
};

TraceModel load_only_session(const fs::path& db, int64_t* id = nullptr) {
  sessions::SessionReader reader(db);
  const auto list = reader.list();
  EXPECT_EQ(list.size(), 1u) << db;
  TraceModel tm;
  if (!list.empty()) {
    reader.load(list[0].id, tm);
    if (id) *id = list[0].id;
  }
  return tm;
}

class RemoteCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    home_ = test::temp_dir("remote-cli");
    cfg_ = config_only_dir();
    server_ = std::make_unique<ServeChild>(home_);
  }
  static void TearDownTestSuite() { server_.reset(); }
  static fs::path home_, cfg_;
  static std::unique_ptr<ServeChild> server_;
};
fs::path RemoteCli::home_, RemoteCli::cfg_;
std::unique_ptr<ServeChild> RemoteCli::server_;

TEST_F(RemoteCli, GenerateRecordEqualsLocalAndReplaysLikeOne) {
  ASSERT_FALSE(server_->url().empty()) << server_->log();
  const fs::path local_db = home_ / "local.db", remote_db = home_ / "remote.db";
  const std::string bin = test::mlascope_binary().string();
  const auto env = clean_env(home_);
  const test::RunResult local = test::run_command({bin, "generate", "--model", demo().string(), "--prompt-ids", kPromptIds, "-n", "12",
                                                   "--device", "cpu", "--threads", "1", "--kv-type", "bf16", "--record",
                                                   "--session-db", local_db.string()},
                                                  env);
  ASSERT_EQ(local.exit_code, 0) << local.err;
  // The key through the environment, as a user would keep it out of the shell history.
  test::EnvOverrides with_key = env;
  with_key.push_back({"MLASCOPE_API_KEY", kKey});
  const test::RunResult remote = test::run_command({bin, "generate", "--server", server_->url(), "--model", cfg_.string(), "--prompt-ids",
                                                    kPromptIds, "-n", "12", "--record", "--session-db", remote_db.string()},
                                                   with_key);
  ASSERT_EQ(remote.exit_code, 0) << remote.err;
  EXPECT_EQ(remote.out, local.out);  // the same text streamed
  EXPECT_NE(remote.err.find("remote (mlascope"), std::string::npos) << remote.err;

  const TraceModel a = load_only_session(local_db);
  int64_t id = -1;
  const TraceModel b = load_only_session(remote_db, &id);
  ASSERT_EQ(a.size(), 8u + 12u);
  ASSERT_EQ(b.size(), a.size());
  EXPECT_EQ(b.meta().backend.rfind("remote", 0), 0u) << b.meta().backend;
  EXPECT_EQ(b.meta().server_url, server_->url());
  EXPECT_EQ(b.meta().server_model, "mla-moe-demo");
  EXPECT_EQ(b.meta().model_name, "served-demo");
  EXPECT_TRUE(b.meta().model_hash.empty());  // no weights on this side
  EXPECT_EQ(b.meta().config_json, a.meta().config_json);
  EXPECT_FALSE(server_reports_no_routing(b));
  for (size_t t = 0; t < a.size(); ++t) {
    const StepRecord& x = a.token(t);
    const StepRecord& y = b.token(t);
    EXPECT_EQ(x.id, y.id) << t;
    EXPECT_EQ(x.is_prompt, y.is_prompt) << t;
    EXPECT_NEAR(x.prob, y.prob, 1e-3f) << t;
    ASSERT_EQ(x.routes.size(), 5u) << t;
    ASSERT_EQ(y.routes.size(), x.routes.size()) << t;
    for (size_t l = 0; l < x.routes.size(); ++l) {
      EXPECT_EQ(x.routes[l].expert, y.routes[l].expert) << "position " << t << " MoE layer " << l;
      EXPECT_NEAR(x.routes[l].weight[0], y.routes[l].weight[0], 1e-3f) << t;
    }
  }
  // The key is nowhere in the database file (nor its journal).
  EXPECT_EQ(slurp(remote_db).find(kKey), std::string::npos);

  // Replay, inspect and export read it as they read a local session.
  const std::string sid = std::to_string(id);
  const test::RunResult replay = test::run_command({bin, "replay", sid, "--step", "--session-db", remote_db.string()}, env);
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  const test::RunResult local_replay = test::run_command({bin, "replay", "last", "--step", "--session-db", local_db.string()}, env);
  EXPECT_EQ(local_replay.exit_code, 0);
  // Token by token (position, text, p, experts of every layer) the same; the headers name different models.
  const auto token_lines = [](const std::string& s) {
    std::string out;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);)
      if (std::regex_search(line, std::regex("^\\s+\\d+  '"))) out += line + "\n";
    return out;
  };
  EXPECT_FALSE(token_lines(replay.out).empty()) << replay.out;
  EXPECT_EQ(token_lines(replay.out), token_lines(local_replay.out));
  const test::RunResult insp = test::run_command({bin, "inspect", "routing", sid, "--session-db", remote_db.string()}, env);
  EXPECT_EQ(insp.exit_code, 0) << insp.err;
  EXPECT_NE(insp.out.find("e"), std::string::npos);
  const test::RunResult exp = test::run_command({bin, "sessions", "export", sid, "--format", "json", "--session-db", remote_db.string()}, env);
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  EXPECT_NE(exp.out.find("\"server_url\": \"" + server_->url() + "\""), std::string::npos);
  EXPECT_EQ(exp.out.find(kKey), std::string::npos);

  // verify: one line without weights; against the demo's weights (same KV type) it matches.
  const test::RunResult v1 = test::run_command({bin, "sessions", "verify", sid, "--session-db", remote_db.string()}, env);
  EXPECT_EQ(v1.exit_code, 1);
  EXPECT_NE(v1.err.find("cannot be re-run locally unless weights are given"), std::string::npos) << v1.err;
  EXPECT_NE(v1.err.find(server_->url()), std::string::npos) << v1.err;
  EXPECT_EQ(std::count(v1.err.begin(), v1.err.end(), '\n'), 1) << v1.err;
  const test::RunResult v2 = test::run_command({bin, "sessions", "verify", sid, "--model", demo().string(), "--kv-type", "bf16",
                                                "--threads", "1", "--session-db", remote_db.string()},
                                               env);
  EXPECT_EQ(v2.exit_code, 0) << v2.out << v2.err;
  EXPECT_NE(v2.out.find("match the re-run"), std::string::npos) << v2.out;
}

TEST_F(RemoteCli, WrongKeyIsOneLine) {
  ASSERT_FALSE(server_->url().empty()) << server_->log();
  const test::RunResult r = test::run_command({test::mlascope_binary().string(), "generate", "--server", server_->url(), "--model",
                                               cfg_.string(), "--prompt-ids", "0,5", "-n", "2", "--api-key", "wrong"},
                                              clean_env(home_));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--api-key"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("wrong"), std::string::npos) << r.err;
}

TEST_F(RemoteCli, ConfigOnlyFolderWithoutTokenizerIsNamed) {
  const fs::path bare = test::temp_dir("remote-cli-bare");
  fs::copy_file(demo() / "config.json", bare / "config.json");
  const test::RunResult r = test::run_command({test::mlascope_binary().string(), "generate", "--server", "http://127.0.0.1:1", "--model",
                                               bare.string(), "--prompt-ids", "0,5"},
                                              clean_env(home_));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find((bare / "tokenizer.json").string()), std::string::npos) << r.err;
}

TEST_F(RemoteCli, ChatThroughThePtyIsRecordedWithRouting) {
  ASSERT_FALSE(server_->url().empty()) << server_->log();
  const fs::path db = home_ / "chat.db";
  test::EnvOverrides env = clean_env(home_);
  env.push_back({"MLASCOPE_API_KEY", kKey});
  test::PtySession s({test::mlascope_binary().string(), "chat", "--server", server_->url(), "--model", cfg_.string(), "--session-db",
                      db.string(), "--max-tokens", "40"},
                     env);
  ASSERT_TRUE(s.wait_for("> ", 60)) << s.text_since(0);
  EXPECT_NE(s.text_since(0).find("remote (mlascope"), std::string::npos) << s.text_since(0);
  size_t m = s.mark();
  // Model card sample 1 (greedy, BOS prepended), as the local chat test expects it.
  s.send_line("And God said unto Moses,");
  ASSERT_TRUE(s.wait_for("positions cached]", 120, m)) << s.text_since(m);
  EXPECT_NE(s.text_since(m).find("I will not be ashamed, and I will not be ashamed."), std::string::npos) << s.text_since(m);
  EXPECT_EQ(s.text_since(m).find("reports no routing"), std::string::npos);
  m = s.mark();
  s.send_line("/routing 3");
  ASSERT_TRUE(s.wait_for_after("token 3 ", "\n> ", 30, m)) << s.text_since(m);
  EXPECT_TRUE(std::regex_search(s.text_since(m), std::regex("\\n\\s+1  e\\d+ \\d\\.\\d{3}  e\\d+"))) << s.text_since(m);
  s.ctrl_d();
  ASSERT_EQ(s.wait_exit(30), 0) << s.text_since(0);

  const TraceModel tm = load_only_session(db);
  EXPECT_EQ(tm.meta().server_url, server_->url());
  ASSERT_EQ(tm.messages().size(), 2u);
  EXPECT_NE(tm.messages()[1].text.find("I will not be ashamed"), std::string::npos);
  for (const StepRecord& r : tm.tokens()) EXPECT_EQ(r.routes.size(), 5u) << r.position;
  EXPECT_EQ(slurp(db).find(kKey), std::string::npos);
}

}  // namespace
}  // namespace mlascope
