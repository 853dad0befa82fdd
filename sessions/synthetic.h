// sessions/synthetic.h — deterministic, plausible StepRecords built from a ModelConfig alone (no
// weights): for tests, benchmarks and the crash-test helper, until and besides the real generator.
// Same (config, settings, seed, position) => same record, so a test can rebuild what was recorded.
#pragma once
#include <cstdint>

#include "engine/config.h"
#include "engine/trace/step_record.h"

namespace mlascope::sessions {

// Routing follows the config (top-k of biased sigmoid/softmax scores, weights normalised and scaled);
// attention rows are softmax rows over position + 1 keys with nope + rope == the scaled score.
StepRecord synthetic_step(const ModelConfig& c, const CaptureSettings& capture, uint64_t seed, int32_t position,
                          int32_t n_prompt = 8);

}  // namespace mlascope::sessions
