// tests/sessions/test_session_store.cpp — record a session into a real database file, read it back,
// replay it, export it, delete it. Expected values come from the synthetic records that were handed
// to the recorder (rebuilt independently from the same seed), never from what the reader returns.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "sessions/export.h"
#include "sessions/reader.h"
#include "sessions/recorder.h"
#include "sessions/session_db.h"
#include "sessions/synthetic.h"
#include "support/data_paths.h"

using namespace mlascope;
using namespace mlascope::sessions;
namespace fs = std::filesystem;

namespace {

SessionMeta demo_meta(const std::string& title, CapturePolicy policy) {
  SessionMeta m;
  const fs::path cfg = test::asset_path("models/mla-moe-demo/config.json");
  std::ifstream in(cfg);
  std::stringstream ss;
  ss << in.rdbuf();
  m.config_json = ss.str();
  m.config = ModelConfig::from_json_text(m.config_json, cfg.string());
  m.title = title;
  m.model_name = "mla-moe-demo";
  m.model_path = test::asset_path("models/mla-moe-demo").string();
  m.model_hash = "sha256:abc";
  m.backend = "cpu (2 threads)";
  m.mla_mode = "absorbed";
  m.sampler_json = R"({"temperature":0.0})";
  m.engine_version = "0.1.0";
  m.capture = policy;
  m.gate_bias.assign(5, std::vector<float>(16, 0.125f));
  return m;
}

CaptureSettings capture(CapturePolicy p, uint64_t layers = ~0ull) {
  CaptureSettings c;
  c.policy = p;
  c.attention_layers = layers;
  return c;
}

float h(float x) { return std::abs(x) * 1e-3f + 1e-4f; }  // tolerance for values stored as f16

}  // namespace

