// tests/engine/test_golden.cpp — the CPU engine against the official reference's activations:
// every golden case (tests/data/golden/* and the demo model), both MLA forms, both through one
// batched prefill and token by token: embed, per layer kv_latent/k_rope/attn/router_probs/routes/
// hidden, final_norm, logits, greedy ids and logits, within case.json's tolerances. A failure names
// the first tensor (in forward order), layer and position that diverges. Also `mlascope eval --dump`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/trace/activation_recorder.h"
#include "engine/weights/safetensors.h"
#include "support/data_paths.h"
#include "support/golden.h"
#include "support/golden_compare.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

using test::check_all;
using test::compare;
using test::describe_failures;
using test::Produced;
using test::where_of;

Produced run_engine(const Model& model, MlaMode mode, bool prefill, const std::vector<int32_t>& prompt, int n_greedy) {
  BackendOptions o;
  o.device = DeviceKind::Cpu;
  o.n_threads = 2;
  o.mla = mode;
  o.max_context = static_cast<int>(prompt.size()) + n_greedy + 1;
  auto backend = make_cpu_backend(model, o);
  return test::run_golden(*backend, model.config(), prefill, prompt, n_greedy);
}

struct GoldenParam {
  std::string case_dir;
  MlaMode mode;
  bool prefill;
};

std::string param_name(const ::testing::TestParamInfo<GoldenParam>& info) {
  std::string n = fs::path(info.param.case_dir).filename().string();
  std::replace(n.begin(), n.end(), '-', '_');
  return n + "_" + to_string(info.param.mode) + (info.param.prefill ? "_prefill" : "_decode");
}

std::vector<GoldenParam> all_params() {
  std::vector<GoldenParam> out;
  for (const fs::path& d : test::golden_case_dirs())
    for (MlaMode m : {MlaMode::Naive, MlaMode::Absorbed})
      for (bool prefill : {true, false}) out.push_back({d.string(), m, prefill});
  return out;
}

}  // namespace

class GoldenCase : public ::testing::TestWithParam<GoldenParam> {};

TEST_P(GoldenCase, MatchesReferenceActivations) {
  const GoldenParam& gp = GetParam();
  const test::Golden g(gp.case_dir);
  const auto model = test::golden_model(gp.case_dir);
  const std::vector<int32_t> prompt = g.prompt_ids();
  const int n_greedy = static_cast<int>(g.tensor("greedy_ids").numel());
  const Produced p = run_engine(*model, gp.mode, gp.prefill, prompt, n_greedy);
  const std::vector<std::string> fails = check_all(p, g, model->config());
  if (!fails.empty()) FAIL() << describe_failures(fails);
}

INSTANTIATE_TEST_SUITE_P(AllCases, GoldenCase, ::testing::ValuesIn(all_params()), param_name);

TEST(GoldenRouting, DecisionMarginsMatchReference) {
  // route_margin.L is the reference's smallest deciding gap (group cut and expert cut); ours is
  // computed from float32 scores that differ by up to 1e-4 * scale, so the margins agree to that.
  for (const fs::path& d : test::golden_case_dirs()) {
    const test::Golden g(d);
    const auto model = test::golden_model(d);
    const Produced p = run_engine(*model, MlaMode::Absorbed, true, g.prompt_ids(), 1);
    for (int l = 0; l < model->config().num_hidden_layers; ++l) {
      if (!model->config().is_moe_layer(l)) continue;
      const std::string name = "route_margin." + std::to_string(l);
      const double tol = 2e-4 * std::max(1.0, model->config().routed_scaling_factor);
      if (auto f = compare(name, p.t.at(name), g.tensor(name), tol)) ADD_FAILURE() << d.filename() << ": " << *f;
    }
  }
}

