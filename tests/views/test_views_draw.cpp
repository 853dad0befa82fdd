// tests/views/test_views_draw.cpp — every panel drawn against synthetic sessions in a headless
// ImGui context (no window: NewFrame with a display size and a built font atlas). Checks the
// Begin/End and ID stacks balance, panels never change the TraceModel, and the synthetic routing
// obeys the config's rule.
#include <gtest/gtest.h>
#include <imgui.h>
#include <imgui_internal.h>

#include <string>

#include "engine/error.h"
#include "views/synthetic_trace.h"
#include "views/view_math.h"
#include "views/views.h"

using namespace mlascope;
using namespace mlascope::views;

namespace {
class Headless : public ::testing::Test {
 protected:
  void SetUp() override {
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(1600, 1000);
    io.DeltaTime = 1.0f / 60.0f;
    io.IniFilename = nullptr;
    unsigned char* px = nullptr;
    int w = 0, h = 0;
    io.Fonts->GetTexDataAsRGBA32(&px, &w, &h);
  }
  void TearDown() override { ImGui::DestroyContext(); }

  // Draws every panel `frames` times in tiles, as the shell does.
  void draw_all(const TraceModel& tm, ViewState& st, int frames = 3) {
    for (int f = 0; f < frames; ++f) {
      ImGui::NewFrame();
      begin_frame(st);
      for (const PanelInfo& p : panels()) {
        ImGui::SetNextWindowPos(ImVec2(p.col * 533.0f, p.row * 333.0f));
        ImGui::SetNextWindowSize(ImVec2(p.col_span * 533.0f, p.row_span * 333.0f));
        ImGui::Begin(p.title);
        p.draw(tm, st);
        ImGui::End();
        ImGuiContext& g = *ImGui::GetCurrentContext();
        // Only the implicit debug window may remain: every panel closed what it opened.
        ASSERT_EQ(g.CurrentWindowStack.Size, 1) << p.id;
        ASSERT_EQ(g.CurrentWindow->IDStack.Size, 1) << p.id;
        ASSERT_EQ(g.ColorStack.Size, 0) << p.id;
        ASSERT_EQ(g.StyleVarStack.Size, 0) << p.id;
        ASSERT_EQ(g.CurrentWindow->DC.TreeDepth, 0) << p.id;
      }
      ImGui::Render();
      ASSERT_GT(ImGui::GetDrawData()->TotalVtxCount, 0);
    }
  }
};

TraceModel synthetic(int n, uint64_t seed = 1) {
  TraceModel tm;
  SyntheticOptions o;
  o.n_tokens = n;
  o.seed = seed;
  fill_synthetic(tm, demo_config(), o);
  return tm;
}
}  // namespace

TEST_F(Headless, EmptySessionDrawsEveryPanel) {
  TraceModel tm;
  ViewState st;
  draw_all(tm, st);
  EXPECT_TRUE(st.actions.empty());
}

TEST_F(Headless, SyntheticSessionInEveryViewMode) {
  const TraceModel tm = synthetic(300);
  const TraceModel other = synthetic(200, 9);
  const uint64_t version = tm.version();
  ViewState st;
  st.kv.presets.push_back(KvPreset{"demo", demo_config()});
  draw_all(tm, st);
  st.locked_token = 40;
  st.layer = 3;
  for (int tab = 0; tab < 3; ++tab) {
    st.routing.select_tab = tab;
    draw_all(tm, st, 2);
  }
  for (ChipColor c : {ChipColor::DominantExpert, ChipColor::ExpertSet, ChipColor::Probability}) {
    st.strip.color = c;
    draw_all(tm, st, 1);
  }
  for (AttnPart p : {AttnPart::Probs, AttnPart::Nope, AttnPart::Rope, AttnPart::NopePlusRope})
    for (int head : {-1, 0, 3}) {
      st.attention.part = p;
      st.attention.head = head;
      st.attention.view.x.zoom = st.attention.view.y.zoom = head == 3 ? 8.0f : 1.0f;
      st.attention.all_heads = head == 0;
      draw_all(tm, st, 1);
    }
  st.routing.solo = 4;
  st.range_begin = 30;
  st.range_end = 90;
  st.replay_position = 120;
  st.kv.preset = 0;
  st.sessions.list.push_back(SessionSummary{"other", "demo", "today", "x", 200});
  st.sessions.compare = 0;
  st.sessions.compare_model = &other;
  Tour tour;
  tour.id = "t";
  tour.title = "t";
  tour.steps.push_back(TourStep{"hello", "routing", {}, TourAdvance::SelectToken});
  st.tour.tours.push_back(tour);
  st.tour.active = 0;
  draw_all(tm, st);
  EXPECT_EQ(tm.version(), version) << "a panel changed the TraceModel";
  EXPECT_TRUE(st.actions.empty()) << "no input was given, yet a panel asked for an action";
}

