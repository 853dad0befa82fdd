// engine/trace/server_routing.h — whether a session came from a server that sends no expert
// routing (llama-server, plain vLLM): tokens and probabilities but no routes. The routing views
// and the terminal say so instead of drawing empty charts.
#pragma once
#include "trace_model.h"

namespace mlascope {

// True for a remote session (meta().server_url set) of an MoE model whose tokens carry no routes.
// Stops at the first routed token, so a session with routing costs one look.
inline bool server_reports_no_routing(const TraceModel& tm) {
  if (tm.meta().server_url.empty() || tm.empty() || tm.n_moe_layers() == 0) return false;
  for (const StepRecord& r : tm.tokens())
    if (!r.routes.empty()) return false;
  return true;
}

}  // namespace mlascope
