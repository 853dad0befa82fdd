// engine/weights/gguf_file.h — a parsed, memory-mapped GGUF file (v2 and v3, little-endian):
// header, typed metadata, tensor infos and the aligned data section. Every count, length,
// dimension and offset is checked against the bytes that remain before anything is allocated
// from it, so a lying file gives "[gguf] FILE: ..." and never an overflow or a huge allocation.
// The layout is the one in ggml's docs/gguf.md; nothing here knows about DeepSeek (see gguf.h).
// Split models (llama.cpp's gguf-split: NAME-00001-of-00003.gguf, keys split.no / split.count /
// split.tensors.count, all metadata in the first part) open as one GgufFile from any part.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../tensor.h"

namespace mlascope {

class MappedFile;
struct MapOptions;

// Metadata value types as numbered in the file.
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* to_string(GgufType t);

struct GgufValue {
  GgufType type = GgufType::U8;
  GgufType elem_type = GgufType::U8;  // arrays only
  // Scalars: integers in `i` (unsigned 64-bit values above INT64_MAX are refused), every number
  // also in `f`; bools as 0/1. Arrays: numbers in `numbers`, strings in `strings`.
  int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::vector<double> numbers;
  std::vector<std::string> strings;

  bool is_integer() const;
  bool is_number() const { return is_integer() || type == GgufType::F32 || type == GgufType::F64; }
  size_t array_size() const { return elem_type == GgufType::String ? strings.size() : numbers.size(); }
};

// ggml tensor type ids (the subset a DeepSeek GGUF uses; others are named in errors only).
enum : uint32_t {
  kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ4_1 = 3, kGgmlQ5_0 = 6, kGgmlQ5_1 = 7, kGgmlQ8_0 = 8,
  kGgmlQ2_K = 10, kGgmlQ3_K = 11, kGgmlQ4_K = 12, kGgmlQ5_K = 13, kGgmlQ6_K = 14, kGgmlIQ4_NL = 20,
  kGgmlIQ4_XS = 23, kGgmlI8 = 24, kGgmlI32 = 26, kGgmlI64 = 27, kGgmlBF16 = 30,
};
// nullopt for a type we cannot compute with; `ggml_type_name` names any id for the message.
std::optional<DType> dtype_from_ggml(uint32_t ggml_type);
std::optional<uint32_t> ggml_from_dtype(DType t);
std::string ggml_type_name(uint32_t ggml_type);
// The weight types mlascope computes with, for the message that refuses any other:
// "F32, F16, BF16, Q4_0, ...".
std::string supported_ggml_types();

struct GgufTensorInfo {
  std::string name;
  uint32_t ggml_type = 0;
  DType dtype = DType::F32;
  std::vector<int64_t> ne;  // GGUF order: innermost (contiguous) dimension first
  uint64_t offset = 0;      // from the start of the data section
  uint64_t nbytes = 0;
  uint32_t part = 0;        // which file of a split model holds the data (0 for a single file)
  // Row-major shape, outermost first (HF order: a linear weight is [out_features, in_features]).
  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }
};

class GgufFile {
 public:
  static constexpr uint64_t kDefaultAlignment = 32;

  // Maps and parses; throws Error "[gguf] FILE: ..." naming the field at fault.
  // Metadata and tensor infos only: the file stays mapped. open_weights() is for loading the model
  // (resident in huge pages by the residency policy, reporting the read).
  // Given any part of a split model, every part is opened (metadata from the first, tensors from
  // all); a missing part, or one whose split keys disagree, is an error naming that part.
  static GgufFile open(const std::filesystem::path& path);
  static GgufFile open_weights(const std::filesystem::path& path, const MapOptions& options);
  // One file exactly as it is, split keys or not (tests, tools that look at a single part).
  static GgufFile open_part(const std::filesystem::path& path);
  static GgufFile open_part(const std::filesystem::path& path, const MapOptions& options);

  // The file named in errors: the first part of a split model.
  const std::string& display_name() const { return display_name_; }
  const std::shared_ptr<MappedFile>& mapped(size_t part = 0) const { return parts_.at(part).file; }
  size_t n_parts() const { return parts_.size(); }
  const std::string& part_name(size_t part) const { return parts_.at(part).display_name; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const GgufValue* find(const std::string& key) const;
  // Typed getters: a missing key with no default, a wrong type or a value outside [lo, hi]
  // throws naming the key.
  int64_t get_int(const std::string& key, int64_t lo, int64_t hi, std::optional<int64_t> def = {}) const;
  double get_float(const std::string& key, double lo, double hi, std::optional<double> def = {}) const;
  bool get_bool(const std::string& key, std::optional<bool> def = {}) const;
  std::string get_string(const std::string& key, std::optional<std::string> def = {}) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  const uint8_t* tensor_data(const GgufTensorInfo& t) const;

  [[noreturn]] void bad(const std::string& what) const;

 private:
  GgufFile() = default;
  void parse();
  // Splices parts 1.. (already parsed, checked against the split keys) into this first part.
  void absorb_parts(std::vector<GgufFile>& rest);

  struct Part {
    std::shared_ptr<MappedFile> file;
    std::string display_name;
    uint64_t data_offset = 0;
  };
  std::vector<Part> parts_;  // [0] is this file
  std::shared_ptr<MappedFile> file_;
  std::string display_name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace mlascope