TEST_F(Headless, LongSessionWithClipping) {
  const TraceModel tm = synthetic(4000);
  ViewState st;
  st.locked_token = 3999;
  st.routing.select_tab = 1;
  draw_all(tm, st, 2);
  // The token x expert matrix and the strip clip: far fewer vertices than one quad per cell.
  EXPECT_LT(ImGui::GetDrawData()->TotalVtxCount, 4000 * 16 * 4);
}

// Every panel at DeepSeek's real counts: V2-Lite (27 layers, 64 experts top-6, no groups, 16 heads)
// and V3 (61 layers, 256 experts in 8 groups, top-8 of 4 groups, 128 heads), in every view mode.
TEST_F(Headless, DeepSeekCountsInEveryViewMode) {
  for (const char* name : {"v2-lite", "v3"}) {
    TraceModel tm;
    fill_synthetic_named(tm, name, 150);
    const uint64_t version = tm.version();
    ViewState st;
    st.locked_token = 100;
    st.attention.layer = 3;
    for (int tab = 0; tab < 3; ++tab) {
      st.routing.select_tab = tab;
      draw_all(tm, st, 2);
    }
    st.routing.token_grid.x.zoom = 8.0f;
    st.routing.matrix_grid.y.zoom = 4.0f;
    st.routing.select_tab = 1;
    st.attention.all_heads = true;
    st.strip.color = ChipColor::ExpertSet;
    for (int b = 0; b < 5; ++b) {
      st.kv.baseline = b;
      draw_all(tm, st, 1);
    }
    st.replay_position = 0;
    draw_all(tm, st, 1);
    EXPECT_EQ(tm.version(), version) << name;
    EXPECT_TRUE(st.actions.empty()) << name;
  }
}

TEST(SyntheticTrace, FixturesHaveDeepSeekCounts) {
  const ModelConfig lite = synthetic_config("v2-lite");
  EXPECT_EQ(lite.num_hidden_layers, 27);
  EXPECT_EQ(lite.n_moe_layers(), 26);  // first 1 dense
  EXPECT_EQ(lite.n_routed_experts, 64);
  EXPECT_EQ(lite.num_experts_per_tok, 6);
  EXPECT_EQ(lite.n_shared_experts, 2);
  EXPECT_EQ(lite.num_attention_heads, 16);
  EXPECT_EQ(lite.latent_cache_dim(), 576);
  const ModelConfig v3 = synthetic_config("v3");
  EXPECT_EQ(v3.num_hidden_layers, 61);
  EXPECT_EQ(v3.n_moe_layers(), 58);  // first 3 dense
  EXPECT_EQ(v3.n_routed_experts, 256);
  EXPECT_EQ(v3.n_group, 8);
  EXPECT_EQ(v3.topk_group, 4);
  EXPECT_EQ(v3.num_experts_per_tok, 8);
  EXPECT_EQ(v3.n_shared_experts, 1);
  EXPECT_EQ(v3.num_attention_heads, 128);
  EXPECT_THROW(synthetic_config("v4"), Error);

  // V3 routing in the fixture obeys group-limited top-8: 4 groups kept, every chosen expert in one.
  TraceModel tm;
  fill_synthetic_named(tm, "v3", 40);
  ASSERT_EQ(tm.n_moe_layers(), 58);
  for (size_t t = 0; t < tm.size(); ++t)
    for (int layer : tm.moe_layers()) {
      const RouteRow* r = tm.route(t, layer);
      ASSERT_NE(r, nullptr);
      ASSERT_EQ(r->k, 8);
      EXPECT_EQ(__builtin_popcountll(r->kept_groups), 4);
      for (int i = 0; i < r->k; ++i) EXPECT_TRUE((r->kept_groups >> (r->expert[i] / 32)) & 1u);
    }
  // Attention as a RoutingAttention run at that scale: 4 layers, 128 heads.
  ASSERT_NE(tm.attention(5, 60), nullptr);
  EXPECT_EQ(tm.attention(5, 60)->n_heads, 128);
  EXPECT_EQ(tm.attention(5, 1), nullptr);
  EXPECT_EQ(tm.meta().kv_dtype, "bf16");
}

