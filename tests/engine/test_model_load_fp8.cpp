// tests/engine/test_model_load_fp8.cpp — an FP8 checkpoint (built here from a golden case: every
// attention and FFN/expert linear weight as E4M3 with 128x128 block scales, as DeepSeek-V3 ships)
// run through the CPU engine.
//  * Exactness: the FP8 model's logits equal, to float32 noise, those of the same model written
//    back as F32 after dequantization (whose values test_model_load checks against E4M3 math), so
//    the engine's FP8 kernels apply every block scale where it belongs.
//  * Drift: on the trained demo model the FP8 logits stay close to the reference's fp32 logits of
//    the original weights. (The random golden models are left out here: their routing margins are
//    ~1e-4, so FP8's ~2.5% weight error flips experts and their logits move by design.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/weights/safetensors.h"
#include "engine/weights/weight_store.h"
#include "support/data_paths.h"
#include "support/temp_cleanup.h"
#include "support/fp8_checkpoint.h"
#include "support/golden.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {
const test::TempCleanup kTempCleanup;
}  // namespace

namespace {

std::vector<float> prompt_logits(const fs::path& dir, const std::vector<int32_t>& prompt, MlaMode mode) {
  ModelLoadOptions lo;
  lo.check_memory = false;
  std::shared_ptr<Model> m = Model::load(dir, lo);
  BackendOptions o;
  o.device = DeviceKind::Cpu;
  o.n_threads = 2;
  o.mla = mode;
  o.max_context = static_cast<int>(prompt.size());
  auto backend = make_cpu_backend(*m, o);
  ForwardRequest req;
  req.tokens = prompt;
  req.all_logits = true;
  std::vector<float> logits;
  EXPECT_EQ(backend->forward(req, logits), StepStatus::Ok);
  return logits;
}

// The FP8 checkpoint's weights, dequantized, as an F32 checkpoint in `dst`.
void write_dequantized(const fs::path& fp8_dir, const fs::path& dst) {
  fs::create_directories(dst);
  fs::copy_file(fp8_dir / "config.json", dst / "config.json", fs::copy_options::overwrite_existing);
  WeightStore ws = WeightStore::open(fp8_dir);
  std::vector<std::vector<float>> bufs;
  std::vector<TensorView> views;
  bufs.reserve(ws.names().size());
  for (const std::string& n : ws.names()) {
    if (n.size() > 10 && n.compare(n.size() - 10, 10, "_scale_inv") == 0) continue;
    const TensorView& t = ws.get(n);
    bufs.push_back(t.to_f32());
    views.push_back(f32_view(n, t.shape, bufs.back().data()));
  }
  write_safetensors(dst / "model.safetensors", views);
}

void check_exact(const fs::path& case_dir, MlaMode mode) {
  const fs::path tmp = test::temp_dir("fp8-exact");
  test::make_fp8_checkpoint(case_dir, tmp / "fp8");
  write_dequantized(tmp / "fp8", tmp / "f32");
  const std::vector<int32_t> prompt = test::Golden(case_dir).prompt_ids();
  const std::vector<float> a = prompt_logits(tmp / "fp8", prompt, mode);
  const std::vector<float> b = prompt_logits(tmp / "f32", prompt, mode);
  ASSERT_EQ(a.size(), b.size());
  double max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) max_abs = std::max(max_abs, double(std::fabs(a[i] - b[i])));
  EXPECT_LE(max_abs, 1e-3) << "FP8 kernels disagree with the dequantized weights";
  fs::remove_all(tmp);
}

}  // namespace

TEST(Fp8Forward, EqualsDequantizedF32OnV3Tiny) { check_exact(test::data_path("golden/v3-tiny"), MlaMode::Absorbed); }
TEST(Fp8Forward, EqualsDequantizedF32OnV2GroupedYarnNaive) {
  check_exact(test::data_path("golden/v2-grouped-yarn"), MlaMode::Naive);
}
TEST(Fp8Forward, EqualsDequantizedF32OnDemoModel) { check_exact(test::asset_path("models/mla-moe-demo"), MlaMode::Absorbed); }

TEST(Fp8Forward, DemoModelLogitsStayCloseToTheReference) {
  const fs::path demo = test::asset_path("models/mla-moe-demo");
  const fs::path tmp = test::temp_dir("fp8-drift");
  test::make_fp8_checkpoint(demo, tmp);
  test::Golden g(demo);
  const test::GoldenTensor& want = g.tensor("logits");
  for (MlaMode mode : {MlaMode::Absorbed, MlaMode::Naive}) {
    const std::vector<float> got = prompt_logits(tmp, g.prompt_ids(), mode);
    ASSERT_EQ(got.size(), want.data.size());
    const int64_t V = want.dim(1);
    double e2 = 0, r2 = 0;
    int agree = 0;
    for (int64_t p = 0; p < want.dim(0); ++p) {
      const float* x = got.data() + p * V;
      const float* r = want.row(p);
      for (int64_t i = 0; i < V; ++i) {
        e2 += double(x[i] - r[i]) * (x[i] - r[i]);
        r2 += double(r[i]) * r[i];
      }
      agree += std::max_element(x, x + V) - x == std::max_element(r, r + V) - r;
    }
    const double rel_rms = std::sqrt(e2 / r2);
    std::printf("fp8 demo %s: logits relative RMS error %.4f, top-1 kept at %d/%lld positions\n", to_string(mode), rel_rms,
                agree, static_cast<long long>(want.dim(0)));
    EXPECT_GT(rel_rms, 1e-4);  // the weights really changed
    EXPECT_LT(rel_rms, 0.05);  // measured 0.022
    EXPECT_GE(agree, want.dim(0) - 2);
  }
  fs::remove_all(tmp);
}
