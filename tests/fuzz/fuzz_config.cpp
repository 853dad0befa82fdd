// tests/fuzz/fuzz_config.cpp — config.json: parse and validate (ModelConfig::from_json_text),
// then everything derived from a config that passed: RoPE/YaRN tables, the softmax scale, KV
// memory per scheme (what `mlascope kv` and `info` print) and the tensor list a load checks against.
// A config that validates must give finite derived numbers.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "app/terminal_views.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/kv_memory.h"
#include "engine/tensor_names.h"
#include "fuzz_util.h"

using namespace mlascope;

namespace {
void expect_finite(double v, const char* what) {
  if (!std::isfinite(v)) {
    std::fprintf(stderr, "fuzz: a validated config gives %s = %g\n", what, v);
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const ModelConfig c = ModelConfig::from_json_text(text, "config.json");
    expect_finite(c.softmax_scale(), "softmax_scale");
    expect_finite(c.rope_mscale(), "rope_mscale");
    for (float f : c.rope_inv_freq()) expect_finite(f, "rope_inv_freq");
    for (float f : c.yarn_ramp()) expect_finite(f, "yarn_ramp");
    (void)c.n_moe_layers();
    const KvMemory kv = kv_memory(c, 2, 8);
    for (const KvFootprint& f : kv.schemes) expect_finite(f.bytes_per_token, "kv bytes_per_token");
    const app::KvReport r = app::make_kv_report(c, "config.json", "bf16", c.max_position_embeddings, 8);
    (void)app::render_kv_text(r, app::ColorMode::Ansi256);
    (void)app::dump_json(app::kv_json(r));
    size_t n = 0;
    for_each_hf_tensor(c, [&n](const std::string&, const std::vector<int64_t>&) { return ++n < 200000; });
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