namespace {
// Text one panel printed (ImGui's text log) in one frame.
std::string panel_text(const TraceModel& tm, ViewState& st, void (*draw)(const TraceModel&, ViewState&)) {
  std::string out;
  for (int f = 0; f < 2; ++f) {
    ImGui::NewFrame();
    ImGui::SetNextWindowSize(ImVec2(700, 900));
    ImGui::Begin("panel");
    ImGui::LogToBuffer();
    draw(tm, st);
    out = ImGui::GetCurrentContext()->LogBuffer.c_str();
    ImGui::LogFinish();
    ImGui::End();
    ImGui::Render();
  }
  return out;
}
}  // namespace

// Defects from issue 13: a 0-token session named a busiest expert ("e15"); the sessions browser
// did not mark the open session.
TEST_F(Headless, NoTokensNoBusiestExpertAndTheOpenSessionIsMarked) {
  TraceModel empty;
  SessionMeta meta;
  meta.config = demo_config();
  empty.reset(meta);
  ViewState st;
  st.routing.select_tab = 2;
  const std::string load = panel_text(empty, st, draw_routing);
  EXPECT_NE(load.find("- (no tokens)"), std::string::npos) << load;
  EXPECT_EQ(load.find("e15"), std::string::npos) << load;

  st.sessions.list = {SessionSummary{"first", "demo", "today", "x", 12}, SessionSummary{"second", "demo", "today", "x", 1234}};
  st.sessions.open = 1;
  const std::string list = panel_text(empty, st, draw_sessions);
  EXPECT_NE(list.find("> second  (open)"), std::string::npos) << list;
  EXPECT_EQ(list.find("> first"), std::string::npos) << list;
  EXPECT_NE(list.find("1,234"), std::string::npos) << "token counts with thousands separators";
}

// A session from a server that sends no routing (llama-server): the routing panel says so in plain
// words, the token strip says its chips show probabilities and colours them that way.
TEST_F(Headless, ServerWithoutRoutingIsNamed) {
  TraceModel tm;
  SessionMeta meta;
  meta.config = demo_config();
  meta.server_url = "http://127.0.0.1:8080";
  tm.reset(meta);
  for (int i = 0; i < 3; ++i) {
    StepRecord r;
    r.position = i;
    r.id = 5 + i;
    r.text = "t";
    r.prob = 0.5f;
    tm.append(std::move(r));
  }
  ViewState st;
  const std::string routing = panel_text(tm, st, draw_routing);
  EXPECT_NE(routing.find("This server reports no routing (http://127.0.0.1:8080)"), std::string::npos) << routing;
  const std::string strip = panel_text(tm, st, draw_token_strip);
  EXPECT_NE(strip.find("this server reports no routing: chips show each token's probability"), std::string::npos) << strip;
  EXPECT_EQ(st.strip.color, ChipColor::Probability);

  // The same tokens computed locally (capture off): no such words.
  meta.server_url.clear();
  tm.reset(meta);
  const std::string local = panel_text(tm, st, draw_routing);
  EXPECT_EQ(local.find("reports no routing"), std::string::npos) << local;
}

