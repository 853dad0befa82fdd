// tests/app/test_chat_pty.cpp — the real `mlascope chat` on the bundled demo model under a real
// pseudo-terminal: greedy text against the model card's published sample, commands, Ctrl-C during
// a long generation, /save, Ctrl-D, then the session database is opened and checked.
#include <gtest/gtest.h>

#include <regex>

#include "engine/trace/trace_model.h"
#include "sessions/reader.h"
#include "support/data_paths.h"
#include "support/pty_session.h"

using namespace mlascope;

namespace {

int tokens_in(const std::string& status) {
  std::smatch m;
  if (!std::regex_search(status, m, std::regex("\\[(\\d+) tokens"))) return -1;
  return std::stoi(m[1]);
}

}  // namespace

TEST(ChatPty, DemoModelSessionEndToEnd) {
  const auto home = test::temp_dir("chat-real");
  const auto db = home / "sessions.db";
  test::PtySession s({test::mlascope_binary().string(), "chat", "--session-db", db.string(), "--max-tokens", "600",
                      "--device", "cpu", "--threads", "2"},
                     {{"HOME", home.string()}, {"XDG_DATA_HOME", (home / "data").string()}, {"TERM", "xterm-256color"},
                      {"COLORTERM", "\x01unset"}, {"NO_COLOR", "\x01unset"}, {"MLASCOPE_MODEL", "\x01unset"},
                      {"MLASCOPE_SESSION_DB", "\x01unset"}});
  ASSERT_TRUE(s.wait_for("> ", 120)) << s.text_since(0);
  EXPECT_NE(s.text_since(0).find("mla-moe-demo"), std::string::npos) << s.text_since(0);

  // Model card sample 1 (greedy, BOS prepended): " I will not be ashamed, and I will not be ashamed."
  size_t m = s.mark();
  s.send_line("And God said unto Moses,");
  ASSERT_TRUE(s.wait_for("positions cached]", 120, m)) << s.text_since(m);
  std::string out = s.text_since(m);
  EXPECT_NE(out.find("I will not be ashamed, and I will not be ashamed."), std::string::npos) << out;
  EXPECT_NE(out.find("end of text"), std::string::npos) << out;
  const int first_generated = tokens_in(out);
  EXPECT_GT(first_generated, 5);
  // 256-colour escapes (no COLORTERM) around the streamed tokens.
  EXPECT_NE(s.output().substr(m).find("\x1b[38;5;"), std::string::npos);

  m = s.mark();
  s.send_line("/routing 3");
  ASSERT_TRUE(s.wait_for_after("token 3 ", "\n> ", 30, m)) << s.text_since(m);
  out = s.text_since(m);
  EXPECT_NE(out.find("token 3 "), std::string::npos) << out;
  for (int layer = 1; layer <= 5; ++layer)
    EXPECT_TRUE(std::regex_search(out, std::regex("\\n\\s+" + std::to_string(layer) + "  e\\d+ \\d\\.\\d{3}  e\\d+"))) << out;

  m = s.mark();
  s.send_line("/experts 4");
  ASSERT_TRUE(s.wait_for("e15", 30, m)) << s.text_since(m);
  EXPECT_NE(s.text_since(m).find("layer 4"), std::string::npos);

  m = s.mark();
  s.send_line("/attn 0 mean");
  ASSERT_TRUE(s.wait_for_after("mean of heads", "\n> ", 30, m)) << s.text_since(m);
  EXPECT_TRUE(std::regex_search(s.text_since(m), std::regex("\\n\\s+\\d+\\s+'.*'\\s+0\\.\\d{3}"))) << s.text_since(m);

  m = s.mark();
  s.send_line("/kv");
  ASSERT_TRUE(s.wait_for("MQA", 30, m)) << s.text_since(m);

  // A code prompt that greedy decoding keeps repeating (model card sample 3): stop it with Ctrl-C.
  m = s.mark();
  s.send_line("/reset");
  ASSERT_TRUE(s.wait_for("new conversation", 30, m));
  m = s.mark();
  s.send_line("        if not isinstance(");
  ASSERT_TRUE(s.wait_for("self._parser = None", 120, m)) << s.text_since(m);
  s.ctrl_c();
  ASSERT_TRUE(s.wait_for("interrupted", 30, m)) << s.text_since(m);
  const int interrupted = tokens_in(s.text_since(m));
  EXPECT_GT(interrupted, 0);
  EXPECT_LT(interrupted, 600) << "Ctrl-C did not stop the generation";

  m = s.mark();
  s.send_line("/save pty check");
  ASSERT_TRUE(s.wait_for("saved as session", 20, m)) << s.text_since(m);
  std::smatch sm;
  out = s.text_since(m);
  ASSERT_TRUE(std::regex_search(out, sm, std::regex("saved as session (\\d+)"))) << out;
  const int64_t id = std::stoll(sm[1]);

  s.ctrl_d();
  ASSERT_EQ(s.wait_exit(30), 0) << s.text_since(0);

  // The database: both conversations, the second one titled and complete up to the interruption.
  sessions::SessionReader reader(db);
  const auto all = reader.list();
  ASSERT_EQ(all.size(), 2u);
  TraceModel tm;
  reader.load(id, tm);
  EXPECT_EQ(tm.meta().title, "pty check");
  EXPECT_EQ(tm.meta().model_name, "mla-moe-demo");
  ASSERT_EQ(tm.messages().size(), 2u);
  EXPECT_EQ(tm.messages()[0].role, "user");
  EXPECT_EQ(tm.messages()[0].text, "        if not isinstance(");
  EXPECT_NE(tm.messages()[1].text.find("self._parser"), std::string::npos);
  int generated = 0;
  for (const StepRecord& r : tm.tokens()) {
    generated += r.is_prompt ? 0 : 1;
    EXPECT_EQ(r.routes.size(), 5u) << r.position;  // every MoE layer's routing was recorded
  }
  EXPECT_EQ(generated, interrupted);
  EXPECT_EQ(tm.token(0).id, 0);  // BOS
  // The first conversation holds the Moses reply.
  const int64_t first_id = all[0].id == id ? all[1].id : all[0].id;
  TraceModel first;
  reader.load(first_id, first);
  ASSERT_EQ(first.messages().size(), 2u);
  EXPECT_NE(first.messages()[1].text.find("I will not be ashamed"), std::string::npos) << first.messages()[1].text;
  std::filesystem::remove_all(home);
}

