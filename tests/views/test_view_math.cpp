// tests/views/test_view_math.cpp — the panels' arithmetic against hand-worked numbers, the bundled
// KV presets against the published model-card figures, and the tour files' validity.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/kv_memory.h"
#include "support/data_paths.h"
#include "views/tour.h"
#include "views/view_math.h"
#include "views/views.h"

using namespace mlascope;
using namespace mlascope::views;

TEST(LoadStats, BalancedAndSkewed) {
  const std::vector<double> even{2, 2, 2, 2};
  LoadStats s = load_stats(even);
  EXPECT_DOUBLE_EQ(s.mean, 2.0);
  EXPECT_DOUBLE_EQ(s.max_over_mean, 1.0);
  EXPECT_DOUBLE_EQ(s.cv, 0.0);
  // One expert takes everything: mean 1, max/mean 4, population sd sqrt((9+1+1+1)/4) = sqrt(3).
  const std::vector<double> skew{4, 0, 0, 0};
  s = load_stats(skew);
  EXPECT_DOUBLE_EQ(s.max_over_mean, 4.0);
  EXPECT_NEAR(s.cv, std::sqrt(3.0), 1e-12);
  EXPECT_EQ(s.argmax, 0);
  EXPECT_DOUBLE_EQ(load_stats(std::vector<double>{0, 0}).cv, 0.0);  // no load: no division by zero
  // A 0-token session has no busiest expert (it used to report the last one, "e15").
  EXPECT_EQ(load_stats(std::vector<double>(16, 0.0)).argmax, -1);
  EXPECT_EQ(load_stats(std::vector<double>{0, 0, 1, 0}).argmax, 2);
}

ModelConfig router_config(TopkMethod m, int n_group, int topk_group, int k) {
  ModelConfig c;
  c.n_routed_experts = 8;
  c.topk_method = m;
  c.n_group = n_group;
  c.topk_group = topk_group;
  c.num_experts_per_tok = k;
  return c;
}

TEST(ExplainRoute, NoauxTcKeepsGroupsByTopTwoSum) {
  // 4 groups of 2: sums of each group's top-2 = 0.9+0.1=1.0, 0.5+0.45=0.95, 0.3+0.2=0.5, 0.05+0.04=0.09.
  // Keep 2 groups -> {0, 1}; top-3 among experts 0..3 = 0 (0.9), 2 (0.5), 3 (0.45); rejected best = 1 (0.1).
  const std::vector<float> sel{0.9f, 0.1f, 0.5f, 0.45f, 0.3f, 0.2f, 0.05f, 0.04f};
  const RouteExplanation e = explain_route(router_config(TopkMethod::NoauxTc, 4, 2, 3), sel);
  EXPECT_EQ(e.kept_groups, 0b0011u);
  ASSERT_EQ(e.chosen.size(), 3u);
  EXPECT_EQ(e.chosen[0], 0);
  EXPECT_EQ(e.chosen[1], 2);
  EXPECT_EQ(e.chosen[2], 3);
  EXPECT_EQ(e.best_rejected_expert, 1);
  EXPECT_NEAR(e.margin, 0.45f - 0.1f, 1e-6);
  EXPECT_NEAR(e.group_score[1], 0.95f, 1e-6);
}

TEST(ExplainRoute, GroupLimitedGreedyUsesGroupMax) {
  // Group max: g0 0.3, g1 0.25, g2 0.4, g3 0.1 -> keep {2, 0}; the 0.28 in g1 loses despite beating 0.2.
  const std::vector<float> sel{0.3f, 0.01f, 0.25f, 0.24f, 0.4f, 0.2f, 0.1f, 0.0f};
  const RouteExplanation e = explain_route(router_config(TopkMethod::GroupLimitedGreedy, 4, 2, 3), sel);
  EXPECT_EQ(e.kept_groups, 0b0101u);
  ASSERT_EQ(e.chosen.size(), 3u);
  EXPECT_EQ(e.chosen[0], 4);
  EXPECT_EQ(e.chosen[1], 0);
  EXPECT_EQ(e.chosen[2], 5);
  EXPECT_NEAR(e.margin, 0.2f - 0.01f, 1e-6);
}

TEST(ExplainRoute, GreedyIsPlainTopK) {
  const std::vector<float> sel{0.1f, 0.7f, 0.3f, 0.6f, 0.0f, 0.2f, 0.5f, 0.4f};
  const RouteExplanation e = explain_route(router_config(TopkMethod::Greedy, 1, 1, 2), sel);
  ASSERT_EQ(e.chosen.size(), 2u);
  EXPECT_EQ(e.chosen[0], 1);
  EXPECT_EQ(e.chosen[1], 3);
  EXPECT_NEAR(e.margin, 0.1f, 1e-6);
}