// The fork menu's alternatives come as text with probabilities, also under greedy decoding (where
// the sampler's own list holds only the chosen token).
TEST_F(Headless, AlternativesAsTextUnderGreedy) {
  SessionMeta meta;
  meta.config = demo_config();
  TraceModel tm;
  tm.reset(meta);
  for (int t = 0; t < 3; ++t) {
    StepRecord r;
    r.position = t;
    r.id = 10 + t;
    r.text = t == 0 ? "The" : t == 1 ? " river" : " ran";
    if (t == 2) {
      r.prob = 1.0f;
      r.raw_prob = 0.6f;
      r.top_raw = {{12, 0.6f}, {11, 0.3f}, {99, 0.1f}};
      r.top_sampled = {{12, 1.0f}};  // greedy
    }
    tm.append(r);
  }
  ViewState st;
  st.token_text = [](int32_t id) { return id == 99 ? std::string(" flowed") : id == 11 ? std::string(" river") : std::string(" ran"); };
  const std::vector<Alternative> alts = fork_alternatives(tm, st, 2);
  ASSERT_EQ(alts.size(), 3u);
  EXPECT_EQ(alts[0].text, " ran");
  EXPECT_TRUE(alts[0].chosen);
  EXPECT_FLOAT_EQ(alts[0].p_model, 0.6f);
  EXPECT_FLOAT_EQ(alts[0].p_sampler, 1.0f);
  EXPECT_EQ(alts[2].text, " flowed");
  EXPECT_FLOAT_EQ(alts[2].p_model, 0.1f);
  EXPECT_FLOAT_EQ(alts[2].p_sampler, -1.0f);  // greedy cut it
  EXPECT_FALSE(alts[2].chosen);
  // Without a tokenizer the session's own tokens name the ids, else "id N".
  ViewState bare;
  EXPECT_EQ(fork_alternatives(tm, bare, 2)[1].text, " river");
  EXPECT_EQ(fork_alternatives(tm, bare, 2)[2].text, "id 99");
  // The tooltip and fork popup draw this table without unbalancing anything.
  st.locked_token = 2;
  draw_all(tm, st, 1);
}

// The synthetic routing must follow the same rule the views explain: chosen experts are the
// recomputed top-k of the biased scores, weights are normalised unbiased scores x scaling.
TEST(SyntheticTrace, RoutingObeysTheConfigRule) {
  const TraceModel tm = synthetic(64);
  const ModelConfig& c = tm.config();
  ASSERT_EQ(tm.n_moe_layers(), 5);
  for (size_t t = 0; t < tm.size(); ++t)
    for (int layer : tm.moe_layers()) {
      const RouteRow* r = tm.route(t, layer);
      ASSERT_NE(r, nullptr);
      ASSERT_EQ(r->k, c.num_experts_per_tok);
      const auto sc = tm.scores(t, layer);
      const auto sel = tm.selection(t, layer);
      const auto& bias = tm.meta().gate_bias[static_cast<size_t>(tm.moe_index(layer))];
      float wsum = 0;
      for (int i = 0; i < r->k; ++i) {
        const size_t e = static_cast<size_t>(r->expert[i]);
        EXPECT_FLOAT_EQ(sel[e], sc[e] + bias[e]);
        wsum += r->weight[i];
        // Kept groups contain every chosen expert (4 experts per group).
        EXPECT_TRUE((r->kept_groups >> (e / 4)) & 1u);
      }
      EXPECT_NEAR(wsum, c.routed_scaling_factor, 1e-4);  // norm_topk_prob: weights sum to the scale
      // Exactly topk_group groups kept.
      EXPECT_EQ(__builtin_popcountll(r->kept_groups), c.topk_group);
    }
  // Attention rows are probability distributions consistent with their score parts.
  const AttentionRow* a = tm.attention(10, 2);
  ASSERT_NE(a, nullptr);
  for (int h = 0; h < a->n_heads; ++h) {
    double s = 0;
    for (int k = 0; k < a->n_keys; ++k) s += attention_cell(*a, h, k, 0);
    EXPECT_NEAR(s, 1.0, 1e-5);
    // softmax(nope + rope): the ratio of two probabilities is exp of the score difference.
    const float d = attention_cell(*a, h, 3, 3) - attention_cell(*a, h, 5, 3);
    EXPECT_NEAR(attention_cell(*a, h, 3, 0) / attention_cell(*a, h, 5, 0), std::exp(d), 1e-3 * std::exp(d));
  }
}
