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

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

// What the engine produced for one run, by golden tensor name.
struct Produced {
  std::map<std::string, RecordedTensor> t;
};

std::shared_ptr<Model> model_for(const fs::path& dir) {
  static std::map<std::string, std::shared_ptr<Model>> cache;
  auto& m = cache[dir.string()];
  if (!m) m = Model::load(dir);
  return m;
}

Produced run_engine(const Model& model, MlaMode mode, bool prefill, const std::vector<int32_t>& prompt, int n_greedy) {
  const ModelConfig& c = model.config();
  BackendOptions o;
  o.device = DeviceKind::Cpu;
  o.n_threads = 2;
  o.mla = mode;
  o.max_context = static_cast<int>(prompt.size()) + n_greedy + 1;
  auto backend = make_cpu_backend(model, o);
  const int T = static_cast<int>(prompt.size());
  ActivationRecorder rec(c, T);
  std::vector<float> logits;
  ForwardRequest req;
  req.trace = &rec;
  req.all_logits = true;
  if (prefill) {
    req.tokens = prompt;
    EXPECT_EQ(backend->forward(req, logits), StepStatus::Ok);
  } else {
    for (int p = 0; p < T; ++p) {
      req.tokens = std::span<const int32_t>(&prompt[static_cast<size_t>(p)], 1);
      req.start_pos = p;
      EXPECT_EQ(backend->forward(req, logits), StepStatus::Ok);
    }
  }
  EXPECT_EQ(backend->n_cached(), T);
  const size_t V = static_cast<size_t>(c.vocab_size);
  std::vector<float> last(logits.end() - static_cast<std::ptrdiff_t>(V), logits.end());
  RecordedTensor gid, glog;
  gid.is_i32 = true;
  gid.shape = {n_greedy};
  glog.shape = {n_greedy, c.vocab_size};
  req.all_logits = false;  // the recorder ignores positions >= T; the decode path is what runs here
  for (int i = 0; i < n_greedy; ++i) {
    const int32_t id = static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    gid.i32.push_back(id);
    glog.f32.insert(glog.f32.end(), last.begin(), last.end());
    if (i + 1 == n_greedy) break;
    req.tokens = std::span<const int32_t>(&gid.i32.back(), 1);
    req.start_pos = T + i;
    EXPECT_EQ(backend->forward(req, last), StepStatus::Ok);
  }
  Produced out;
  for (const std::string& name : rec.names()) out.t[name] = *rec.find(name);
  out.t["greedy_ids"] = std::move(gid);
  out.t["greedy_logits"] = std::move(glog);
  return out;
}

std::string where_of(const std::vector<int64_t>& shape, size_t flat) {
  std::ostringstream s;
  if (shape.size() == 3) {  // attn [head, query position, key position]
    const size_t k = flat % static_cast<size_t>(shape[2]);
    const size_t q = flat / static_cast<size_t>(shape[2]) % static_cast<size_t>(shape[1]);
    const size_t h = flat / static_cast<size_t>(shape[2] * shape[1]);
    s << "head " << h << ", position " << q << ", key " << k;
  } else if (shape.size() == 2) {
    s << "position " << flat / static_cast<size_t>(shape[1]) << ", index " << flat % static_cast<size_t>(shape[1]);
  } else {
    s << "position " << flat;
  }
  return s.str();
}

// First divergence of one tensor, or nothing when it is within tolerance.
std::optional<std::string> compare(const std::string& name, const RecordedTensor& got, const test::GoldenTensor& want,
                                   double tol) {
  if (got.shape != want.shape) {
    std::ostringstream s;
    s << name << ": shape differs";
    return s.str();
  }
  for (size_t i = 0; i < want.data.size(); ++i) {
    const double g = got.is_i32 ? got.i32[i] : got.f32[i];
    const double d = std::fabs(g - static_cast<double>(want.data[i]));
    if (!(d <= tol)) {
      std::ostringstream s;
      s << name << " at " << where_of(want.shape, i) << ": got " << g << ", golden " << want.data[i] << ", |diff| " << d
        << " > " << tol;
      return s.str();
    }
  }
  return std::nullopt;
}

