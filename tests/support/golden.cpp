// tests/support/golden.cpp — see golden.h.
#include "golden.h"

#include <fstream>
#include <stdexcept>

#include "data_paths.h"
#include "engine/error.h"
#include "engine/weights/safetensors.h"

namespace mlascope::test {

Golden::Golden(const std::filesystem::path& dir) : dir_(dir) {
  SafetensorsFile f = read_safetensors(dir / "golden.safetensors");
  for (const TensorView& v : f.tensors) {
    GoldenTensor t;
    t.name = v.name;
    t.shape = v.shape;
    if (v.dtype == DType::I32) {
      t.ints.resize(static_cast<size_t>(v.numel()));
      std::memcpy(t.ints.data(), v.data, v.nbytes);
      t.data.assign(t.ints.begin(), t.ints.end());
    } else {
      t.data = v.to_f32();
    }
    tensors_.emplace(t.name, std::move(t));
  }
  std::ifstream c(dir / "case.json");
  if (!c) throw Error("[golden] " + (dir / "case.json").string() + ": cannot open file");
  case_ = nlohmann::json::parse(c);
}

const GoldenTensor& Golden::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw std::out_of_range("golden " + dir_.string() + ": no tensor '" + name + "'");
  return it->second;
}

std::vector<std::string> Golden::names() const {
  std::vector<std::string> n;
  for (const auto& [k, v] : tensors_) n.push_back(k);
  return n;
}

double Golden::tolerance(const std::string& tensor_name) const {
  std::string key = tensor_name;
  const size_t dot = key.rfind('.');
  if (dot != std::string::npos && dot + 1 < key.size() &&
      key.find_first_not_of("0123456789", dot + 1) == std::string::npos)
    key = key.substr(0, dot) + ".L";
  const nlohmann::json& tol = case_.at("tolerances");
  if (!tol.contains(key) || !tol[key].is_object() || !tol[key].contains("max_abs"))
    throw std::out_of_range("golden " + dir_.string() + ": case.json gives no max_abs tolerance for '" + key + "'");
  return tol[key]["max_abs"].get<double>();
}

int Golden::prompt_len() const { return static_cast<int>(tensor("prompt_ids").numel()); }

std::vector<std::filesystem::path> golden_case_dirs() {
  return {data_path("golden/v2-lite-tiny"), data_path("golden/v2-grouped-yarn"), data_path("golden/v3-tiny"),
          asset_path("models/mla-moe-demo")};
}

}  // namespace mlascope::test
