// tests/sessions/test_session_verify.cpp — first_difference on hand-built sessions.
#include <gtest/gtest.h>

#include "sessions/verify.h"
#include "support/data_paths.h"

using namespace mlascope;

namespace {
StepRecord tok(int pos, int id, std::initializer_list<int> layer1_experts) {
  StepRecord r;
  r.position = pos;
  r.id = id;
  r.routes.resize(5);
  for (int e : layer1_experts) r.routes[0].expert[r.routes[0].k++] = static_cast<int16_t>(e);
  return r;
}
}  // namespace

TEST(SessionVerify, ReportsTheFirstTokenOrRoutingDifference) {
  SessionMeta meta;
  meta.config = ModelConfig::from_file(test::asset_path("models/mla-moe-demo/config.json"));
  TraceModel tm;
  tm.reset(meta);
  tm.append(tok(0, 5, {1, 2, 3, 4}));
  tm.append(tok(1, 6, {1, 2, 3, 4}));
  tm.append(tok(2, 7, {9, 8, 7, 6}));

  std::vector<StepRecord> same = {tok(0, 5, {4, 3, 2, 1}), tok(1, 6, {1, 2, 3, 4}), tok(2, 7, {6, 7, 8, 9})};
  EXPECT_TRUE(sessions::first_difference(tm, same).same);  // order inside the top-k does not matter

  std::vector<StepRecord> routing = {tok(0, 5, {1, 2, 3, 4}), tok(1, 6, {1, 2, 3, 5}), tok(2, 9, {6, 7, 8, 9})};
  auto v = sessions::first_difference(tm, routing);
  EXPECT_FALSE(v.same);
  EXPECT_EQ(v.position, 1);
  EXPECT_EQ(v.what, "layer 1 experts {1,2,3,4} recorded, {1,2,3,5} now");

  std::vector<StepRecord> token = {tok(0, 5, {1, 2, 3, 4}), tok(1, 6, {1, 2, 3, 4}), tok(2, 8, {6, 7, 8, 9})};
  v = sessions::first_difference(tm, token);
  EXPECT_EQ(v.position, 2);
  EXPECT_EQ(v.what, "token 7 recorded, 8 now");

  std::vector<StepRecord> shorter = {tok(0, 5, {1, 2, 3, 4})};
  v = sessions::first_difference(tm, shorter);
  EXPECT_FALSE(v.same);
  EXPECT_EQ(v.position, 1);
}