TEST(Colors, HeatRampRisesInLuminanceAndClamps) {
  float prev = -1;
  for (int i = 0; i <= 20; ++i) {
    const float l = luminance(heat_color(i / 20.0f));
    EXPECT_GT(l, prev) << i;
    prev = l;
  }
  EXPECT_EQ(to_abgr(heat_color(-3.0f)), to_abgr(heat_color(0.0f)));
  EXPECT_EQ(to_abgr(heat_color(NAN)), to_abgr(heat_color(0.0f)));
  EXPECT_EQ(to_abgr(heat_color(7.0f)), to_abgr(heat_color(1.0f)));
}

TEST(Colors, AbgrPacking) {
  EXPECT_EQ(to_abgr(Rgb{1, 0, 0}), 0xFF0000FFu);
  EXPECT_EQ(to_abgr(Rgb{0, 0, 1}, 0.0f), 0x00FF0000u);
}

TEST(Colors, HsvPrimaries) {
  const Rgb g = hsv(1.0f / 3.0f, 1, 1);
  EXPECT_NEAR(g.r, 0, 1e-5);
  EXPECT_NEAR(g.g, 1, 1e-5);
  EXPECT_NEAR(g.b, 0, 1e-5);
}

TEST(Colors, ExpertSetColourFollowsTheSet) {
  // A set of one expert has that expert's hue; the same set in another order has the same colour.
  RouteRow one;
  one.k = 1;
  one.expert[0] = 5;
  one.weight[0] = 1.0f;
  const Rgb a = expert_set_color(one, 16, 4), b = expert_color(5, 16, 4);
  EXPECT_NEAR(a.r, b.r, 2e-3);
  EXPECT_NEAR(a.g, b.g, 2e-3);
  EXPECT_NEAR(a.b, b.b, 2e-3);
  RouteRow x, y;
  x.k = y.k = 2;
  x.expert[0] = 3; x.weight[0] = 0.6f; x.expert[1] = 9; x.weight[1] = 0.4f;
  y.expert[0] = 9; y.weight[0] = 0.4f; y.expert[1] = 3; y.weight[1] = 0.6f;
  EXPECT_EQ(to_abgr(expert_set_color(x, 16, 4)), to_abgr(expert_set_color(y, 16, 4)));
  // Distinct experts get distinct colours.
  EXPECT_NE(to_abgr(expert_color(0, 16, 4)), to_abgr(expert_color(1, 16, 4)));
  // A set spread over opposing colours has less chroma than either of its experts.
  RouteRow spread;
  spread.k = 2;
  spread.expert[0] = 0; spread.weight[0] = 0.5f; spread.expert[1] = 9; spread.weight[1] = 0.5f;
  auto chroma = [](Rgb c) { const Lab l = rgb_to_lab(c); return std::hypot(l.a, l.b); };
  EXPECT_LT(chroma(expert_set_color(spread, 16, 4)), std::min(chroma(expert_color(0, 16, 4)), chroma(expert_color(9, 16, 4))));
}

TEST(Attention, HeadAverageAndParts) {
  AttentionRow a;
  a.n_heads = 2;
  a.n_keys = 3;
  a.probs = {0.2f, 0.3f, 0.5f, 0.6f, 0.3f, 0.1f};
  a.nope = {1, 2, 3, 4, 5, 6};
  a.rope = {-1, -1, -1, 0, 0, 0};
  EXPECT_NEAR(attention_cell(a, -1, 0, 0), 0.4f, 1e-6);
  EXPECT_NEAR(attention_cell(a, 1, 2, 0), 0.1f, 1e-6);
  EXPECT_NEAR(attention_cell(a, 0, 1, 3), 1.0f, 1e-6);
  EXPECT_NEAR(attention_cell(a, -1, 2, 3), (2.0f + 6.0f) / 2, 1e-6);
  EXPECT_TRUE(std::isnan(attention_cell(a, 0, 3, 0)));  // past the last key
  a.rope.clear();
  EXPECT_TRUE(std::isnan(attention_cell(a, 0, 0, 2)));
  float lo, hi;
  attention_range(a, 1, 1, &lo, &hi);
  EXPECT_EQ(lo, 4.0f);
  EXPECT_EQ(hi, 6.0f);
}

TEST(Selection, VisibleTokensAndRange) {
  TraceModel tm;
  SessionMeta meta;
  tm.reset(meta);
  for (int i = 0; i < 10; ++i) {
    StepRecord r;
    r.position = i;
    tm.append(r);
  }
  ViewState st;
  EXPECT_EQ(visible_tokens(tm, st), 10u);
  st.replay_position = 4;
  EXPECT_EQ(visible_tokens(tm, st), 4u);
  st.range_begin = 2;
  st.range_end = 8;
  size_t b, e;
  stats_range(tm, st, &b, &e);  // the range is clipped to what the replay has reached
  EXPECT_EQ(b, 2u);
  EXPECT_EQ(e, 4u);
  st.hover_next = 3;
  st.locked_token = 7;
  begin_frame(st);
  EXPECT_EQ(st.selected_token(), 3);  // hover previews over the lock
  begin_frame(st);
  EXPECT_EQ(st.selected_token(), 7);
}