// route_idx as sets per position, route_w matched by expert id.
std::optional<std::string> compare_routes(int layer, const Produced& p, const test::Golden& g) {
  const std::string L = std::to_string(layer);
  const auto& gi = g.tensor("route_idx." + L);
  const auto& gw = g.tensor("route_w." + L);
  const RecordedTensor& pi = p.t.at("route_idx." + L);
  const RecordedTensor& pw = p.t.at("route_w." + L);
  const double tol = g.tolerance("route_w." + L);
  const int64_t T = gi.dim(0), k = gi.dim(1);
  for (int64_t t = 0; t < T; ++t) {
    std::map<int32_t, float> want, got;
    for (int64_t i = 0; i < k; ++i) {
      want[gi.ints[static_cast<size_t>(t * k + i)]] = gw.data[static_cast<size_t>(t * k + i)];
      got[pi.i32[static_cast<size_t>(t * k + i)]] = pw.f32[static_cast<size_t>(t * k + i)];
    }
    std::ostringstream s;
    for (const auto& [e, w] : want) {
      auto it = got.find(e);
      if (it == got.end()) {
        s << "route_idx." << L << " at position " << t << ": golden expert " << e << " not chosen (got {";
        for (const auto& [ge, gw2] : got) s << ge << " ";
        s << "})";
        return s.str();
      }
      if (!(std::fabs(it->second - w) <= tol)) {
        s << "route_w." << L << " at position " << t << ", expert " << e << ": got " << it->second << ", golden " << w
          << " > tol " << tol;
        return s.str();
      }
    }
  }
  return std::nullopt;
}

// Every check in forward order; returns the first failure and how many tensors failed in all.
std::vector<std::string> check_all(const Produced& p, const test::Golden& g, const ModelConfig& c) {
  std::vector<std::string> fails;
  auto check = [&](const std::string& name) {
    if (auto f = compare(name, p.t.at(name), g.tensor(name), g.tolerance(name))) fails.push_back(*f);
  };
  check("embed");
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string L = std::to_string(l);
    check("kv_latent." + L);
    check("k_rope." + L);
    check("attn." + L);
    if (c.is_moe_layer(l)) {
      check("router_probs." + L);
      if (auto f = compare_routes(l, p, g)) fails.push_back(*f);
    }
    check("hidden." + L);
  }
  check("final_norm");
  check("logits");
  if (auto f = compare("greedy_ids", p.t.at("greedy_ids"), g.tensor("greedy_ids"), 0.0)) fails.push_back(*f);
  check("greedy_logits");
  return fails;
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
  const auto model = model_for(gp.case_dir);
  const std::vector<int32_t> prompt = g.prompt_ids();
  const int n_greedy = static_cast<int>(g.tensor("greedy_ids").numel());
  const Produced p = run_engine(*model, gp.mode, gp.prefill, prompt, n_greedy);
  const std::vector<std::string> fails = check_all(p, g, model->config());
  if (!fails.empty()) {
    std::ostringstream s;
    s << "first divergence: " << fails.front() << " (" << fails.size() << " tensors out of tolerance in all)";
    for (size_t i = 1; i < fails.size() && i < 6; ++i) s << "\n  then: " << fails[i];
    FAIL() << s.str();
  }
}

INSTANTIATE_TEST_SUITE_P(AllCases, GoldenCase, ::testing::ValuesIn(all_params()), param_name);

TEST(GoldenRouting, DecisionMarginsMatchReference) {
  // route_margin.L is the reference's smallest deciding gap (group cut and expert cut); ours is
  // computed from float32 scores that differ by up to 1e-4 * scale, so the margins agree to that.
  for (const fs::path& d : test::golden_case_dirs()) {
    const test::Golden g(d);
    const auto model = model_for(d);
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
