// tests/engine/test_gguf_golden.cpp — golden cases converted to GGUF and run through the CPU engine:
// F32 must reproduce golden.safetensors within the golden tolerances (logits, routing sets, greedy
// ids); F16 must keep every routing decision and greedy id; Q8_0 and Q4_K are reported (agreement
// printed), with only a sanity floor asserted, as the issue asks.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/backend/backend.h"
#include "engine/config.h"
#include "engine/model/model.h"
#include "engine/weights/gguf_export.h"
#include "engine/weights/mapped_file.h"
#include "engine/weights/quant.h"
#include "engine/weights/weight_store.h"
#include "support/data_paths.h"
#include "support/golden_compare.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

// golden.safetensors read directly (F32 / I32 only), independent of the engine's loaders.
struct Golden {
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<uint8_t>>> t;
  std::vector<float> f32(const std::string& n) const {
    const auto& b = t.at(n).second;
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), b.size());
    return v;
  }
  std::vector<int32_t> i32(const std::string& n) const {
    const auto& b = t.at(n).second;
    std::vector<int32_t> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), b.size());
    return v;
  }
  bool has(const std::string& n) const { return t.count(n) > 0; }
};

Golden read_golden(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<uint8_t> all((std::istreambuf_iterator<char>(f)), {});
  uint64_t n = 0;
  std::memcpy(&n, all.data(), 8);
  const auto h = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(all.data() + 8), n));
  Golden g;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const auto off = it.value()["data_offsets"];
    const size_t b = 8 + n + off[0].get<size_t>(), e = 8 + n + off[1].get<size_t>();
    g.t[it.key()] = {it.value()["shape"].get<std::vector<int64_t>>(), {all.begin() + b, all.begin() + e}};
  }
  return g;
}

struct RouteCapture : TraceSink {
  std::map<std::pair<int, int>, std::set<int>> routes;  // (layer, position) → experts
  RouteCapture() { points = uint32_t(TracePoint::Route); }
  void on_route(const RouteRecord& r) override {
    routes[{r.layer, r.position}] = std::set<int>(r.expert, r.expert + r.k);
  }
};

struct Outcome {
  float max_logit_diff = 0;
  int routes = 0, routes_same = 0;
  int greedy = 0, greedy_same = 0;
};

Outcome run_case(const fs::path& dir, DType type) {
  const ModelConfig cfg = ModelConfig::from_file(dir / "config.json");
  const WeightStore hf = WeightStore::open(dir);
  const fs::path tmp = test::temp_dir("gguf-golden");
  GgufExportOptions o;
  o.type = type;
  export_gguf(hf, cfg, tmp / "m.gguf", o);
  const auto model = Model::load(tmp / "m.gguf");
  BackendOptions bo;
  bo.device = DeviceKind::Cpu;
  bo.n_threads = 2;
  auto backend = make_cpu_backend(*model, bo);

  const Golden g = read_golden(dir / "golden.safetensors");
  const std::vector<int32_t> prompt = g.i32("prompt_ids"), greedy = g.i32("greedy_ids");
  const std::vector<float> logits_ref = g.f32("logits");
  const int V = cfg.vocab_size, T = static_cast<int>(prompt.size());
  RouteCapture cap;
  std::vector<float> logits;
  ForwardRequest req;
  req.tokens = prompt;
  req.all_logits = true;
  req.trace = &cap;
  EXPECT_EQ(backend->forward(req, logits), StepStatus::Ok);
  Outcome out;
  for (size_t i = 0; i < logits.size() && i < logits_ref.size(); ++i)
    out.max_logit_diff = std::max(out.max_logit_diff, std::fabs(logits[i] - logits_ref[i]));
  for (int l = 0; l < cfg.num_hidden_layers; ++l) {
    if (!g.has("route_idx." + std::to_string(l))) continue;
    const std::vector<int32_t> idx = g.i32("route_idx." + std::to_string(l));
    const int k = cfg.num_experts_per_tok;
    for (int p = 0; p < T; ++p) {
      ++out.routes;
      const std::set<int> want(idx.begin() + p * k, idx.begin() + (p + 1) * k);
      out.routes_same += cap.routes[{l, p}] == want;
    }
  }
  // Greedy: argmax of the last logits, then feed the golden id (teacher forcing, so one early miss
  // does not hide how the rest agree).
  std::vector<float> last(logits.end() - V, logits.end());
  for (size_t i = 0; i < greedy.size(); ++i) {
    const int id = static_cast<int>(std::max_element(last.begin(), last.end()) - last.begin());
    ++out.greedy;
    out.greedy_same += id == greedy[i];
    const int32_t next = greedy[i];
    ForwardRequest step;
    step.tokens = std::span<const int32_t>(&next, 1);
    step.start_pos = T + static_cast<int>(i);
    EXPECT_EQ(backend->forward(step, last), StepStatus::Ok);
  }
  fs::remove_all(tmp);
  return out;
}

