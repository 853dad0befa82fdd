// tests/app/test_cmd_inspect.cpp — `mlascope inspect` and `mlascope replay` as real processes on a
// session database written by the sessions recorder from synthetic records; every number is checked
// against the records themselves (counted and compared here, not through the terminal's views).
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "sessions/recorder.h"
#include "sessions/synthetic.h"
#include "support/data_paths.h"
#include "support/pty_session.h"

using namespace mlascope;
using nlohmann::json;

namespace {

constexpr int kTokens = 24;
constexpr uint64_t kSeed = 7;

struct Fixture {
  std::filesystem::path dir, db;
  ModelConfig config;
  CaptureSettings capture;
  std::vector<StepRecord> steps;
  int64_t id = -1;
};

Fixture make_session() {
  Fixture f;
  f.dir = test::temp_dir("inspect");
  f.db = f.dir / "sessions.db";
  f.config = ModelConfig::from_file(test::asset_path("models/mla-moe-demo/config.json"));
  f.capture.policy = CapturePolicy::RoutingAttention;
  f.capture.attention_layers = 1ull << 2;
  SessionMeta meta;
  meta.config = f.config;
  std::ifstream in(test::asset_path("models/mla-moe-demo/config.json"));
  meta.config_json.assign(std::istreambuf_iterator<char>(in), {});
  meta.model_name = "mla-moe-demo";
  meta.title = "synthetic";
  meta.capture = f.capture.policy;
  auto rec = sessions::SessionRecorder::start(f.db, meta);
  f.id = rec->session_id();
  for (int p = 0; p < kTokens; ++p) {
    f.steps.push_back(sessions::synthetic_step(f.config, f.capture, kSeed, p));
    rec->record(f.steps.back());
  }
  rec->add_message(0, {"user", "prompt", 0, 8});
  rec->add_message(1, {"assistant", "reply", 8, kTokens});
  rec->flush();
  return f;
}

test::RunResult run_mlascope(const Fixture& f, std::vector<std::string> args) {
  args.insert(args.begin(), test::mlascope_binary().string());
  args.push_back("--session-db");
  args.push_back(f.db.string());
  return test::run_command(args);
}

int dominant(const RouteRow& r) {
  int best = 0;
  for (int i = 1; i < r.k; ++i)
    if (r.weight[static_cast<size_t>(i)] > r.weight[static_cast<size_t>(best)]) best = i;
  return r.expert[static_cast<size_t>(best)];
}

}  // namespace

