// tests/engine/test_golden_fp8.cpp — the forward pass over DeepSeek-V3-style FP8 weights (E4M3 with
// 128x128 block scales). The FP8 checkpoint is built from a golden case; an F32 twin holding the
// same values, decoded here by the test's own E4M3 decoder, must give the same activations (so
// scales and blocks are applied exactly), and the logits must stay near the BF16 golden ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/weights/safetensors.h"
#include "support/data_paths.h"
#include "support/fp8_checkpoint.h"
#include "support/golden.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

// dst/model.safetensors with every F8_E4M3 tensor replaced by its F32 value and the scales dropped.
void write_f32_twin(const fs::path& fp8_dir, const fs::path& dst) {
  fs::create_directories(dst);
  fs::copy_file(fp8_dir / "config.json", dst / "config.json");
  const SafetensorsFile f = read_safetensors(fp8_dir / "model.safetensors");
  std::map<std::string, const TensorView*> by_name;
  for (const TensorView& t : f.tensors) by_name[t.name] = &t;
  std::vector<std::vector<float>> keep;
  std::vector<TensorView> out;
  for (const TensorView& t : f.tensors) {
    if (t.name.size() > 10 && t.name.ends_with("_scale_inv")) continue;
    if (t.dtype != DType::F8_E4M3) {
      out.push_back(t);
      continue;
    }
    const TensorView& s = *by_name.at(t.name + "_scale_inv");
    const auto* scales = static_cast<const float*>(s.data);
    const auto* codes = static_cast<const uint8_t*>(t.data);
    const int64_t rows = t.shape[0], cols = t.shape[1], scols = s.shape[1];
    std::vector<float> v(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        v[static_cast<size_t>(r * cols + c)] =
            test::e4m3_value(codes[r * cols + c]) * scales[(r / test::kFp8Block) * scols + c / test::kFp8Block];
    keep.push_back(std::move(v));
    out.push_back(f32_view(t.name, t.shape, keep.back().data()));
  }
  write_safetensors(dst / "model.safetensors", out);
}

std::vector<float> prompt_logits(const Model& m, const std::vector<int32_t>& ids, MlaMode mode) {
  BackendOptions o;
  o.device = DeviceKind::Cpu;
  o.n_threads = 2;
  o.mla = mode;
  o.max_context = static_cast<int>(ids.size());
  auto be = make_cpu_backend(m, o);
  ForwardRequest r;
  r.tokens = ids;
  r.all_logits = true;
  std::vector<float> logits;
  EXPECT_EQ(be->forward(r, logits), StepStatus::Ok);
  return logits;
}

}  // namespace

class Fp8Forward : public ::testing::TestWithParam<const char*> {};

TEST_P(Fp8Forward, EqualsItsF32TwinAndStaysNearGolden) {
  const fs::path src = GetParam()[0] == 'm' ? test::asset_path(GetParam()) : test::data_path(GetParam());
  const fs::path tmp = test::temp_dir("fp8-forward");
  ASSERT_GT(test::make_fp8_checkpoint(src, tmp / "fp8").size(), 10u);
  write_f32_twin(tmp / "fp8", tmp / "f32");
  const test::Golden g(src);
  const auto ids = g.prompt_ids();
  const auto fp8 = Model::load(tmp / "fp8");
  const auto twin = Model::load(tmp / "f32");
  ASSERT_EQ(fp8->layer(1).o_proj->dtype, DType::F8_E4M3);
  for (MlaMode mode : {MlaMode::Naive, MlaMode::Absorbed}) {
    const auto a = prompt_logits(*fp8, ids, mode);
    const auto b = prompt_logits(*twin, ids, mode);
    ASSERT_EQ(a.size(), b.size());
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
    EXPECT_LT(d, 1e-4) << to_string(mode);

    // FP8 weights (~3% RMS weight error) move the logits, but not far: compare with the BF16 golden
    const auto& want = g.tensor("logits");
    double err2 = 0, ref2 = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      err2 += (double(a[i]) - want.data[i]) * (double(a[i]) - want.data[i]);
      ref2 += double(want.data[i]) * want.data[i];
    }
    // random weights (the tiny cases) amplify weight noise far more than a trained model does
    const double bound = src.filename() == "mla-moe-demo" ? 0.1 : 0.5;
    EXPECT_LT(std::sqrt(err2 / ref2), bound) << to_string(mode);
    EXPECT_GT(std::sqrt(err2 / ref2), 1e-4) << "the weights were not quantized";
  }
  fs::remove_all(tmp);
}

INSTANTIATE_TEST_SUITE_P(Cases, Fp8Forward, ::testing::Values("golden/v3-tiny", "models/mla-moe-demo"),
                         [](const auto& p) { return std::string(p.param[0] == 'm' ? "demo" : "v3_tiny"); });
