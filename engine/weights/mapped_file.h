// engine/weights/mapped_file.h — a read-only memory-mapped file (weights are never copied).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace mlascope {

class MappedFile {
 public:
  // Throws Error "[where] PATH: cannot open/map ..." on failure.
  MappedFile(const std::filesystem::path& path, const char* where);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
};

}  // namespace mlascope
