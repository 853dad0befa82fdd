// tests/engine/test_server_routing.cpp — server_reports_no_routing: only a session computed by a
// server (server_url set) of an MoE model whose tokens all lack routes reads as "no routing".
#include <gtest/gtest.h>

#include "engine/trace/server_routing.h"

namespace mlascope {
namespace {

SessionMeta meta(const std::string& server, int n_routed_experts) {
  SessionMeta m;
  m.server_url = server;
  m.config.num_hidden_layers = 3;
  m.config.first_k_dense_replace = 1;
  m.config.n_routed_experts = n_routed_experts;
  m.config.num_experts_per_tok = 2;
  return m;
}

StepRecord token(int pos, bool routed) {
  StepRecord r;
  r.position = pos;
  r.id = 7;
  if (routed) r.routes.resize(2);
  return r;
}

TEST(ServerRouting, OnlyARemoteMoeSessionWithoutAnyRoutes) {
  TraceModel tm;
  tm.reset(meta("http://127.0.0.1:8080", 8));
  ASSERT_EQ(tm.n_moe_layers(), 2);
  EXPECT_FALSE(server_reports_no_routing(tm)) << "no tokens yet: nothing reported either way";
  tm.append(token(0, false));
  tm.append(token(1, false));
  EXPECT_TRUE(server_reports_no_routing(tm));
  tm.append(token(2, true));
  EXPECT_FALSE(server_reports_no_routing(tm));

  TraceModel local;  // a local session recorded with --capture off is not a server's doing
  local.reset(meta("", 8));
  local.append(token(0, false));
  EXPECT_FALSE(server_reports_no_routing(local));

  TraceModel dense;  // no MoE layers: there is no routing to miss
  dense.reset(meta("http://h:1", 0));
  dense.append(token(0, false));
  EXPECT_FALSE(server_reports_no_routing(dense));
}

}  // namespace
}  // namespace mlascope
