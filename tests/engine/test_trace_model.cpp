// tests/engine/test_trace_model.cpp — TraceModel bookkeeping on a hand-built session.
#include <gtest/gtest.h>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/trace/trace_model.h"
#include "support/data_paths.h"

using namespace mlascope;

namespace {
StepRecord make_token(int pos, std::initializer_list<std::pair<int, float>> layer1) {
  StepRecord r;
  r.position = pos;
  r.id = 100 + pos;
  // demo model: 5 MoE layers (1..5), 16 experts; fill layer 1 only with the given experts
  r.routes.resize(5);
  RouteRow& row = r.routes[0];
  for (auto [e, w] : layer1) {
    row.expert[row.k] = static_cast<int16_t>(e);
    row.weight[row.k] = w;
    ++row.k;
  }
  r.scores.assign(5 * 16, 0.0f);
  r.scores[3] = 0.75f;  // layer 1, expert 3
  return r;
}
}  // namespace

TEST(TraceModel, RoutesLoadAndDominantExpert) {
  SessionMeta meta;
  meta.config = ModelConfig::from_file(test::asset_path("models/mla-moe-demo/config.json"));
  TraceModel tm;
  tm.reset(meta);
  EXPECT_EQ(tm.n_moe_layers(), 5);
  EXPECT_EQ(tm.moe_index(0), -1);
  EXPECT_EQ(tm.moe_index(1), 0);
  EXPECT_EQ(tm.moe_index(5), 4);

  tm.append(make_token(0, {{3, 0.5f}, {7, 1.5f}}));
  tm.append(make_token(1, {{3, 2.0f}, {9, 0.5f}}));
  EXPECT_THROW(tm.append(make_token(5, {})), Error);

  EXPECT_EQ(tm.route(0, 0), nullptr);  // dense layer
  ASSERT_NE(tm.route(0, 1), nullptr);
  EXPECT_EQ(tm.dominant_expert(0, 1), 7);
  EXPECT_EQ(tm.dominant_expert(1, 1), 3);
  EXPECT_EQ(tm.dominant_expert(1, 2), -1);  // layer 2 row empty

  std::vector<double> load = tm.expert_load(1, 0, 2);
  EXPECT_EQ(load[3], 2.0);
  EXPECT_EQ(load[7], 1.0);
  EXPECT_EQ(load[9], 1.0);
  EXPECT_EQ(tm.expert_load(1, 1, 2)[7], 0.0);

  ASSERT_EQ(tm.scores(0, 1).size(), 16u);
  EXPECT_EQ(tm.scores(0, 1)[3], 0.75f);
  EXPECT_TRUE(tm.scores(0, 0).empty());

  const uint64_t v = tm.version();
  tm.truncate(1);
  EXPECT_EQ(tm.size(), 1u);
  EXPECT_GT(tm.version(), v);
}
