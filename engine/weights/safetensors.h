// engine/weights/safetensors.h — our own reader and writer of the safetensors format.
//
// Layout: u64 little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, name: {"dtype": "BF16", "shape": [...], "data_offsets": [begin, end)}}
// then the raw little-endian data; offsets are relative to the first byte after the header.
// The reader trusts nothing in the header: every length, offset and product is checked against the
// file before a byte of tensor data is touched, so a lying file gives a one-line Error, not a crash.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../tensor.h"

namespace mlascope {

class MappedFile;
struct MapOptions;

// Headers above this are refused before parsing (the reference implementation uses the same bound):
// a real checkpoint's header is a few MB at most, so a larger one is a corrupt or hostile file.
constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

struct SafetensorsFile {
  std::shared_ptr<MappedFile> file;   // keeps the views' bytes alive
  std::string display_name;           // path as given, for error messages
  std::map<std::string, std::string> metadata;
  std::vector<TensorView> tensors;    // header order is not preserved: sorted by data offset
  uint64_t data_start = 0;            // 8 + N
};

// Maps and validates one file. Errors: "[safetensors] PATH: tensor 'x' ...".
// options: MapOptions{.weights = true, ...} when loading a model (residency policy, read progress).
SafetensorsFile read_safetensors(const std::filesystem::path& path, const MapOptions& options);
SafetensorsFile read_safetensors(const std::filesystem::path& path);  // mapped: inspection, tests

// Validates a header against a data section of `data_size` bytes starting at `data`; fills
// tensors (views into `data`) and metadata. Exposed for tests that craft headers in memory.
void parse_safetensors_header(const std::string& display_name, const char* header, uint64_t header_len,
                              const uint8_t* data, uint64_t data_size, SafetensorsFile& out);

// DType from a safetensors dtype string; throws naming file and tensor for unknown/unsupported ones.
DType safetensors_dtype(const std::string& s, const std::string& file, const std::string& tensor);
// The safetensors spelling of a dtype (throws for GGUF block types, which safetensors cannot hold).
const char* safetensors_dtype_name(DType t);

// Writes tensors (in the given order, each 8-byte aligned) and string metadata. Used by
// `mlascope eval --dump` and by tests that craft FP8 or broken files. Throws Error on I/O errors or
// a view whose nbytes does not match its shape and dtype.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Convenience views over caller-owned buffers for the writer.
TensorView f32_view(std::string name, std::vector<int64_t> shape, const float* data);
TensorView i32_view(std::string name, std::vector<int64_t> shape, const int32_t* data);

}  // namespace mlascope
