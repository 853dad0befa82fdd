// engine/weights/weight_store.h — the tensors of one model, by HF name, whatever the file format.
// Safetensors (HF folders, single or sharded) and GGUF both load into a WeightStore; GGUF names
// are mapped onto HF names (engine/tensor_names.*) so the model code sees one naming.
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "../tensor.h"

namespace mlascope {

// Progress of a long load: bytes done of total; shown by the terminal and the GUI.
using LoadProgress = std::function<void(uint64_t done, uint64_t total)>;

class MappedFile;  // engine/weights/mapped_file.h

class WeightStore {
 public:
  WeightStore();
  ~WeightStore();
  WeightStore(WeightStore&&) noexcept;
  WeightStore& operator=(WeightStore&&) noexcept;

  // Loads an HF folder (config.json + model.safetensors or model.safetensors.index.json + shards)
  // or a .gguf file. Validates every header field; throws Error naming the file and tensor.
  static WeightStore open(const std::filesystem::path& path, const LoadProgress& progress = {});

  const TensorView* find(const std::string& hf_name) const;
  // Throws "[weights] FILE: tensor 'name' is missing" when absent.
  const TensorView& get(const std::string& hf_name) const;
  // Shape/dtype check against what the config implies; throws naming the file and tensor.
  const TensorView& expect(const std::string& hf_name, const std::vector<int64_t>& shape) const;

  const std::vector<std::string>& names() const { return order_; }
  uint64_t total_bytes() const { return total_bytes_; }
  // Where the tensor came from (for error messages).
  std::string file_of(const std::string& hf_name) const;

  // Q4_K, Q5_0, Q8_0 and Q6_K tensors of files read into memory (MappedFile::resident) are reordered in
  // place into the CPU kernels' layouts and become DType::Q4_K_R / Q5_0_R / Q8_0_R / Q6_K_R (same values;
  // weights/quant.h).
  // Mapped files keep the file's layout. Returns the bytes reordered. The model loader calls this;
  // tools that copy tensors out (convert) open a store without it.
  uint64_t reorder_for_cpu();

  // Used by the format readers.
  void add(TensorView t, int file_index);
  int add_file(std::shared_ptr<MappedFile> f, std::string display_name);
  // Keep a buffer alive for tensors that had to be converted on load (e.g. GGUF split tensors).
  const void* keep(std::vector<uint8_t> bytes);

 private:
  std::unordered_map<std::string, std::pair<TensorView, int>> tensors_;
  std::vector<std::string> order_;
  std::vector<std::shared_ptr<MappedFile>> files_;
  std::vector<std::string> file_names_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> owned_;
  uint64_t total_bytes_ = 0;
};

}  // namespace mlascope
