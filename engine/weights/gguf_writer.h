// engine/weights/gguf_writer.h — writes GGUF v3 files (the exporter behind `mlascope convert`,
// and the tests' way to make files). Tensor bytes are produced one tensor at a time while writing,
// so converting a model never holds more than one converted tensor in memory.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "../tensor.h"
#include "gguf_file.h"

namespace mlascope {

class GgufWriter {
 public:
  explicit GgufWriter(uint64_t alignment = GgufFile::kDefaultAlignment);

  void set_u16(const std::string& key, uint16_t v);  // split.no / split.count are u16 in llama.cpp
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);

  // Fills exactly dtype_bytes(dtype, numel) bytes at dst.
  using Producer = std::function<void(uint8_t* dst)>;
  // `shape` is row-major, outermost first ([out_features, in_features]); the file stores it
  // innermost first, as GGUF does. The innermost size must be a whole number of blocks.
  void add_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape, Producer produce);
  void add_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data);

  // Writes `path` via a temporary file renamed into place; throws Error "[gguf] PATH: ...".
  // progress(done, total) in bytes of tensor data.
  void write(const std::filesystem::path& path,
             const std::function<void(uint64_t, uint64_t)>& progress = {}) const;

  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t nbytes;
    Producer produce;
  };
  void begin_kv(const std::string& key, GgufType t);
  template <class T>
  void put(const T& v);
  void put_string(const std::string& s);

  uint64_t alignment_;
  uint64_t n_kv_ = 0;
  std::vector<uint8_t> kv_bytes_;
  std::vector<std::string> keys_;
  std::vector<Tensor> tensors_;
};

}  // namespace mlascope