TEST(ChatPty, LoadAndContinueARecordedSession) {
  const auto home = test::temp_dir("chat-load");
  const auto db = home / "sessions.db";
  const test::EnvOverrides env = {{"HOME", home.string()}, {"XDG_DATA_HOME", (home / "data").string()}, {"TERM", "xterm"},
                                  {"NO_COLOR", "1"}, {"MLASCOPE_MODEL", "\x01unset"}};
  const std::vector<std::string> argv = {test::mlascope_binary().string(), "chat", "--session-db", db.string(), "--max-tokens", "8",
                                         "--device", "cpu"};
  {
    test::PtySession s(argv, env);
    ASSERT_TRUE(s.wait_for("> ", 120)) << s.text_since(0);
    const size_t m = s.mark();
    s.send_line("The secret of a happy life is");
    ASSERT_TRUE(s.wait_for("positions cached]", 120, m)) << s.text_since(m);
    s.ctrl_d();
    ASSERT_EQ(s.wait_exit(30), 0);
  }
  sessions::SessionReader before(db);
  ASSERT_EQ(before.list().size(), 1u);
  const int64_t first_id = before.list()[0].id;
  TraceModel first;
  before.load(first_id, first);
  ASSERT_GT(first.size(), 8u);

  {
    test::PtySession s(argv, env);
    ASSERT_TRUE(s.wait_for("> ", 120)) << s.text_since(0);
    size_t m = s.mark();
    s.send_line("/sessions");
    ASSERT_TRUE(s.wait_for("The secret of a happy life is", 30, m)) << s.text_since(m);
    m = s.mark();
    s.send_line("/load " + std::to_string(first_id));
    ASSERT_TRUE(s.wait_for("type to continue it", 30, m)) << s.text_since(m);
    m = s.mark();
    s.send_line("/routing 2");  // views work on the loaded session before the model has seen it
    ASSERT_TRUE(s.wait_for("token 2 ", 30, m)) << s.text_since(m);
    m = s.mark();
    s.send_line(" And");
    ASSERT_TRUE(s.wait_for("positions cached]", 120, m)) << s.text_since(m);
    EXPECT_NE(s.text_since(m).find("reading the loaded session's " + std::to_string(first.size()) + " tokens"), std::string::npos)
        << s.text_since(m);
    m = s.mark();
    s.send_line("/load 999");
    ASSERT_TRUE(s.wait_for("error: ", 30, m)) << s.text_since(m);
    EXPECT_NE(s.text_since(m).find("999"), std::string::npos);
    s.ctrl_d();
    ASSERT_EQ(s.wait_exit(30), 0) << s.text_since(0);
  }
  // The continuation is a new session that starts with the loaded one's tokens.
  sessions::SessionReader after(db);
  const auto all = after.list();
  ASSERT_EQ(all.size(), 2u);
  TraceModel cont;
  after.load(all[0].id == first_id ? all[1].id : all[0].id, cont);
  ASSERT_GT(cont.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(cont.token(i).id, first.token(i).id) << i;
  ASSERT_EQ(cont.messages().size(), 4u);
  EXPECT_EQ(cont.messages()[2].text, " And");
  EXPECT_EQ(cont.messages()[2].first_token, static_cast<int32_t>(first.size()));
  std::filesystem::remove_all(home);
}

// Replay you can trust (issue 16): every answer records the sampler it used (settings, seed and
// random-stream position), so `sessions verify` re-draws sampled answers token for token: a greedy
// turn, a /sampler change, a sampled turn; a /load continuation at another temperature (the loaded
// greedy turn keeps its own sampler); a second conversation after /reset that continues the stream.
// Before: verify re-ran every answer with the session's first settings and a fresh stream, and
// reported a difference in each of the three sessions.
TEST(ChatPty, SampledChatsAndLoadContinuationsVerify) {
  const auto home = test::temp_dir("chat-verify");
  const auto db = home / "sessions.db";
  const test::EnvOverrides env = {{"HOME", home.string()}, {"XDG_DATA_HOME", (home / "data").string()}, {"TERM", "xterm"},
                                  {"NO_COLOR", "1"}, {"MLASCOPE_MODEL", "\x01unset"}, {"MLASCOPE_SESSION_DB", "\x01unset"}};
  const std::vector<std::string> argv = {test::mlascope_binary().string(), "chat", "--session-db", db.string(), "--max-tokens",
                                         "12", "--device", "cpu", "--threads", "2"};
  auto turn = [](test::PtySession& s, const std::string& line) {
    const size_t m = s.mark();
    s.send_line(line);
    ASSERT_TRUE(s.wait_for("positions cached]", 120, m)) << s.text_since(m);
  };
  auto command = [](test::PtySession& s, const std::string& line, const std::string& reply) {
    const size_t m = s.mark();
    s.send_line(line);
    ASSERT_TRUE(s.wait_for(reply, 30, m)) << s.text_since(m);
  };
  {
    test::PtySession s(argv, env);
    ASSERT_TRUE(s.wait_for("> ", 120)) << s.text_since(0);
    turn(s, "And God said unto Moses,");
    command(s, "/sampler temperature=1.5 seed=11", "sampler: ");
    turn(s, " And the");
    s.ctrl_d();
    ASSERT_EQ(s.wait_exit(30), 0) << s.text_since(0);
  }
  sessions::SessionReader first_reader(db);
  ASSERT_EQ(first_reader.list().size(), 1u);
  const int64_t first_id = first_reader.list()[0].id;
  {
    test::PtySession s(argv, env);
    ASSERT_TRUE(s.wait_for("> ", 120)) << s.text_since(0);
    command(s, "/sampler temperature=1.3 seed=5", "sampler: ");
    command(s, "/load " + std::to_string(first_id), "type to continue it");
    turn(s, " Then");
    command(s, "/reset", "new conversation");
    turn(s, "The secret of a happy life is");
    turn(s, " And");
    s.ctrl_d();
    ASSERT_EQ(s.wait_exit(30), 0) << s.text_since(0);
  }
  sessions::SessionReader reader(db);
  const auto all = reader.list();
  ASSERT_EQ(all.size(), 3u);
  // Each answer carries its own sampler: the loaded greedy answer keeps temperature 0 in the continuation.
  for (const auto& summary : all) {
    TraceModel tm;
    reader.load(summary.id, tm);
    for (const Message& msg : tm.messages())
      if (msg.role == "assistant") {
        EXPECT_NE(msg.sampler_json.find("rng_position"), std::string::npos) << msg.sampler_json;
      }
    if (summary.id != first_id && tm.messages().size() == 6u) {
      EXPECT_NE(tm.messages()[1].sampler_json.find("\"temperature\":0.0"), std::string::npos) << tm.messages()[1].sampler_json;
      EXPECT_NE(tm.messages()[3].sampler_json.find("\"temperature\":1.5"), std::string::npos) << tm.messages()[3].sampler_json;
      EXPECT_NE(tm.messages()[5].sampler_json.find("\"temperature\":1.2999"), std::string::npos) << tm.messages()[5].sampler_json;
    }
  }
  for (const auto& summary : all) {
    const test::RunResult r = test::run_command({test::mlascope_binary().string(), "sessions", "verify", std::to_string(summary.id),
                                                 "--session-db", db.string(), "--threads", "2"},
                                                env, 300);
    EXPECT_EQ(r.exit_code, 0) << "session " << summary.id << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("match the re-run"), std::string::npos) << r.out;
  }
  std::filesystem::remove_all(home);
}
