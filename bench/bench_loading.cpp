// bench/bench_loading.cpp — CPU time to open a checkpoint with DeepSeek-V3's tensor count, before
// any weight is read: header/index parsing + the WeightStore + binding every tensor to its layer.
// Targets (issue 12): a single-file checkpoint with ~45k tensors (61 layers x 256 experts) opens in
// under 1 s of CPU; a sharded FP8 checkpoint whose index lists ~92k entries (weights + their
// `weight_scale_inv`) in under 2 s. The tensors keep DeepSeek-V3's names and counts but tiny widths,
// so the files are tens of MB instead of 700 GB and only the open + bind path is measured.
//
//   build/bench/bench_loading [--runs N] [--dir DIR] [--keep]
//
// Prints the median of N runs (default 5) of process CPU seconds (what to read on a shared machine)
// and wall seconds for each case. Never asserts. --keep leaves the two checkpoints in DIR (single/,
// fp8/) so another binary can be timed on them, e.g. an older build:
//   /usr/bin/time -f %U+%S OLD/mlascope info --model DIR/single --mmap
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/model/model.h"
#include "engine/tensor_names.h"
#include "engine/weights/mapped_file.h"
#include "engine/weights/safetensors.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

double cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// DeepSeek-V3's counts (61 layers, first 3 dense, 256 routed experts in 8 groups, top-8 of 4
// groups, 128 heads, 1 shared expert, q_lora) at tiny widths.
std::string v3_config_json() {
  nlohmann::json j = {
      {"architectures", {"DeepseekV3ForCausalLM"}},
      {"model_type", "deepseek_v3"},
      {"vocab_size", 256},
      {"hidden_size", 32},
      {"intermediate_size", 64},
      {"moe_intermediate_size", 16},
      {"num_hidden_layers", 61},
      {"num_attention_heads", 128},
      {"num_key_value_heads", 128},
      {"kv_lora_rank", 16},
      {"q_lora_rank", 16},
      {"qk_nope_head_dim", 8},
      {"qk_rope_head_dim", 8},
      {"v_head_dim", 8},
      {"n_routed_experts", 256},
      {"n_shared_experts", 1},
      {"num_experts_per_tok", 8},
      {"n_group", 8},
      {"topk_group", 4},
      {"topk_method", "noaux_tc"},
      {"scoring_func", "sigmoid"},
      {"norm_topk_prob", true},
      {"routed_scaling_factor", 2.5},
      {"first_k_dense_replace", 3},
      {"moe_layer_freq", 1},
      {"max_position_embeddings", 4096},
      {"rms_norm_eps", 1e-6},
      {"rope_theta", 10000.0},
      {"tie_word_embeddings", false},
      {"bos_token_id", 0},
      {"eos_token_id", 1},
      {"torch_dtype", "bfloat16"},
  };
  return j.dump(2);
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

bool is_fp8_weight(const std::string& n) {
  auto ends = [&](const char* s) {
    const size_t k = std::strlen(s);
    return n.size() >= k && n.compare(n.size() - k, k, s) == 0;
  };
  return n.rfind("model.layers.", 0) == 0 && (ends("_proj.weight") || ends("kv_a_proj_with_mqa.weight"));
}

// One BF16 file holding every tensor the config implies (~45k for V3's counts).
size_t make_single(const fs::path& dir, const ModelConfig& c) {
  fs::create_directories(dir);
  write_text(dir / "config.json", v3_config_json());
  const auto shapes = hf_tensor_shapes(c);
  size_t max_bytes = 0;
  for (const auto& [name, shape] : shapes) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    max_bytes = std::max(max_bytes, n * 2);
  }
  std::vector<uint8_t> zeros(max_bytes, 0);
  std::vector<TensorView> views;
  views.reserve(shapes.size());
  for (const auto& [name, shape] : shapes) {
    TensorView v;
    v.name = name;
    v.dtype = DType::BF16;
    v.shape = shape;
    v.nbytes = static_cast<size_t>(v.numel()) * 2;
    v.data = zeros.data();
    views.push_back(std::move(v));
  }
  write_safetensors(dir / "model.safetensors", views);
  return views.size();
}