TEST(SessionStore, RecordLoadReplayExportDelete) {
  const fs::path dir = test::temp_dir("store");
  const fs::path db = dir / "nested" / "sessions.db";  // parent folder does not exist yet
  const SessionMeta meta = demo_meta("first, \"quoted\"", CapturePolicy::Everything);
  const CaptureSettings cap = capture(CapturePolicy::Everything);
  constexpr int kTokens = 40;

  int64_t sid = -1;
  {
    RecorderOptions opt;
    opt.commit_every_tokens = 7;
    auto rec = SessionRecorder::start(db, meta, opt);
    sid = rec->session_id();
    rec->add_message(0, {"user", "hello", 0, 8});
    for (int p = 0; p < kTokens; ++p) EXPECT_TRUE(rec->record(synthetic_step(meta.config, cap, 11, p)));
    rec->add_message(1, {"assistant", "t1 t2", 8, kTokens});
    rec->add_bookmark({-1, 12, "look here"});
    rec->add_annotation({-1, 20, 3, "expert 5 dominates"});
    rec->flush();
    EXPECT_EQ(rec->status().tokens_committed, static_cast<uint64_t>(kTokens));
    EXPECT_TRUE(rec->status().recording);
  }

  SessionReader reader(db);
  const auto list = reader.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, sid);
  EXPECT_EQ(list[0].title, meta.title);
  EXPECT_EQ(list[0].n_tokens, kTokens);
  EXPECT_EQ(list[0].n_generated, kTokens - 8);
  EXPECT_EQ(list[0].n_messages, 2);
  EXPECT_EQ(list[0].capture, CapturePolicy::Everything);

  TraceModel tm;
  reader.load(sid, tm);
  EXPECT_EQ(tm.meta().model_hash, "sha256:abc");
  EXPECT_EQ(tm.meta().mla_mode, "absorbed");
  EXPECT_EQ(tm.meta().gate_bias, meta.gate_bias);
  EXPECT_EQ(tm.config().n_routed_experts, 16);
  EXPECT_EQ(tm.n_moe_layers(), 5);
  ASSERT_EQ(tm.size(), static_cast<size_t>(kTokens));
  for (int p = 0; p < kTokens; ++p) {
    const StepRecord want = synthetic_step(meta.config, cap, 11, p);
    const StepRecord& got = tm.token(static_cast<size_t>(p));
    ASSERT_EQ(got.id, want.id) << p;
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(got.is_prompt, want.is_prompt);
    EXPECT_FLOAT_EQ(got.prob, want.prob);
    EXPECT_FLOAT_EQ(got.raw_prob, want.raw_prob);
    EXPECT_EQ(got.kv_bytes, want.kv_bytes);
    ASSERT_EQ(got.top_raw.size(), 20u);
    EXPECT_EQ(got.top_raw[3].id, want.top_raw[3].id);
    EXPECT_NEAR(got.top_sampled[5].prob, want.top_sampled[5].prob, h(want.top_sampled[5].prob));
    ASSERT_EQ(got.routes.size(), 5u);
    for (size_t l = 0; l < 5; ++l) {
      EXPECT_EQ(got.routes[l].k, 4);
      for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(got.routes[l].expert[static_cast<size_t>(i)], want.routes[l].expert[static_cast<size_t>(i)]);
        EXPECT_EQ(got.routes[l].weight[static_cast<size_t>(i)], want.routes[l].weight[static_cast<size_t>(i)]);
      }
      EXPECT_EQ(got.routes[l].kept_groups, want.routes[l].kept_groups);
      EXPECT_EQ(got.routes[l].margin, want.routes[l].margin);
    }
    ASSERT_EQ(got.scores.size(), 80u);
    for (size_t i = 0; i < 80; ++i) EXPECT_NEAR(got.selection[i], want.selection[i], h(want.selection[i]));
    ASSERT_EQ(got.attention.size(), 6u);
    const AttentionRow& a = got.attention[2];
    EXPECT_EQ(a.layer, 2);
    EXPECT_EQ(a.n_keys, p + 1);
    ASSERT_EQ(a.probs.size(), want.attention[2].probs.size());
    for (size_t i = 0; i < a.probs.size(); ++i) {
      EXPECT_NEAR(a.probs[i], want.attention[2].probs[i], h(want.attention[2].probs[i]));
      EXPECT_NEAR(a.nope[i], want.attention[2].nope[i], h(want.attention[2].nope[i]));
      EXPECT_NEAR(a.rope[i], want.attention[2].rope[i], h(want.attention[2].rope[i]));
    }
  }
  ASSERT_EQ(tm.messages().size(), 2u);
  EXPECT_EQ(tm.messages()[1].role, "assistant");
  EXPECT_EQ(tm.messages()[1].end_token, kTokens);
  ASSERT_EQ(tm.bookmarks().size(), 1u);
  EXPECT_EQ(tm.bookmarks()[0].position, 12);
  ASSERT_EQ(tm.annotations().size(), 1u);
  EXPECT_EQ(tm.annotations()[0].layer, 3);

  // Replay: forward, back, jump — the view holds exactly the prefix, messages follow the cursor.
  TraceModel view;
  ReplayCursor cur(tm, view);
  EXPECT_EQ(cur.position(), 0u);
  EXPECT_FALSE(cur.back());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(cur.forward());
  EXPECT_EQ(view.size(), 5u);
  EXPECT_EQ(view.token(4).id, tm.token(4).id);
  ASSERT_EQ(view.messages().size(), 1u);
  EXPECT_EQ(view.messages()[0].end_token, 5);
  cur.jump(30);
  EXPECT_EQ(view.size(), 30u);
  ASSERT_EQ(view.messages().size(), 2u);
  EXPECT_EQ(view.messages()[1].end_token, 30);
  EXPECT_TRUE(cur.back());
  EXPECT_EQ(view.size(), 29u);
  cur.jump(7);
  EXPECT_EQ(view.messages().size(), 1u);
  cur.jump(1000);
  EXPECT_EQ(view.size(), static_cast<size_t>(kTokens));
  EXPECT_FALSE(cur.forward());
  EXPECT_EQ(view.route(39, 3)->expert[0], tm.route(39, 3)->expert[0]);

  // Exports.
  std::ostringstream routing;
  export_routing_csv(tm, routing);
  std::istringstream rs(routing.str());
  std::string line;
  std::getline(rs, line);
  EXPECT_EQ(line, "pos,layer,rank,expert,weight");
  int rows = 0;
  std::string first_row;
  while (std::getline(rs, line)) {
    if (rows == 0) first_row = line;
    ++rows;
  }
  EXPECT_EQ(rows, kTokens * 5 * 4);
  {
    const StepRecord w0 = synthetic_step(meta.config, cap, 11, 0);
    char buf[64];
    std::snprintf(buf, sizeof buf, "0,1,0,%d,%.9g", w0.routes[0].expert[0], static_cast<double>(w0.routes[0].weight[0]));
    EXPECT_EQ(first_row, buf);
  }

  std::ostringstream tokens;
  export_tokens_csv(tm, tokens);
  EXPECT_NE(tokens.str().find("\"t" + std::to_string(tm.token(3).id) + ", \"\"q\"\"\""), std::string::npos);

  std::ostringstream att;
  export_attention_csv(tm, 2, 1, att);
  size_t att_rows = 0;
  for (char c : att.str()) att_rows += c == '\n';
  EXPECT_EQ(att_rows, 1u + kTokens * (kTokens + 1) / 2);  // header + sum of n_keys
  EXPECT_EQ(att.str().rfind("pos,key,prob,nope,rope\n", 0), 0u);
  std::ostringstream bad;
  EXPECT_THROW(export_attention_csv(tm, 2, 9, bad), Error);

  std::ostringstream js;
  export_json(tm, js);
  const auto j = nlohmann::json::parse(js.str());
  EXPECT_EQ(j["session"]["title"], meta.title);
  EXPECT_EQ(j["session"]["config"]["n_routed_experts"], 16);
  ASSERT_EQ(j["tokens"].size(), static_cast<size_t>(kTokens));
  EXPECT_EQ(j["tokens"][10]["routes"][0]["layer"], 1);
  EXPECT_EQ(j["tokens"][10]["routes"][4]["experts"][0], tm.token(10).routes[4].expert[0]);
  EXPECT_EQ(j["tokens"][10]["attention"].size(), 6u);

  // Search and delete.
  {
    auto rec = SessionRecorder::start(db, demo_meta("second run", CapturePolicy::Routing));
    rec->record(synthetic_step(meta.config, capture(CapturePolicy::Routing), 3, 0));
  }
  SessionReader r2(db);
  EXPECT_EQ(r2.list().size(), 2u);
  SessionQuery q;
  q.title = "SECOND";
  ASSERT_EQ(r2.list(q).size(), 1u);
  q.title.clear();
  q.model = "no-such-model";
  EXPECT_TRUE(r2.list(q).empty());
  EXPECT_TRUE(r2.remove(sid));
  EXPECT_FALSE(r2.remove(sid));
  EXPECT_EQ(r2.list().size(), 1u);
  TraceModel gone;
  EXPECT_THROW(r2.load(sid, gone), Error);
  fs::remove_all(dir);
}

