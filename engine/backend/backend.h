// engine/backend/backend.h — what a backend (CPU, CUDA) implements: the forward pass of a
// DeepSeek-V2/V3 model over its own KV cache. Model code and callers see only this interface;
// no CUDA header or #ifdef appears outside engine/backend/cuda/.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../trace/trace_hooks.h"

namespace mlascope {

class Model;  // engine/model/model.h: config + weights

enum class MlaMode { Naive, Absorbed };  // naive: per-head K/V cache; absorbed: latent cache
enum class DeviceKind { Auto, Cpu, Cuda };
// Element type of the KV cache (the latent cache in absorbed mode, K/V in naive mode).
enum class KvDType { F32, BF16, F16 };

const char* to_string(MlaMode m);
const char* to_string(DeviceKind d);
const char* to_string(KvDType t);  // "f32" | "bf16" | "f16"
int kv_dtype_bytes(KvDType t);     // bytes per cached value
// Parses "f32" | "bf16" | "f16" (the --kv-type values); false for anything else.
bool parse_kv_dtype(std::string_view text, KvDType& out);

struct BackendOptions {
  DeviceKind device = DeviceKind::Auto;
  int n_threads = 0;  // 0 = hardware concurrency
  MlaMode mla = MlaMode::Absorbed;
  int max_context = 0;  // 0 = min(max_position_embeddings, 4096)
  KvDType kv_dtype = KvDType::F32;  // what the KV cache stores
};

enum class StepStatus { Ok, ContextFull };

// The largest logits of one position and the log-sum-exp of all of them: everything greedy and
// top-k sampling (k <= n) need, so that a device backend sends n entries to the host, not the vocabulary.
constexpr int kMaxTopLogits = 32;
struct TopLogits {
  std::vector<int32_t> id;   // [n] by descending logit; equal logits: lower id first
  std::vector<float> logit;  // [n]
  float lse = 0.0f;          // log(sum(exp(logits))): softmax(logits)[id[i]] = exp(logit[i] - lse)
};
// The host reference of that selection (the default Backend::forward_top uses it). n in 1..min(V, kMaxTopLogits).
TopLogits top_logits(std::span<const float> logits, int n);

struct ForwardRequest {
  std::span<const int32_t> tokens;  // run at positions start_pos .. start_pos + n - 1
  int start_pos = 0;                // must equal the number of cached positions
  bool all_logits = false;          // logits for every token (eval); else only the last
  TraceSink* trace = nullptr;       // null or a sink whose points are all off: no tracing cost
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu (2 threads)", "cuda (NVIDIA H200)"
  virtual DeviceKind kind() const = 0;
  virtual MlaMode mla_mode() const = 0;
  virtual int max_context() const = 0;

  // Appends the tokens to the KV cache. logits: [n_out, vocab_size] where n_out is tokens.size()
  // with all_logits, else 1. Returns ContextFull (and does nothing) when the cache would overflow.
  virtual StepStatus forward(const ForwardRequest& req, std::vector<float>& logits) = 0;
  // forward() for a generation step: instead of the logits, the top n (1..kMaxTopLogits, at most
  // vocab_size) of the last position's logits. req.all_logits must be false. The default runs
  // forward() and selects on the host; a device backend selects where the logits are.
  virtual StepStatus forward_top(const ForwardRequest& req, int n, TopLogits& top);
  // Forget cached positions >= n (regenerate, edit-and-resend, fork at a token).
  virtual void truncate(int n_positions) = 0;
  virtual int n_cached() const = 0;
  // Bytes of KV cache holding data now (latent cache in absorbed mode, K/V in naive mode), in kv_dtype().
  virtual uint64_t kv_bytes_in_use() const = 0;
  // The element type the KV cache really holds: every KV figure shown to a user names this dtype.
  virtual KvDType kv_dtype() const { return KvDType::F32; }
};

std::unique_ptr<Backend> make_cpu_backend(const Model& model, const BackendOptions& opt);
// Throws Error when built without CUDA or when no device is usable (message says which).
std::unique_ptr<Backend> make_cuda_backend(const Model& model, const BackendOptions& opt);
// True when the CUDA backend was compiled in and a device answers; `why` explains a false.
bool cuda_device_available(std::string* why = nullptr);
// Auto picks CUDA when available, else CPU.
std::unique_ptr<Backend> make_backend(const Model& model, const BackendOptions& opt);
// Whether make_backend would compute on the host for this device choice (ModelLoadOptions::host_compute).
bool computes_on_host(DeviceKind device);

}  // namespace mlascope