// FP8 weights with 128x128 block scales (`<name>_scale_inv`), sharded like the published V3
// checkpoint (163 shards) with model.safetensors.index.json naming every entry.
size_t make_fp8_sharded(const fs::path& dir, const ModelConfig& c, int n_shards) {
  fs::create_directories(dir);
  write_text(dir / "config.json", v3_config_json());
  const auto shapes = hf_tensor_shapes(c);
  std::vector<std::vector<TensorView>> shard(static_cast<size_t>(n_shards));
  std::vector<uint8_t> zeros(1 << 20, 0);
  std::vector<float> ones(1 << 12, 1.0f);
  nlohmann::json weight_map = nlohmann::json::object();
  size_t entries = 0;
  const size_t per_shard = (shapes.size() + static_cast<size_t>(n_shards) - 1) / static_cast<size_t>(n_shards);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto& [name, shape] = shapes[i];
    const size_t s = std::min(i / per_shard, static_cast<size_t>(n_shards - 1));
    char file[64];
    std::snprintf(file, sizeof file, "model-%05zu-of-%06d.safetensors", s + 1, n_shards);
    TensorView v;
    v.name = name;
    v.shape = shape;
    const bool fp8 = is_fp8_weight(name) && shape.size() == 2;
    v.dtype = fp8 ? DType::F8_E4M3 : DType::BF16;
    v.nbytes = static_cast<size_t>(v.numel()) * (fp8 ? 1 : 2);
    v.data = zeros.data();
    shard[s].push_back(v);
    weight_map[name] = file;
    ++entries;
    if (fp8) {
      const int64_t br = (shape[0] + 127) / 128, bc = (shape[1] + 127) / 128;
      shard[s].push_back(f32_view(name + "_scale_inv", {br, bc}, ones.data()));
      weight_map[name + "_scale_inv"] = file;
      ++entries;
    }
  }
  for (int s = 0; s < n_shards; ++s) {
    char file[64];
    std::snprintf(file, sizeof file, "model-%05d-of-%06d.safetensors", s + 1, n_shards);
    write_safetensors(dir / file, shard[static_cast<size_t>(s)]);
  }
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", std::move(weight_map)}};
  write_text(dir / "model.safetensors.index.json", index.dump(2));
  return entries;
}

struct Figures {
  double cpu = 0, wall = 0;
};

Figures time_open(const fs::path& dir, int runs) {
  std::vector<double> cpu, wall;
  ModelLoadOptions lo;
  lo.check_memory = false;
  for (int r = 0; r < runs; ++r) {
    const double c0 = cpu_s();
    const auto w0 = std::chrono::steady_clock::now();
    {
      std::shared_ptr<Model> m = Model::load(dir, lo);
      if (m->n_layers() != 61) std::fprintf(stderr, "unexpected layer count %d\n", m->n_layers());
    }
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count());
    cpu.push_back(cpu_s() - c0);
  }
  return {median(cpu), median(wall)};
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  bool keep = false;
  fs::path dir = fs::temp_directory_path() / "mlascope_bench_loading";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!std::strcmp(argv[i], "--keep")) keep = true;
    else {
      std::fprintf(stderr, "usage: bench_loading [--runs N] [--dir DIR] [--keep]\n");
      return 2;
    }
  }
  // Mapped, not read: the cases measure parsing and binding, not disk bandwidth.
  MappedFile::set_residency(Residency::Map);
  const ModelConfig c = ModelConfig::from_json_text(v3_config_json(), "bench config");
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::printf("bench_loading: DeepSeek-V3 counts (61 layers, 256 routed experts, 128 heads) at tiny widths; "
              "median of %d runs, process CPU seconds (wall in brackets)\n", runs);

  const size_t n_single = make_single(dir / "single", c);
  const Figures single = time_open(dir / "single", runs);
  std::printf("single file, %zu tensors (BF16):          %.3f s CPU  [%.3f s wall]  target < 1 s CPU\n", n_single,
              single.cpu, single.wall);

  const size_t n_fp8 = make_fp8_sharded(dir / "fp8", c, 163);
  const Figures fp8 = time_open(dir / "fp8", runs);
  std::printf("FP8 sharded, 163 shards, %zu index entries:  %.3f s CPU  [%.3f s wall]  target < 2 s CPU\n", n_fp8,
              fp8.cpu, fp8.wall);
  if (!keep) fs::remove_all(dir, ec);
  return 0;
}
