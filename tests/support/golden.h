// tests/support/golden.h — read a golden case folder (golden.safetensors + case.json) for tests.
//   Golden g(data_path("golden/v3-tiny"));
//   const GoldenTensor& h = g.tensor("hidden.1");   // shape {T, D}, values as float
//   std::vector<int32_t> ids = g.ids("prompt_ids");
//   double tol = g.tolerance("hidden.1");           // case.json tolerances["hidden.L"]["max_abs"]
// Reads through the engine's safetensors parser, so a test using it also exercises that parser.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlascope::test {

struct GoldenTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;      // every tensor, I32 ones converted exactly (ids < 2^24)
  std::vector<int32_t> ints;    // I32 tensors only

  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int64_t dim(size_t i) const { return shape.at(i); }
  // Row-major element access for 1-3 dims.
  float at(int64_t i) const { return data.at(static_cast<size_t>(i)); }
  float at(int64_t i, int64_t j) const { return data.at(static_cast<size_t>(i * shape.at(1) + j)); }
  float at(int64_t i, int64_t j, int64_t k) const {
    return data.at(static_cast<size_t>((i * shape.at(1) + j) * shape.at(2) + k));
  }
  const float* row(int64_t i) const { return data.data() + i * (numel() / shape.at(0)); }
};

class Golden {
 public:
  // `dir` holds golden.safetensors and case.json (and config.json + model weights).
  explicit Golden(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws std::out_of_range naming the tensor when absent.
  const GoldenTensor& tensor(const std::string& name) const;
  const std::vector<int32_t>& ids(const std::string& name) const { return tensor(name).ints; }
  std::vector<std::string> names() const;

  const nlohmann::json& case_json() const { return case_; }
  // case.json -> tolerances[key]["max_abs"], where key replaces a trailing ".<layer>" by ".L"
  // ("hidden.3" -> "hidden.L"). Throws when the case gives no max_abs for it.
  double tolerance(const std::string& tensor_name) const;
  int prompt_len() const;
  std::vector<int32_t> prompt_ids() const { return ids("prompt_ids"); }

 private:
  std::filesystem::path dir_;
  std::map<std::string, GoldenTensor> tensors_;
  nlohmann::json case_;
};

// Every golden case in the repo: the three tests/data/golden cases and the demo model.
std::vector<std::filesystem::path> golden_case_dirs();

}  // namespace mlascope::test
