// engine/trace/step_collector.h — a TraceSink that turns the forward pass's trace events into the
// per-token parts of StepRecord (routes, router scores, attention), honoring CaptureSettings.
// The generator calls begin() before a forward call and take() for each position afterwards.
#pragma once
#include <cstdint>
#include <vector>

#include "../config.h"
#include "step_record.h"
#include "trace_hooks.h"

namespace mlascope {

class StepCollector final : public TraceSink {
 public:
  explicit StepCollector(const ModelConfig& config);

  void set_capture(const CaptureSettings& c);
  const CaptureSettings& capture() const { return capture_; }

  // Prepares slots for positions [start_pos, start_pos + n).
  void begin(int start_pos, int n);
  // Moves the captured parts of `position` into `rec` (routes, scores, selection, attention).
  void take(int position, StepRecord& rec);

  void on_attention(int layer, int position, int n_heads, int n_keys, const float* probs, const float* nope,
                    const float* rope) override;
  void on_route(const RouteRecord& r) override;

 private:
  struct Slot {
    std::vector<RouteRow> routes;
    std::vector<float> scores, selection;
    std::vector<AttentionRow> attention;
  };
  Slot* slot(int position);

  CaptureSettings capture_;
  int n_moe_layers_ = 0;
  int n_experts_ = 0;
  std::vector<int> moe_index_;  // layer -> index among MoE layers, -1 for dense layers
  int start_ = 0;
  std::vector<Slot> slots_;
};

}  // namespace mlascope