std::vector<fs::path> cases() {
  return {test::data_path("golden/v2-lite-tiny"), test::data_path("golden/v2-grouped-yarn"),
          test::data_path("golden/v3-tiny"), test::asset_path("models/mla-moe-demo")};
}

}  // namespace

TEST(GgufGolden, F32ReproducesGolden) {
  for (const fs::path& dir : cases()) {
    SCOPED_TRACE(dir.string());
    const ModelConfig cfg = ModelConfig::from_file(dir / "config.json");
    const Outcome o = run_case(dir, DType::F32);
    const float tol = cfg.torch_dtype == "float32" ? 1e-3f : 2e-3f;
    EXPECT_LE(o.max_logit_diff, tol);
    EXPECT_EQ(o.routes_same, o.routes);
    EXPECT_EQ(o.greedy_same, o.greedy);
  }
}

TEST(GgufGolden, F16KeepsRoutingAndGreedyIds) {
  for (const fs::path& dir : cases()) {
    SCOPED_TRACE(dir.string());
    const Outcome o = run_case(dir, DType::F16);
    std::printf("F16  %-40s max |logit diff| %.4f  routes %d/%d  greedy %d/%d\n", dir.filename().c_str(),
                o.max_logit_diff, o.routes_same, o.routes, o.greedy_same, o.greedy);
    EXPECT_EQ(o.routes_same, o.routes);
    EXPECT_EQ(o.greedy_same, o.greedy);
  }
}

TEST(GgufGolden, QuantizedAgreementIsReported) {
  for (DType t : {DType::Q8_0, DType::Q4_K}) {
    for (const fs::path& dir : cases()) {
      const Outcome o = run_case(dir, t);
      std::printf("%-4s %-40s max |logit diff| %.4f  routes %d/%d  greedy %d/%d\n", to_string(t),
                  dir.filename().c_str(), o.max_logit_diff, o.routes_same, o.routes, o.greedy_same, o.greedy);
      // A sanity floor only: a broken kernel or layout lands near chance (k/E of routes).
      if (t == DType::Q8_0) {
        EXPECT_GE(o.routes_same * 2, o.routes) << dir;
      }
    }
  }
}

// Q4_K, Q5_0, Q8_0 and Q6_K read into memory are reordered for the CPU kernels (DType::*_R); mapped,
// they are used as the file has them. The integers are the same, summed in another order: outputs differ by float
// rounding (~1e-6), which now and then moves an activation's int8 rounding and then the logits of
// that position by up to ~0.1 (measured on the demo model: 0.05-0.08), well inside the Q4_K error
// against the fp32 reference (mean 0.12, max 1.5). So both runs are held to the reference: the
// same closeness to it, the same greedy choices at nearly every position. (The kernels themselves
// are checked value by value in test_matvec_quant.)
TEST(GgufGolden, ReorderedInMemoryIsAsCloseToTheReferenceAsTheFileLayout) {
  for (const DType type : {DType::Q4_K, DType::Q5_0, DType::Q8_0, DType::Q6_K}) {
  SCOPED_TRACE(to_string(type));
  const fs::path dir = test::asset_path("models/mla-moe-demo");
  const WeightStore hf = WeightStore::open(dir);
  const fs::path tmp = test::temp_dir("gguf-q4k-layout");
  GgufExportOptions o;
  o.type = type;
  export_gguf(hf, ModelConfig::from_file(dir / "config.json"), tmp / "m.gguf", o);
  const Golden g = read_golden(dir / "golden.safetensors");
  const std::vector<int32_t> prompt = g.i32("prompt_ids");
  const std::vector<float> ref = g.f32("logits");
  const Residency saved = MappedFile::residency();
  double mean_diff[2] = {0, 0};
  int top1_same[2] = {0, 0}, reordered[2] = {0, 0}, q4k[2] = {0, 0}, positions = 0;
  for (int resident = 0; resident < 2; ++resident) {
    MappedFile::set_residency(resident ? Residency::Resident : Residency::Map);
    const auto model = Model::load(tmp / "m.gguf");
    MappedFile::set_residency(saved);
    for (const std::string& n : model->weights().names()) {
      const DType t = model->weights().get(n).dtype;
      reordered[resident] += t == cpu_layout_of(type);
      q4k[resident] += t == type;
    }
    std::vector<float> logits;
    EXPECT_EQ(test::cpu_prompt_logits(*model, prompt, logits, 2), StepStatus::Ok);
    ASSERT_EQ(logits.size(), ref.size());
    const size_t V = static_cast<size_t>(model->config().vocab_size);
    positions = static_cast<int>(ref.size() / V);
    for (size_t i = 0; i < ref.size(); ++i) mean_diff[resident] += std::fabs(logits[i] - ref[i]) / static_cast<double>(ref.size());
    for (size_t p = 0; p < ref.size() / V; ++p) {
      const auto argmax = [&](const std::vector<float>& v) { return std::max_element(v.begin() + p * V, v.begin() + (p + 1) * V) - v.begin(); };
      top1_same[resident] += argmax(logits) == argmax(ref);
    }
  }
  EXPECT_EQ(reordered[0], 0);
  EXPECT_GT(q4k[0], 0);
  EXPECT_EQ(reordered[1], q4k[0]) << "every such tensor of the resident file is reordered";
  EXPECT_EQ(q4k[1], 0);
  std::printf("%s vs fp32 reference, mean |logit diff|: file layout %.4f, reordered %.4f; top-1 %d / %d of %d\n",
              to_string(type), mean_diff[0], mean_diff[1], top1_same[0], top1_same[1], positions);
  EXPECT_NEAR(mean_diff[1], mean_diff[0], 0.05 * mean_diff[0]);
  EXPECT_GE(top1_same[1], top1_same[0] - 1);
  fs::remove_all(tmp);
  }
}

