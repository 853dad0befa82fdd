// tests/app/test_terminal_views.cpp — the terminal's text/JSON views on a synthetic TraceModel
// (demo config: layer 0 dense, layers 1..5 MoE, 16 routed experts, top-4), checked against counts
// and averages worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "app/terminal_views.h"
#include "engine/error.h"
#include "support/data_paths.h"

using namespace mlascope;
using namespace mlascope::app;

namespace {

// Token t routes to experts t, t+1, t+2, t+3 (mod 16) in every MoE layer, weights 0.4 0.3 0.2 0.1.
TraceModel make_model(int n_tokens) {
  SessionMeta meta;
  meta.config = ModelConfig::from_file(test::asset_path("models/mla-moe-demo/config.json"));
  TraceModel tm;
  tm.reset(meta);
  for (int t = 0; t < n_tokens; ++t) {
    StepRecord r;
    r.position = t;
    r.id = 100 + t;
    r.text = t == 1 ? "\n" : "w" + std::to_string(t);
    r.is_prompt = t < 2;
    r.prob = 0.5f;
    for (int m = 0; m < 5; ++m) {
      RouteRow row;
      row.k = 4;
      const float w[4] = {0.4f, 0.3f, 0.2f, 0.1f};
      for (int i = 0; i < 4; ++i) {
        row.expert[static_cast<size_t>(i)] = static_cast<int16_t>((t + i) % 16);
        row.weight[static_cast<size_t>(i)] = w[i];
      }
      row.margin = 0.01f * static_cast<float>(m);
      r.routes.push_back(row);
    }
    if (t == 2) {
      AttentionRow a;
      a.layer = 3;
      a.n_heads = 4;
      a.n_keys = 3;
      a.probs = {0.1f, 0.7f, 0.2f,  0.5f, 0.25f, 0.25f,  0.2f, 0.2f, 0.6f,  0.4f, 0.4f, 0.2f};
      r.attention.push_back(a);
    }
    tm.append(std::move(r));
  }
  return tm;
}

}  // namespace

TEST(TerminalViews, ExpertLoadByHand) {
  const TraceModel tm = make_model(4);
  const ExpertLoadStats s = expert_load_stats(tm, 1, 0, tm.size());
  // Counts e0..e6 = 1 2 3 4 3 2 1, the other nine 0: 16 slots, mean 1 per expert.
  EXPECT_EQ(s.slots, 16u);
  EXPECT_DOUBLE_EQ(s.share[3], 4.0 / 16.0);
  EXPECT_DOUBLE_EQ(s.share[6], 1.0 / 16.0);
  EXPECT_DOUBLE_EQ(s.share[7], 0.0);
  EXPECT_DOUBLE_EQ(s.max_over_mean, 4.0);
  EXPECT_DOUBLE_EQ(s.min_over_mean, 0.0);
  // variance = (0 + 1 + 4 + 9 + 4 + 1 + 0 + 9 * 1) / 16 = 1.75
  EXPECT_NEAR(s.cv, std::sqrt(1.75), 1e-12);
  // A range: only token 3 -> experts 3,4,5,6 once each.
  const ExpertLoadStats r = expert_load_stats(tm, 1, 3, 4);
  EXPECT_EQ(r.slots, 4u);
  EXPECT_DOUBLE_EQ(r.share[4], 0.25);
  EXPECT_DOUBLE_EQ(r.share[0], 0.0);

  const nlohmann::json j = expert_load_json(tm, -1);
  EXPECT_EQ(j["layers"].size(), 5u);
  EXPECT_EQ(j["layers"][0]["layer"], 1);
  EXPECT_EQ(j["layers"][4]["layer"], 5);
  EXPECT_THROW(expert_load_json(tm, 0), Error);  // layer 0 is dense
}

TEST(TerminalViews, ExpertLoadTextHasOneBarPerExpert) {
  const TraceModel tm = make_model(16);  // every expert gets exactly 4 of 64 slots: balanced
  const std::string text = render_expert_load_text(tm, 2, ColorMode::None);
  EXPECT_NE(text.find("layer 2"), std::string::npos);
  EXPECT_NE(text.find("64 routed slots"), std::string::npos) << text;
  EXPECT_NE(text.find("max/mean 1.00"), std::string::npos) << text;
  EXPECT_NE(text.find("CV 0.000"), std::string::npos) << text;
  EXPECT_NE(text.find("e15"), std::string::npos);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  // Uniform share: each bar fills exactly half the cells, up to the '|' marker.
  const size_t line = text.find("  e7 ");
  ASSERT_NE(line, std::string::npos);
  const std::string row = text.substr(line, text.find('\n', line) - line);
  EXPECT_NE(row.find("6.2%"), std::string::npos) << row;
  EXPECT_NE(row.find(std::string(16, '#') + "|"), std::string::npos) << row;
}

