// tests/fuzz/fuzz_safetensors.cpp — safetensors files and sharded checkpoints (the input's first
// byte picks which), opened as `--model` opens them (WeightStore::open), then every tensor's first
// and last byte read so ASan sees any view that points outside its file.
//   even: the rest is one .safetensors file
//   odd:  the rest is model.safetensors.index.json beside two real shards (a.weight, b.weight)
#include <cstdint>
#include <map>
#include <vector>

#include "engine/error.h"
#include "engine/weights/safetensors.h"
#include "engine/weights/weight_store.h"
#include "fuzz_util.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

// A folder holding two shards; the index written into it names tensors in them.
const fs::path& sharded_dir() {
  static const fs::path dir = [] {
    const fs::path d = fuzz::temp_dir() / "sharded";
    fs::create_directories(d);
    static const float a[6] = {1, 2, 3, 4, 5, 6};
    static const float b[2] = {7, 8};
    write_safetensors(d / "model-00001-of-00002.safetensors", {f32_view("a.weight", {2, 3}, a)});
    write_safetensors(d / "model-00002-of-00002.safetensors", {f32_view("b.weight", {2}, b)}, {{"format", "pt"}});
    return d;
  }();
  return dir;
}

volatile uint8_t g_sink;

void touch(const WeightStore& ws) {
  for (const std::string& name : ws.names()) {
    const TensorView& t = ws.get(name);
    if (t.nbytes == 0) continue;
    const auto* p = static_cast<const uint8_t*>(t.data);
    g_sink = static_cast<uint8_t>(p[0] ^ p[t.nbytes - 1]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if ((data[0] & 1) == 0) {
      const fs::path file = fuzz::temp_dir() / "input.safetensors";
      fuzz::write_file(file, rest);
      touch(WeightStore::open(file));
    } else {
      const fs::path& dir = sharded_dir();
      fuzz::write_file(dir / "model.safetensors.index.json", rest);
      touch(WeightStore::open(dir));
    }
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
