// engine/weights/mapped_file.h — a weights file held read-only in memory, mapped or resident.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace mlascope {

// How a weights file is held. Map: the file's pages (shared with the page cache, read lazily).
// Resident: read once into anonymous memory backed by transparent huge pages. Decode streams every
// active weight each token, and through 4 KiB file pages it measured ~25 % slower here (TLB misses:
// 18-19 vs 24-25 GB/s on a 1 GiB F16 model, `mlascope bench`). Resident files also take the CPU
// kernels' layouts (WeightStore::reorder_for_cpu), which small models gain from too (the demo as
// Q4_K_M, 7.9 MB: decode +12 %, prefill +10 %). Auto: Resident for files of 4 MiB or more that take
// under half of MemAvailable, Map otherwise (a model near the RAM size must stay evictable; a test
// checkpoint of a few hundred KiB gains nothing from a copy).
enum class Residency { Auto, Map, Resident };

// What the file is opened for. Metadata readers (info, config probes, convert) always map; the
// weight loaders ask for `weights`, which follows the residency policy, with progress of the read.
struct MapOptions {
  bool weights = false;
  std::function<void(uint64_t done, uint64_t total)> on_read;  // resident reads only
};

class MappedFile {
 public:
  // Throws Error "[where] PATH: cannot open/map/read ..." on failure.
  MappedFile(const std::filesystem::path& path, const char* where, const MapOptions& options = {});
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool resident() const { return resident_; }
  // Runs edit on the bytes with write access, for a resident file only (a mapping is the page
  // cache's and stays untouched): false when mapped. Read-only again afterwards.
  bool rewrite(const std::function<void(uint8_t* data, uint64_t size)>& edit);

  // The policy for files opened from now on (the front ends' --mmap sets Map).
  static void set_residency(Residency r);
  static Residency residency();

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  bool resident_ = false;
  std::string path_;
};

}  // namespace mlascope