TEST(GoldenEval, DumpFromTheCommandLineMatchesGolden) {
  // The real executable, as a researcher runs it: both MLA forms on the grouped case, prefill and decode.
  const fs::path dir = test::data_path("golden/v2-grouped-yarn");
  const test::Golden g(dir);
  std::string ids;
  for (int32_t id : g.prompt_ids()) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  const int n_greedy = static_cast<int>(g.tensor("greedy_ids").numel());
  for (const char* mla : {"naive", "absorbed"}) {
    for (const char* extra : {"", " --decode"}) {
      const fs::path out_dir = test::temp_dir("eval-dump");
      const fs::path out = out_dir / "golden.safetensors";
      const std::string cmd = "\"" + test::mlascope_binary().string() + "\" eval --model \"" + dir.string() +
                              "\" --device cpu --threads 2 --mla " + mla + extra + " --prompt-ids " + ids +
                              " --greedy " + std::to_string(n_greedy) + " --dump \"" + out.string() + "\" > \"" +
                              (out_dir / "log.txt").string() + "\" 2>&1";
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
      // Read the dump through the same golden reader: names, shapes and dtypes must be the golden ones.
      fs::copy_file(dir / "case.json", out_dir / "case.json");
      const test::Golden dump(out_dir);
      EXPECT_EQ(dump.prompt_ids(), g.prompt_ids());
      for (const std::string& name : g.names()) {
        ASSERT_TRUE(dump.has(name)) << "eval --dump lacks " << name;
        const auto& want = g.tensor(name);
        const auto& got = dump.tensor(name);
        ASSERT_EQ(got.shape, want.shape) << name;
        if (name.rfind("route_idx.", 0) == 0 || name.rfind("route_margin.", 0) == 0 || name == "prompt_ids") continue;
        const double tol = name == "greedy_ids" ? 0.0 : g.tolerance(name);
        for (size_t i = 0; i < want.data.size(); ++i)
          ASSERT_LE(std::fabs(got.data[i] - want.data[i]), tol) << mla << extra << ": " << name << " at " << where_of(want.shape, i);
      }
      fs::remove_all(out_dir);
    }
  }
}

TEST(GoldenEval, BadPromptIdsGiveOneLineErrorNamingTheOption) {
  const fs::path out_dir = test::temp_dir("eval-bad");
  const std::string base = "\"" + test::mlascope_binary().string() + "\" eval --model \"" +
                           test::data_path("golden/v2-lite-tiny").string() + "\" --device cpu --dump \"" +
                           (out_dir / "x.safetensors").string() + "\" --prompt-ids ";
  for (const std::string& bad : {std::string("1,2,99999"), std::string("1,x,3")}) {
    const fs::path log = out_dir / "log.txt";
    const int rc = std::system((base + bad + " > \"" + log.string() + "\" 2>&1").c_str());
    EXPECT_NE(rc, 0) << bad;
    std::ifstream f(log);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // one line (the loader's model summary may precede it on stderr)
    const size_t at = text.find("mlascope: [eval] --prompt-ids: ");
    ASSERT_NE(at, std::string::npos) << text;
    EXPECT_EQ(text.find('\n', at), text.size() - 1) << text;
    EXPECT_FALSE(fs::exists(out_dir / "x.safetensors"));
  }
  fs::remove_all(out_dir);
}

// The pool splits a prompt's products by rows and its attention by heads, and a row's or a head's
// arithmetic does not depend on the split: the logits of every position must be the very same
// floats on one, two and three threads (a sum whose order followed the threads would show here).
TEST(GoldenThreads, PromptLogitsAreTheSameOnOneTwoAndThreeThreads) {
  const auto model = test::golden_model(test::asset_path("models/mla-moe-demo").string());
  std::vector<int32_t> prompt(40);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 977 + 13) % model->config().vocab_size);
  std::vector<std::vector<float>> logits;
  for (const int threads : {1, 2, 3}) {
    std::vector<float> out;
    ASSERT_EQ(test::cpu_prompt_logits(*model, prompt, out, threads), StepStatus::Ok);
    ASSERT_EQ(out.size(), prompt.size() * static_cast<size_t>(model->config().vocab_size));
    logits.push_back(std::move(out));
  }
  for (size_t i = 1; i < logits.size(); ++i) {
    size_t differ = 0;
    for (size_t k = 0; k < logits[0].size(); ++k) differ += logits[i][k] != logits[0][k];
    EXPECT_EQ(differ, 0u) << (i + 1) << " threads: logits that differ from one thread's";
  }
}
