// engine/backend/cuda/device_model.h — a model's weights on the device: one arena, per-layer views
// by role (mirrors engine/model/model.h), filled from a Model's host tensors or with random values.
// Internal to engine/backend/cuda/.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config.h"
#include "kernels.h"

namespace mlascope {
class Model;
}

namespace mlascope::cuda {

struct DevMat {
  const void* w = nullptr;  // [rows, cols] row-major, in DeviceModel::wt
  int rows = 0, cols = 0;
  uint64_t bytes(WType wt) const { return static_cast<uint64_t>(rows) * cols * wtype_bytes(wt); }
};

struct DevFfn {
  DevMat gate, up, down;
  int ff() const { return gate.rows; }
};

struct DevLayer {
  const float* input_norm = nullptr;
  const float* post_norm = nullptr;
  DevMat q_proj, q_a, q_b;
  const float* q_a_norm = nullptr;
  DevMat kv_a, kv_b, o_proj;
  const float* kv_a_norm = nullptr;
  bool is_moe = false;
  DevFfn dense;
  DevMat router;
  const float* bias = nullptr;  // e_score_correction_bias or null
  std::vector<DevFfn> experts;
  bool has_shared = false;
  DevFfn shared;
  // Decode tables: [experts..., shared] or [dense]; const slots for dense layers.
  FfnEntry* table = nullptr;
  int32_t* dense_slot = nullptr;
  float* dense_weight = nullptr;
};

class DeviceModel {
 public:
  // Uploads `model` (BF16 on the device; F32/F16 checkpoints stay float32 so their results stay
  // within the float32 tolerances; FP8 and GGUF blocks are dequantized on the way).
  static DeviceModel upload(const Model& model);
  static DeviceModel random(const ModelConfig& cfg, uint64_t seed);
  // Bytes the weights will need on the device, without allocating (memory plan).
  static uint64_t planned_bytes(const ModelConfig& cfg, WType wt);
  static WType weight_type_for(const Model& model);

  DeviceModel() = default;
  DeviceModel(DeviceModel&& o) noexcept;
  DeviceModel& operator=(DeviceModel&& o) noexcept;
  DeviceModel(const DeviceModel&) = delete;
  DeviceModel& operator=(const DeviceModel&) = delete;
  ~DeviceModel();

  ModelConfig cfg;
  std::string name;
  WType wt = WType::BF16;
  DevMat embed, lm_head;
  const float* norm = nullptr;
  std::vector<DevLayer> layers;
  float* inv_freq = nullptr;  // [qk_rope_head_dim / 2]
  bool ffn_vec_ok = true;     // every ff and D a multiple of 8 (16-byte weight loads)
  uint64_t arena_bytes = 0;
  uint64_t max_matrix_elems = 0;     // largest matrix other than embed / lm_head
  uint64_t decode_bytes_per_token = 0;  // weights one decode step reads

 private:
  void* arena_ = nullptr;
};

}  // namespace mlascope::cuda
