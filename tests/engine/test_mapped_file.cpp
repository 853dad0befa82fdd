// tests/engine/test_mapped_file.cpp — a weights file held mapped or resident: the same bytes either
// way, resident memory read-only, the policy respected, and a missing file named in the error.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "engine/error.h"
#include "engine/weights/mapped_file.h"

using namespace mlascope;

namespace {
struct PolicyGuard {
  Residency saved = MappedFile::residency();
  ~PolicyGuard() { MappedFile::set_residency(saved); }
};

MapOptions for_weights() {
  MapOptions o;
  o.weights = true;
  return o;
}

std::filesystem::path write_random(const char* name, size_t n, std::vector<uint8_t>& bytes) {
  const auto p = std::filesystem::temp_directory_path() / (std::string(name) + "-" + std::to_string(::getpid()));
  std::mt19937 rng(3);
  bytes.resize(n);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(n));
  return p;
}
}  // namespace

TEST(MappedFile, ResidentAndMappedHoldTheSameBytes) {
  PolicyGuard g;
  std::vector<uint8_t> bytes;
  const auto p = write_random("mlascope-mf", (17u << 20) + 123, bytes);  // not a whole number of pages
  MappedFile::set_residency(Residency::Resident);
  std::vector<uint64_t> reported;
  MapOptions o = for_weights();
  o.on_read = [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, bytes.size());
    reported.push_back(done);
  };
  const MappedFile r(p, "test", o);
  MappedFile::set_residency(Residency::Map);
  const MappedFile m(p, "test", for_weights());
  EXPECT_TRUE(r.resident());
  EXPECT_FALSE(m.resident());
  ASSERT_EQ(r.size(), bytes.size());
  ASSERT_EQ(m.size(), bytes.size());
  EXPECT_EQ(0, std::memcmp(r.data(), bytes.data(), bytes.size()));
  EXPECT_EQ(0, std::memcmp(m.data(), bytes.data(), bytes.size()));
  ASSERT_FALSE(reported.empty());
  EXPECT_TRUE(std::is_sorted(reported.begin(), reported.end()));
  EXPECT_EQ(reported.back(), bytes.size()) << "the read's progress ends at the file size";
  std::filesystem::remove(p);
}

TEST(MappedFile, MetadataReadersAlwaysMap) {
  PolicyGuard g;
  std::vector<uint8_t> bytes;
  const auto p = write_random("mlascope-mf-meta", 20u << 20, bytes);
  MappedFile::set_residency(Residency::Resident);
  const MappedFile f(p, "test");  // e.g. `info` reading a GGUF header: no 20 MiB copy
  EXPECT_FALSE(f.resident());
  std::filesystem::remove(p);
}

TEST(MappedFile, AutoKeepsSmallFilesMapped) {
  PolicyGuard g;
  std::vector<uint8_t> bytes;
  const auto p = write_random("mlascope-mf-small", 4096 * 3, bytes);
  MappedFile::set_residency(Residency::Auto);
  const MappedFile f(p, "test", for_weights());
  EXPECT_FALSE(f.resident()) << "a 12 KiB file gains nothing from huge pages";
  EXPECT_EQ(0, std::memcmp(f.data(), bytes.data(), bytes.size()));
  std::filesystem::remove(p);
}

// A small quantized model (the demo as a 5-12 MB GGUF) is read in, so that it takes the CPU
// kernels' layouts; the boundary is 4 MiB.
TEST(MappedFile, AutoReadsInFilesFromFourMiB) {
  PolicyGuard g;
  MappedFile::set_residency(Residency::Auto);
  for (const uint64_t size : {(4ull << 20) - 1, 4ull << 20}) {
    std::vector<uint8_t> bytes;
    const auto p = write_random("mlascope-mf-4m", size, bytes);
    const MappedFile f(p, "test", for_weights());
    EXPECT_EQ(f.resident(), size >= (4ull << 20)) << size << " bytes";
    EXPECT_EQ(0, std::memcmp(f.data(), bytes.data(), bytes.size()));
    std::filesystem::remove(p);
  }
}

TEST(MappedFile, ResidentWeightsAreReadOnly) {
  PolicyGuard g;
  std::vector<uint8_t> bytes;
  const auto p = write_random("mlascope-mf-ro", 1u << 20, bytes);
  MappedFile::set_residency(Residency::Resident);
  const MappedFile f(p, "test", for_weights());
  ASSERT_TRUE(f.resident());
  EXPECT_DEATH({ const_cast<uint8_t*>(f.data())[100] = 1; }, "");
  std::filesystem::remove(p);
}

TEST(MappedFile, MissingFileIsNamed) {
  PolicyGuard g;
  MappedFile::set_residency(Residency::Resident);
  try {
    MappedFile f("/nonexistent/weights.safetensors", "safetensors", for_weights());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/weights.safetensors"), std::string::npos) << e.what();
  }
}
