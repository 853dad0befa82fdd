// sessions/verify.h — compare a recorded session with a re-run of its prompt.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "engine/trace/trace_model.h"

namespace mlascope::sessions {

struct VerifyResult {
  bool same = true;
  int32_t position = -1;  // first position that differs
  std::string what;       // "token 17 vs 23", "layer 3 experts {1,4,7,9} vs {1,4,7,11}", "re-run stopped early"
};

// Tokens compare by id; routing by the set of routed experts of every MoE layer captured on both
// sides (the order within the top-k may legitimately flip on near ties, the set may not).
VerifyResult first_difference(const TraceModel& recorded, std::span<const StepRecord> rerun);

}  // namespace mlascope::sessions