// Model-card numbers: kv_lora_rank 512 + qk_rope_head_dim 64 = 576 cached per token per layer for
// V2, V2-Lite and V3; MHA with the same heads caches heads * (128 + 64 + 128).
TEST(KvPresets, MatchPublishedShapes) {
  struct Want {
    const char* file;
    int layers, heads, experts, top_k;
  };
  for (const Want& w : {Want{"DeepSeek-V2.json", 60, 128, 160, 6}, Want{"DeepSeek-V2-Lite.json", 27, 16, 64, 6},
                        Want{"DeepSeek-V3.json", 61, 128, 256, 8}}) {
    SCOPED_TRACE(w.file);
    const ModelConfig c = ModelConfig::from_file(test::asset_path(std::string("presets/") + w.file));
    EXPECT_EQ(c.num_hidden_layers, w.layers);
    EXPECT_EQ(c.num_attention_heads, w.heads);
    EXPECT_EQ(c.n_routed_experts, w.experts);
    EXPECT_EQ(c.num_experts_per_tok, w.top_k);
    EXPECT_EQ(c.max_position_embeddings, 163840);
    const KvMemory m = kv_memory(c, 2, 8);
    EXPECT_EQ(m.get(KvScheme::MlaLatent).elems_per_token_layer, 576);
    EXPECT_EQ(m.get(KvScheme::Mha).elems_per_token_layer, static_cast<int64_t>(w.heads) * 320);
    EXPECT_DOUBLE_EQ(m.get(KvScheme::MlaLatent).bytes_per_token, 576.0 * 2 * w.layers);
  }
  // DeepSeek-V3 in BF16: 576 * 2 B * 61 layers = 70,272 B per token; 80 GiB holds floor(80 Gi / 70272).
  const ModelConfig v3 = ModelConfig::from_file(test::asset_path("presets/DeepSeek-V3.json"));
  EXPECT_EQ(kv_memory(v3, 2, 8).longest_context(KvScheme::MlaLatent, 80.0 * 1024 * 1024 * 1024), 1222383);
  EXPECT_EQ(v3.topk_method, TopkMethod::NoauxTc);
  EXPECT_EQ(v3.first_k_dense_replace, 3);
}

TEST(Tours, BundledToursAreValidAndNamePanelsThatExist) {
  std::vector<std::string> errors;
  const std::vector<Tour> tours = load_tours(test::asset_path("tours"), &errors);
  EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors[0]);
  ASSERT_GE(tours.size(), 4u);
  std::vector<std::string> ids;
  for (const Tour& t : tours) {
    ids.push_back(t.id);
    for (const TourStep& s : t.steps) {
      if (!s.panel.empty()) {
        EXPECT_NE(find_panel(s.panel), nullptr) << t.id << ": " << s.panel;
      }
      for (const TourAction& a : s.actions)
        if (a.verb == "open_panel") {
          EXPECT_NE(find_panel(a.value), nullptr) << t.id << ": " << a.value;
        }
    }
  }
  for (const char* want : {"mla-saves", "experts-code-prose", "reading-attention", "kv-number"})
    EXPECT_NE(std::find(ids.begin(), ids.end(), want), ids.end()) << want;
}

TEST(Tours, BadFilesNameTheField) {
  try {
    parse_tour(R"({"id":"x","title":"t","steps":[{"text":"a"},{"text":"b","advance":"jump"}]})", "bad.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[tour] bad.json: steps[1].advance"), std::string::npos) << e.what();
  }
  try {
    parse_tour(R"({"id":"x","title":"t","steps":[{"text":"a","actions":[{"do":"explode"}]}]})", "bad.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("steps[0].actions[0].do"), std::string::npos) << e.what();
  }
  // The KV panel's tour actions: an unknown baseline or a head count below 1 names the field.
  try {
    parse_tour(R"({"id":"x","title":"t","steps":[{"text":"a","actions":[{"do":"set_baseline","value":"mha"}]}]})", "kv.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[tour] kv.json: steps[0].actions[0].value: KV baseline must be"), std::string::npos) << e.what();
  }
  try {
    parse_tour(R"({"id":"x","title":"t","steps":[{"text":"a"},{"text":"b","actions":[{"do":"set_mha_heads","value":0}]}]})", "kv.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("steps[1].actions[0].value: must be an integer >= 1"), std::string::npos) << e.what();
  }
  const Tour ok = parse_tour(R"({"id":"x","title":"t","steps":[{"text":"a","actions":[{"do":"set_baseline","value":"gqa"},)"
                             R"({"do":"set_gqa_groups","value":8}]}]})", "kv.json");
  ASSERT_EQ(ok.steps[0].actions.size(), 2u);
  EXPECT_EQ(ok.steps[0].actions[1].number, 8);
  EXPECT_THROW(parse_tour("{not json", "bad.json"), Error);
  EXPECT_THROW(parse_tour(R"({"id":"x","title":"t","steps":[]})", "bad.json"), Error);
}