TEST(TerminalViews, RoutingOfOneToken) {
  const TraceModel tm = make_model(6);
  const nlohmann::json j = routing_json(tm, 5);
  EXPECT_EQ(j["position"], 5);
  EXPECT_EQ(j["id"], 105);
  EXPECT_EQ(j["is_prompt"], false);
  ASSERT_EQ(j["layers"].size(), 5u);
  EXPECT_EQ(j["layers"][0]["layer"], 1);
  EXPECT_EQ(j["layers"][0]["experts"], nlohmann::json({5, 6, 7, 8}));
  EXPECT_NEAR(j["layers"][2]["margin"].get<double>(), 0.02, 1e-6);
  const std::string text = render_routing_text(tm, 5, ColorMode::None);
  EXPECT_NE(text.find("e5 0.400  e6 0.300  e7 0.200  e8 0.100"), std::string::npos) << text;
  EXPECT_THROW(render_routing_text(tm, 6, ColorMode::None), Error);
  // Colours: the expert cell is painted with that expert's colour.
  const std::string coloured = render_routing_text(tm, 5, ColorMode::TrueColor);
  EXPECT_NE(coloured.find(fg(ColorMode::TrueColor, expert_rgb(5, 16)) + "e5 0.400"), std::string::npos);
}

TEST(TerminalViews, TopAttendedKeys) {
  const TraceModel tm = make_model(4);
  const auto head0 = top_attended(tm, 2, 3, 0, 5);
  ASSERT_EQ(head0.size(), 3u);
  EXPECT_EQ(head0[0].key, 1);
  EXPECT_FLOAT_EQ(head0[0].prob, 0.7f);
  EXPECT_EQ(head0[1].key, 2);
  EXPECT_EQ(head0[2].key, 0);
  // Mean over heads: key0 (0.1+0.5+0.2+0.4)/4 = 0.3, key1 (0.7+0.25+0.2+0.4)/4 = 0.3875, key2 0.3125.
  const auto mean = top_attended(tm, 2, 3, -1, 2);
  ASSERT_EQ(mean.size(), 2u);
  EXPECT_EQ(mean[0].key, 1);
  EXPECT_NEAR(mean[0].prob, 0.3875, 1e-6);
  EXPECT_EQ(mean[1].key, 2);
  EXPECT_NEAR(mean[1].prob, 0.3125, 1e-6);
  EXPECT_TRUE(top_attended(tm, 2, 4, 0, 5).empty());  // layer 4 not captured
  EXPECT_THROW(top_attended(tm, 2, 3, 4, 5), Error);   // 4 heads: 0..3
  const std::string text = render_attention_text(tm, 3, 3, 0, 5, ColorMode::None);
  EXPECT_NE(text.find("not captured"), std::string::npos);
  EXPECT_THROW(render_attention_text(tm, 2, 6, 0, 5, ColorMode::None), Error);  // layers 0..5
}

TEST(TerminalViews, TranscriptColoursByDominantExpert) {
  const TraceModel tm = make_model(3);
  EXPECT_EQ(render_transcript(tm, 1, ColorMode::None), "w0\nw2");
  const std::string c = render_transcript(tm, 1, ColorMode::Ansi256);
  // Dominant expert of token t is t (weight 0.4).
  EXPECT_EQ(c, fg(ColorMode::Ansi256, expert_rgb(0, 16)) + "w0\x1b[0m" + fg(ColorMode::Ansi256, expert_rgb(1, 16)) +
                   "\n\x1b[0m" + fg(ColorMode::Ansi256, expert_rgb(2, 16)) + "w2\x1b[0m");
  EXPECT_EQ(printable_token(std::string("a\x01") + "b"), "a\\x01b");
}

TEST(TerminalViews, KvReportInUseColumn) {
  const ModelConfig c = ModelConfig::from_file(test::asset_path("models/mla-moe-demo/config.json"));
  KvReport r = make_kv_report(c, "demo", "fp32", 0, 4);
  r.in_use = 100;
  const nlohmann::json j = kv_json(r);
  EXPECT_EQ(j["context"], 1024);
  EXPECT_EQ(j["schemes"][0]["bytes_in_use"], 80 * 4 * 6 * 100);
  EXPECT_EQ(j["schemes"][3]["label"], "GQA-4");
  EXPECT_THROW(make_kv_report(c, "demo", "int4", 0, 4), Error);
}
