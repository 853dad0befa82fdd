// engine/weights/weight_store_open.cpp — WeightStore::open: HF folders (single or sharded
// safetensors) and .gguf files, plus DeepSeek-V3 FP8 block scales attached to their weights.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "../error.h"
#include "../json_limits.h"
#include "gguf.h"
#include "mapped_file.h"
#include "safetensors.h"
#include "weight_store.h"

namespace mlascope {

namespace fs = std::filesystem;

namespace {

constexpr const char* kWhere = "weights";
constexpr int64_t kFp8Block = 128;  // DeepSeek-V3 quantizes weights in 128x128 tiles

bool aligned_for(const TensorView& t) {
  const auto a = static_cast<uintptr_t>(dtype_block_bytes(t.dtype));
  return dtype_is_quantized(t.dtype) || a <= 1 || reinterpret_cast<uintptr_t>(t.data) % a == 0;
}

// The index maps tensor -> shard file; shard names are plain relative paths in the same folder.
std::map<std::string, std::string> read_index(const fs::path& index_path) {
  const std::string src = index_path.string();
  std::ifstream f(index_path, std::ios::binary);
  if (!f) fail(kWhere, src, "cannot open file");
  std::stringstream ss;
  ss << f.rdbuf();
  const nlohmann::json j = parse_json_bounded(ss.str(), kWhere, src);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail(kWhere, src, "field 'weight_map' is missing or not an object");
  std::map<std::string, std::string> map;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      fail(kWhere, src, "field 'weight_map' entry '" + it.key() + "' must be a file name");
    const std::string shard = it.value().get<std::string>();
    const fs::path p(shard);
    // An index is data from the internet: it must not point outside the model folder.
    if (shard.empty() || p.is_absolute() || std::any_of(p.begin(), p.end(), [](const fs::path& c) { return c == ".."; }))
      fail(kWhere, src, "tensor '" + it.key() + "' names shard '" + shard + "' outside the model folder");
    map[it.key()] = shard;
  }
  if (map.empty()) fail(kWhere, src, "field 'weight_map' is empty");
  return map;
}

}  // namespace

WeightStore WeightStore::open(const fs::path& path, const LoadProgress& progress) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(kWhere, path.string(), "no such file or folder");
  if (fs::is_regular_file(path) && path.extension() == ".gguf") {
    WeightStore ws;
    load_gguf(ws, path, progress, nullptr, nullptr);
    return ws;
  }

  // Which safetensors files, and (for a sharded folder) which tensor each must hold.
  std::vector<fs::path> shards;
  std::map<std::string, std::string> index;
  fs::path index_path;
  if (fs::is_directory(path)) {
    const fs::path single = path / "model.safetensors";
    index_path = path / "model.safetensors.index.json";
    if (fs::exists(single)) {
      shards.push_back(single);
    } else if (fs::exists(index_path)) {
      index = read_index(index_path);
      std::vector<std::string> names;
      for (const auto& [tensor, shard] : index) names.push_back(shard);
      std::sort(names.begin(), names.end());
      names.erase(std::unique(names.begin(), names.end()), names.end());
      for (const std::string& n : names) {
        if (!fs::is_regular_file(path / n))
          fail(kWhere, index_path.string(), "shard '" + n + "' named by the index does not exist");
        shards.push_back(path / n);
      }
    } else {
      if (const std::optional<fs::path> g = gguf_model_in_folder(path)) return open(*g, progress);
      fail(kWhere, path.string(), "no model.safetensors or model.safetensors.index.json in this folder");
    }
  } else if (path.extension() == ".safetensors") {
    shards.push_back(path);
  } else {
    fail(kWhere, path.string(), "not a model folder, .safetensors or .gguf file");
  }

  WeightStore ws;
  uint64_t total = 0, done = 0;
  for (const fs::path& s : shards) total += fs::file_size(s, ec);
  for (const fs::path& s : shards) {
    MapOptions mo;
    mo.weights = true;
    if (progress) mo.on_read = [&progress, &done, total](uint64_t d, uint64_t) { progress(done + d, total); };
    SafetensorsFile f = read_safetensors(s, mo);
    const std::string shard_name = s.filename().string();
    const int fi = ws.add_file(f.file, f.display_name);
    for (TensorView& t : f.tensors) {
      if (!index.empty()) {
        auto it = index.find(t.name);
        if (it == index.end())
          fail(kWhere, f.display_name, "tensor '" + t.name + "' is not listed in " + index_path.filename().string());
        if (it->second != shard_name)
          fail(kWhere, f.display_name,
               "tensor '" + t.name + "' is here but " + index_path.filename().string() + " places it in '" +
                   it->second + "'");
      }
      // The format does not promise aligned offsets; kernels load whole elements, so copy the rare
      // misaligned tensor instead of refusing a valid file.
      if (!aligned_for(t)) {
        std::vector<uint8_t> copy(t.nbytes);
        std::memcpy(copy.data(), t.data, t.nbytes);
        if (auto log = spdlog::get("engine")) log->debug("{}: tensor '{}' is misaligned, copied", f.display_name, t.name);
        t.data = ws.keep(std::move(copy));
      }
      ws.add(std::move(t), fi);
    }
    done += f.file->size();
    if (progress) progress(done, total);
  }
  for (const auto& [tensor, shard] : index)
    if (!ws.find(tensor))
      fail(kWhere, (path / shard).string(),
           "tensor '" + tensor + "' is missing (" + index_path.filename().string() + " places it in this shard)");

  // FP8 weights carry their block scales in a sibling tensor `<name>_scale_inv`; the store hands
  // out one view with the scales attached so no caller can forget them.
  for (auto& [name, entry] : ws.tensors_) {
    TensorView& t = entry.first;
    if (t.dtype != DType::F8_E4M3) continue;
    const std::string file = ws.file_names_[static_cast<size_t>(entry.second)];
    const std::string sname = name + "_scale_inv";
    auto sit = ws.tensors_.find(sname);
    if (sit == ws.tensors_.end())
      fail(kWhere, file, "FP8 tensor '" + name + "' has no block scales '" + sname + "'");
    const TensorView& s = sit->second.first;
    if (t.shape.size() != 2) fail(kWhere, file, "FP8 tensor '" + name + "' must be 2-D, has shape " + t.shape_string());
    const std::vector<int64_t> want = {(t.shape[0] + kFp8Block - 1) / kFp8Block, (t.shape[1] + kFp8Block - 1) / kFp8Block};
    if (s.dtype != DType::F32)
      fail(kWhere, ws.file_names_[static_cast<size_t>(sit->second.second)],
           "FP8 scale tensor '" + sname + "' must be F32, is " + to_string(s.dtype));
    if (s.shape != want) {
      TensorView w;
      w.shape = want;
      fail(kWhere, ws.file_names_[static_cast<size_t>(sit->second.second)],
           "FP8 scale tensor '" + sname + "' has shape " + s.shape_string() + " but " + t.shape_string() +
               " in 128x128 blocks needs " + w.shape_string());
    }
    t.scale_inv = static_cast<const float*>(s.data);
    t.scale_rows = want[0];
    t.scale_cols = want[1];
  }
  return ws;
}

}  // namespace mlascope