TEST(SessionStore, AttentionTopKPolicyBoundsSize) {
  const fs::path dir = test::temp_dir("topk");
  const SessionMeta meta = demo_meta("topk", CapturePolicy::RoutingAttention);
  const CaptureSettings cap = capture(CapturePolicy::RoutingAttention, 1ull << 3);
  RecorderOptions opt;
  opt.attention_topk = 4;
  int64_t sid;
  {
    auto rec = SessionRecorder::start(dir / "s.db", meta, opt);
    sid = rec->session_id();
    for (int p = 0; p < 12; ++p) rec->record(synthetic_step(meta.config, cap, 5, p));
  }
  TraceModel tm;
  SessionReader(dir / "s.db").load(sid, tm);
  const StepRecord want = synthetic_step(meta.config, cap, 5, 11);
  const AttentionRow* a = tm.attention(11, 3);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(tm.attention(11, 2), nullptr);
  EXPECT_TRUE(a->nope.empty());
  // Per head: exactly the 4 largest keys of the original row survive.
  for (int hd = 0; hd < a->n_heads; ++hd) {
    std::vector<float> row(want.attention[0].probs.begin() + hd * 12, want.attention[0].probs.begin() + (hd + 1) * 12);
    std::vector<float> sorted = row;
    std::sort(sorted.rbegin(), sorted.rend());
    int kept = 0;
    for (int k = 0; k < 12; ++k) {
      const float got = a->probs[static_cast<size_t>(hd * 12 + k)];
      if (row[static_cast<size_t>(k)] >= sorted[3]) {
        EXPECT_NEAR(got, row[static_cast<size_t>(k)], h(row[static_cast<size_t>(k)]));
        ++kept;
      } else {
        EXPECT_EQ(got, 0.0f);
      }
    }
    EXPECT_EQ(kept, 4);
  }
  fs::remove_all(dir);
}