TEST(CmdInspect, ExpertLoadMatchesTheRecords) {
  const Fixture f = make_session();
  const test::RunResult r = run_mlascope(f, {"inspect", "experts", std::to_string(f.id), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["layers"].size(), 5u);
  for (int m = 0; m < 5; ++m) {
    std::vector<double> count(16, 0.0);
    for (const StepRecord& s : f.steps)
      for (int i = 0; i < s.routes[static_cast<size_t>(m)].k; ++i) count[static_cast<size_t>(s.routes[static_cast<size_t>(m)].expert[static_cast<size_t>(i)])] += 1;
    const json& l = j["layers"][static_cast<size_t>(m)];
    EXPECT_EQ(l["layer"], m + 1);
    EXPECT_EQ(l["slots"], kTokens * 4);
    for (int e = 0; e < 16; ++e) EXPECT_NEAR(l["share"][static_cast<size_t>(e)].get<double>(), count[static_cast<size_t>(e)] / (kTokens * 4), 1e-12);
  }
  // One layer only, and a dense layer is refused by name.
  const test::RunResult one = run_mlascope(f, {"inspect", "experts", std::to_string(f.id), "--layer", "3", "--json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(json::parse(one.out)["layers"].size(), 1u);
  const test::RunResult dense = run_mlascope(f, {"inspect", "experts", std::to_string(f.id), "--layer", "0"});
  EXPECT_EQ(dense.exit_code, 1);
  EXPECT_NE(dense.err.find("layer 0"), std::string::npos) << dense.err;
}

TEST(CmdInspect, RoutingOfATokenMatchesTheRecord) {
  const Fixture f = make_session();
  const int pos = 13;
  const test::RunResult r = run_mlascope(f, {"inspect", "routing", std::to_string(f.id), "--pos", std::to_string(pos), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["position"], pos);
  EXPECT_EQ(j["id"], f.steps[pos].id);
  ASSERT_EQ(j["layers"].size(), 5u);
  for (int m = 0; m < 5; ++m) {
    const RouteRow& row = f.steps[pos].routes[static_cast<size_t>(m)];
    for (int i = 0; i < row.k; ++i) {
      EXPECT_EQ(j["layers"][static_cast<size_t>(m)]["experts"][static_cast<size_t>(i)], row.expert[static_cast<size_t>(i)]);
      EXPECT_NEAR(j["layers"][static_cast<size_t>(m)]["weights"][static_cast<size_t>(i)].get<double>(), row.weight[static_cast<size_t>(i)], 1e-6);
    }
  }
  // Without --pos: every token.
  const test::RunResult all = run_mlascope(f, {"inspect", "routing", std::to_string(f.id), "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(json::parse(all.out).size(), static_cast<size_t>(kTokens));
}

TEST(CmdInspect, AttentionTopKeysMatchTheRecord) {
  const Fixture f = make_session();
  const int pos = 20, head = 1;
  const test::RunResult r = run_mlascope(f, {"inspect", "attention", "last", "--layer", "2", "--head", std::to_string(head),
                                         "--pos", std::to_string(pos), "--top", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["top"].size(), 3u);
  const AttentionRow* a = nullptr;
  for (const AttentionRow& x : f.steps[pos].attention)
    if (x.layer == 2) a = &x;
  ASSERT_NE(a, nullptr);
  std::vector<std::pair<float, int>> keys;
  for (int k = 0; k < a->n_keys; ++k) keys.push_back({a->probs[static_cast<size_t>(head * a->n_keys + k)], k});
  std::sort(keys.begin(), keys.end(), [](auto x, auto y) { return x.first > y.first; });
  // Sessions keep attention as fp16: compare probabilities to fp16 precision, positions exactly.
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(j["top"][i]["position"], keys[i].second);
    EXPECT_NEAR(j["top"][i]["prob"].get<double>(), keys[i].first, 1e-3);
  }
  const test::RunResult none = run_mlascope(f, {"inspect", "attention", std::to_string(f.id), "--layer", "3", "--pos", "5"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("not captured"), std::string::npos) << none.out;
}

TEST(CmdReplay, DominantExpertsAndStepLines) {
  const Fixture f = make_session();
  const test::RunResult r = run_mlascope(f, {"replay", std::to_string(f.id), "--layer", "4", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["tokens"].size(), static_cast<size_t>(kTokens));
  for (int p = 0; p < kTokens; ++p) {
    EXPECT_EQ(j["tokens"][static_cast<size_t>(p)]["dominant_expert"], dominant(f.steps[static_cast<size_t>(p)].routes[3])) << p;
    EXPECT_EQ(j["tokens"][static_cast<size_t>(p)]["text"], f.steps[static_cast<size_t>(p)].text);
  }
  // Piped: no colours; one line per message with the role.
  const test::RunResult text = run_mlascope(f, {"replay", std::to_string(f.id)});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos);
  EXPECT_NE(text.out.find("session " + std::to_string(f.id) + ": synthetic"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("user: " + f.steps[0].text + f.steps[1].text), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("assistant: " + f.steps[8].text), std::string::npos) << text.out;
  // --step: a header, a column line, then one line per token with its layer-1 experts.
  const test::RunResult step = run_mlascope(f, {"replay", std::to_string(f.id), "--step"});
  ASSERT_EQ(step.exit_code, 0) << step.err;
  EXPECT_EQ(std::count(step.out.begin(), step.out.end(), '\n'), kTokens + 2) << step.out;
  const RouteRow& r5 = f.steps[5].routes[0];
  std::string l1 = "L1:";
  for (int i = 0; i < r5.k; ++i) l1 += (i ? "," : "") + std::to_string(r5.expert[static_cast<size_t>(i)]);
  EXPECT_NE(step.out.find(l1 + " "), std::string::npos) << step.out;
}

TEST(CmdInspect, BadSessionsAreOneLineErrors) {
  const Fixture f = make_session();
  {
    const test::RunResult r = run_mlascope(f, {"inspect", "routing", "999"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("999"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("sessions.db"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  {
    const test::RunResult r = run_mlascope(f, {"replay", "abc"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("abc"), std::string::npos) << r.err;
  }
  {
    const auto junk = f.dir / "junk.db";
    std::ofstream(junk) << "this is not a database at all, just text that goes on for a while........";
    const test::RunResult r = test::run_command({test::mlascope_binary().string(), "replay", "1", "--session-db", junk.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("junk.db"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  {
    const test::RunResult r = run_mlascope(f, {"inspect", "routing", std::to_string(f.id), "--pos", "500"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("500"), std::string::npos) << r.err;
  }
}