// llama.cpp's split attn_k_b / attn_v_b in a block type: absorbed attention reads them as stored
// (products with their rows, x quantized to int8 as for every block-type product), naive attention
// their F32 copy as kv_b_proj. Both forms must stay as close to the fp32 reference as each other,
// prefill and decode, with the same greedy choices.
TEST(GgufGolden, SplitKvBHalvesReadAsStoredMatchTheirF32Copy) {
  const fs::path dir = test::asset_path("models/mla-moe-demo");
  const ModelConfig cfg = ModelConfig::from_file(dir / "config.json");
  const WeightStore hf = WeightStore::open(dir);
  const fs::path tmp = test::temp_dir("gguf-split-kvb");
  GgufExportOptions o;
  o.type = DType::Q8_0;
  export_gguf(hf, cfg, tmp / "m.gguf", o);
  const auto model = Model::load(tmp / "m.gguf");
  ASSERT_TRUE(model->layer(0).k_b_proj && model->layer(0).v_b_proj) << "the export writes the split halves";
  EXPECT_TRUE(dtype_is_quantized(model->layer(0).k_b_proj->dtype));
  EXPECT_EQ(model->layer(0).kv_b_proj->dtype, DType::F32);
  const Golden g = read_golden(dir / "golden.safetensors");
  const std::vector<int32_t> prompt = g.i32("prompt_ids"), greedy = g.i32("greedy_ids");
  const std::vector<float> ref = g.f32("logits");
  const size_t V = static_cast<size_t>(cfg.vocab_size);
  double mean_diff[2] = {0, 0};
  std::vector<int> picks[2];
  for (int absorbed = 0; absorbed < 2; ++absorbed) {
    BackendOptions bo;
    bo.device = DeviceKind::Cpu;
    bo.n_threads = 2;
    bo.mla = absorbed ? MlaMode::Absorbed : MlaMode::Naive;
    auto backend = make_cpu_backend(*model, bo);
    std::vector<float> logits;
    ForwardRequest req;
    req.tokens = prompt;
    req.all_logits = true;
    ASSERT_EQ(backend->forward(req, logits), StepStatus::Ok);
    ASSERT_EQ(logits.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) mean_diff[absorbed] += std::fabs(logits[i] - ref[i]) / static_cast<double>(ref.size());
    std::vector<float> last(logits.end() - static_cast<std::ptrdiff_t>(V), logits.end());
    for (size_t i = 0; i < greedy.size(); ++i) {  // teacher-forced decode on the golden ids
      picks[absorbed].push_back(static_cast<int>(std::max_element(last.begin(), last.end()) - last.begin()));
      const int32_t next = greedy[i];
      ForwardRequest step;
      step.tokens = std::span<const int32_t>(&next, 1);
      step.start_pos = static_cast<int>(prompt.size() + i);
      ASSERT_EQ(backend->forward(step, last), StepStatus::Ok);
    }
  }
  std::printf("Q8_0 split k_b/v_b vs fp32 reference, mean |logit diff|: naive (F32 copy) %.4f, absorbed (as stored) %.4f\n",
              mean_diff[0], mean_diff[1]);
  // One routing decision that flips at one position moves the mean by ~0.015 here (measured: naive
  // 0.031, absorbed 0.016), so the bound is loose; a wrong layout or transpose lands near 1.
  EXPECT_LT(mean_diff[1], 2 * mean_diff[0] + 0.02);
  EXPECT_LT(mean_diff[0], 2 * mean_diff[1] + 0.02);
  EXPECT_EQ(picks[1], picks[0]);
  EXPECT_EQ(picks[1], greedy);
  fs::remove_all(tmp);
}