TEST(SessionStore, TruncateForgetsTheCutTokens) {
  const fs::path dir = test::temp_dir("trunc");
  const SessionMeta meta = demo_meta("fork", CapturePolicy::Routing);
  const CaptureSettings cap = capture(CapturePolicy::Routing);
  int64_t sid;
  {
    auto rec = SessionRecorder::start(dir / "s.db", meta);
    sid = rec->session_id();
    rec->add_message(0, {"user", "p", 0, 10});
    for (int p = 0; p < 10; ++p) rec->record(synthetic_step(meta.config, cap, 1, p));
    rec->truncate(6);
    for (int p = 6; p < 9; ++p) rec->record(synthetic_step(meta.config, cap, 2, p));  // a different continuation
  }
  TraceModel tm;
  SessionReader(dir / "s.db").load(sid, tm);
  ASSERT_EQ(tm.size(), 9u);
  EXPECT_EQ(tm.token(5).id, synthetic_step(meta.config, cap, 1, 5).id);
  EXPECT_EQ(tm.token(7).id, synthetic_step(meta.config, cap, 2, 7).id);
  EXPECT_EQ(tm.messages()[0].end_token, 6);
  fs::remove_all(dir);
}

TEST(SessionStore, DefaultDatabaseLocation) {
  const char* old_db = std::getenv("MLASCOPE_SESSION_DB");
  const std::string saved_db = old_db ? old_db : "";
  const char* old_xdg = std::getenv("XDG_DATA_HOME");
  const std::string saved_xdg = old_xdg ? old_xdg : "";
  const char* old_home = std::getenv("HOME");
  const std::string saved_home = old_home ? old_home : "";
  ::unsetenv("MLASCOPE_SESSION_DB");
  ::setenv("XDG_DATA_HOME", "/xdg/data", 1);
  EXPECT_EQ(default_session_db(), fs::path("/xdg/data/mlascope/sessions.db"));
  ::unsetenv("XDG_DATA_HOME");
  ::setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(default_session_db(), fs::path("/home/someone/.local/share/mlascope/sessions.db"));
  ::setenv("MLASCOPE_SESSION_DB", "/tmp/x.db", 1);
  EXPECT_EQ(default_session_db(), fs::path("/tmp/x.db"));
  EXPECT_EQ(resolve_session_db("/opt/y.db"), fs::path("/opt/y.db"));
  EXPECT_EQ(resolve_session_db(""), fs::path("/tmp/x.db"));
  if (old_db) ::setenv("MLASCOPE_SESSION_DB", saved_db.c_str(), 1); else ::unsetenv("MLASCOPE_SESSION_DB");
  if (old_xdg) ::setenv("XDG_DATA_HOME", saved_xdg.c_str(), 1);
  if (old_home) ::setenv("HOME", saved_home.c_str(), 1);
}
