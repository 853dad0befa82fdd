// tests/views/test_kv_figures.cpp — the KV figures against numbers worked by hand from the configs:
// MLA's latent cache as a share of the baselines (DeepSeek-V2 1.41 % of same-head MHA with the
// rope part of K, 1.76 % without it, V2-Lite 11.25 %, 5-13 % against MHA with ~17-45 heads of 128),
// the session figure and its dtype (one function for the status bar and the panel), the GQA
// slider's snapping, and the budget table's flag for contexts past the model's maximum.
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <imgui.h>
#include <imgui_internal.h>

#include "engine/config.h"
#include "support/data_paths.h"
#include "views/chart.h"
#include "views/kv_figures.h"
#include "views/synthetic_trace.h"
#include "views/views.h"

using namespace mlascope;
using namespace mlascope::views;

namespace {
ModelConfig preset(const std::string& name) {
  std::ifstream in(test::asset_path("presets/" + name + ".json"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ModelConfig::from_json_text(ss.str(), name + ".json");
}
}  // namespace

TEST(KvFigures, DeepSeekV2AgainstSameHeadMha) {
  const ModelConfig v2 = preset("DeepSeek-V2");
  ASSERT_EQ(v2.num_attention_heads, 128);
  // MLA: 512 + 64 = 576 values. MHA with the same 128 heads: K 128 + 64, V 128 per head.
  EXPECT_EQ(v2.latent_cache_dim(), 576);
  EXPECT_EQ(kv_baseline_values(v2, KvBaseline::MhaSameHeads, 0), 128 * (128 + 64 + 128));
  EXPECT_DOUBLE_EQ(mla_fraction_of(v2, KvBaseline::MhaSameHeads, 0), 576.0 / 40960.0);
  EXPECT_EQ(format_percent(mla_fraction_of(v2, KvBaseline::MhaSameHeads, 0)), "1.41 %");
  // The V2 paper counts MHA as 2 n_h d_h l: K without its rope part.
  EXPECT_EQ(kv_baseline_values(v2, KvBaseline::MhaNoRope, 0), 2 * 128 * 128);
  EXPECT_EQ(format_percent(mla_fraction_of(v2, KvBaseline::MhaNoRope, 0)), "1.76 %");
  EXPECT_EQ(kv_baseline_formula(v2, KvBaseline::MhaSameHeads, 0), "128 heads x (128 + 64 + 128) = 40,960");
  EXPECT_EQ(kv_baseline_formula(v2, KvBaseline::MhaNoRope, 0), "128 heads x (128 + 128) = 32,768");
}

TEST(KvFigures, V2LiteAndTheFiveToThirteenPercentClaim) {
  const ModelConfig lite = preset("DeepSeek-V2-Lite");
  ASSERT_EQ(lite.num_attention_heads, 16);
  EXPECT_DOUBLE_EQ(mla_fraction_of(lite, KvBaseline::MhaSameHeads, 0), 576.0 / (16.0 * 320.0));
  EXPECT_EQ(format_percent(mla_fraction_of(lite, KvBaseline::MhaSameHeads, 0)), "11.25 %");
  // 576 values against MHA with N heads of 128: 2 * N * 128 values. 13 % at N = 576 / (256 * 0.13)
  // = 17.3 heads, 5 % at N = 45.
  EXPECT_NEAR(mha_heads_for_fraction(lite, 0.13), 17.3077, 1e-3);
  EXPECT_NEAR(mha_heads_for_fraction(lite, 0.05), 45.0, 1e-9);
  EXPECT_EQ(format_percent(mla_fraction_of(lite, KvBaseline::MhaNHeads, 17)), "13.24 %");
  EXPECT_EQ(format_percent(mla_fraction_of(lite, KvBaseline::MhaNHeads, 45)), "5.00 %");
  EXPECT_EQ(kv_baseline_formula(lite, KvBaseline::MhaNHeads, 45), "2 x 45 heads x 128 = 11,520");
  // MQA keeps one K/V head: 2 * 128 = 256 values, less than MLA's 576.
  EXPECT_EQ(kv_baseline_values(lite, KvBaseline::Mqa, 0), 256);
  EXPECT_EQ(format_percent(mla_fraction_of(lite, KvBaseline::Mqa, 0)), "225.00 %");
}

TEST(KvFigures, GqaSliderShowsTheGroupsItSets) {
  // The demo model has 4 heads: a stored 8 groups snaps to 4, and the label says GQA-4.
  EXPECT_EQ(gqa_group_choices(4), (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(snap_gqa_groups(8, 4), 4);
  EXPECT_EQ(snap_gqa_groups(3, 4), 2);
  EXPECT_EQ(snap_gqa_groups(0, 4), 1);
  EXPECT_EQ(gqa_group_choices(128).size(), 8u);
  EXPECT_EQ(snap_gqa_groups(8, 128), 8);
  EXPECT_EQ(kv_baseline_formula(demo_config(), KvBaseline::Gqa, snap_gqa_groups(8, 4)), "2 x 4 groups x 32 = 256");
}

TEST(KvFigures, BaselineIdsRoundTripAndRejectUnknownNames) {
  // Tours name baselines by id; every id parses back to its baseline, and a typo is refused.
  for (KvBaseline b : {KvBaseline::MhaSameHeads, KvBaseline::MhaNoRope, KvBaseline::MhaNHeads, KvBaseline::Gqa, KvBaseline::Mqa}) {
    KvBaseline got = KvBaseline::Mqa;
    if (b == KvBaseline::Mqa) got = KvBaseline::MhaSameHeads;
    ASSERT_TRUE(parse_kv_baseline(kv_baseline_id(b), &got)) << kv_baseline_id(b);
    EXPECT_EQ(got, b);
  }
  KvBaseline untouched = KvBaseline::Gqa;
  EXPECT_FALSE(parse_kv_baseline("mha", &untouched));
  EXPECT_FALSE(parse_kv_baseline("", &untouched));
  EXPECT_EQ(untouched, KvBaseline::Gqa);
}

TEST(KvFigures, BudgetFlagsContextsBeyondTheModelMaximum) {
  const ModelConfig v3 = preset("DeepSeek-V3");
  // 576 values x 61 layers x 2 bytes (bf16) = 70,272 bytes per token; 80 GiB hold 1,222,383 tokens.
  const double per_token = 576.0 * 61 * 2;
  const ContextFit mla = longest_context(80.0 * 1024 * 1024 * 1024, per_token, v3.max_position_embeddings);
  EXPECT_EQ(mla.tokens, 1222383);
  EXPECT_TRUE(mla.beyond_max);  // the model stops at 163,840
  // Same-head MHA: 40,960 values x 61 x 2 = 4,997,120 bytes per token: 17,189 tokens fit.
  const ContextFit mha = longest_context(80.0 * 1024 * 1024 * 1024, 40960.0 * 61 * 2, v3.max_position_embeddings);
  EXPECT_EQ(mha.tokens, 17189);
  EXPECT_FALSE(mha.beyond_max);
}

namespace {
TraceModel session(const std::string& kv_dtype, int n, bool measured, int bytes_per_value) {
  SessionMeta meta;
  meta.config = demo_config();  // 6 layers, 64 + 16 = 80 latent values per layer
  meta.kv_dtype = kv_dtype;
  meta.mla_mode = "absorbed";
  TraceModel tm;
  tm.reset(meta);
  for (int t = 0; t < n; ++t) {
    StepRecord r;
    r.position = t;
    r.id = 5;
    if (measured) r.kv_bytes = static_cast<uint64_t>(t + 1) * 80 * 6 * static_cast<uint64_t>(bytes_per_value);
    tm.append(r);
  }
  return tm;
}
}  // namespace

TEST(KvShown, NamesTheDtypeTheCacheHeld) {
  // 61 tokens of an f32 cache measured by the engine: 61 x 80 x 6 x 4 = 117,120 B.
  const KvShown a = kv_shown(session("", 61, true, 4), 61);
  EXPECT_TRUE(a.measured);
  EXPECT_TRUE(a.dtype_inferred);
  EXPECT_EQ(a.dtype, "f32");
  EXPECT_DOUBLE_EQ(a.bytes, 117120.0);
  EXPECT_EQ(a.text(), "KV 114.38 KiB f32");
  // The recorded dtype wins; the bytes stay the engine's.
  const KvShown b = kv_shown(session("bf16", 61, true, 2), 61);
  EXPECT_FALSE(b.dtype_inferred);
  EXPECT_EQ(b.text(), "KV 57.19 KiB bf16");
  // Nothing measured: computed from the config in the recorded dtype (61 x 80 x 6 x 2 = 58,560 B).
  const KvShown c = kv_shown(session("bf16", 61, false, 0), 61);
  EXPECT_FALSE(c.measured);
  EXPECT_DOUBLE_EQ(c.bytes, 58560.0);
  // Replay cursor at 10 tokens: the figure follows it.
  EXPECT_DOUBLE_EQ(kv_shown(session("f32", 61, true, 4), 10).bytes, 10.0 * 80 * 6 * 4);
  EXPECT_EQ(kv_shown(session("f32", 0, true, 4), 0).text(), "KV 0 B f32");
}

// The KV panel prints the same figure the status bar prints (both from kv_shown): ImGui's text log
// of one drawn frame must contain it, with the dtype's name.
TEST(KvShown, PanelShowsTheStatusBarFigure) {
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.DisplaySize = ImVec2(1600, 1000);
  io.DeltaTime = 1.0f / 60.0f;
  io.IniFilename = nullptr;
  unsigned char* px = nullptr;
  int w = 0, h = 0;
  io.Fonts->GetTexDataAsRGBA32(&px, &w, &h);
  const TraceModel tm = session("", 61, true, 4);
  ViewState st;
  std::string logged;
  for (int f = 0; f < 2; ++f) {
    ImGui::NewFrame();
    ImGui::SetNextWindowSize(ImVec2(600, 800));
    ImGui::Begin("KV memory");
    ImGui::LogToBuffer();
    draw_kv_memory(tm, st);
    logged = ImGui::GetCurrentContext()->LogBuffer.c_str();
    ImGui::LogFinish();
    ImGui::End();
    ImGui::Render();
  }
  ImGui::DestroyContext();
  const KvShown k = kv_shown(tm, tm.size());
  // The status bar's text, character for character ("KV 114.38 KiB f32"), then the exact bytes.
  EXPECT_EQ(k.text(), "KV " + format_bytes(k.bytes) + " f32");
  EXPECT_NE(logged.find(k.text() + " (" + format_number(k.bytes) + " B"), std::string::npos) << logged;
  EXPECT_NE(logged.find("x 4 B (f32)"), std::string::npos) << "the formula uses the session's dtype";
  EXPECT_NE(logged.find("GQA-4"), std::string::npos) << "the budget table names the snapped groups";
}
