// tests/sessions/test_fingerprint.cpp — weights_fingerprint against FNV-1a computed here by hand
// (checked on the published test vectors), and the properties sessions verify relies on.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "sessions/fingerprint.h"
#include "support/data_paths.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

uint64_t fnv1a(uint64_t h, const std::string& bytes) {
  for (unsigned char b : bytes) h = (h ^ b) * 0x100000001b3ull;
  return h;
}
constexpr uint64_t kOffset = 0xcbf29ce484222325ull;

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void poke(const fs::path& p, size_t at, char c) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(c);
}

}  // namespace

TEST(WeightsFingerprint, ReferenceFnvMatchesPublishedVectors) {
  // FNV-1a 64 test vectors (Fowler/Noll/Vo reference test suite).
  EXPECT_EQ(fnv1a(kOffset, ""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a(kOffset, "a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a(kOffset, "foobar"), 0x85944171f73967e8ull);
}

TEST(WeightsFingerprint, SmallFileIsNameSizeAndContents) {
  const fs::path dir = test::temp_dir("fingerprint-small");
  write(dir / "w.safetensors", "abc");
  write(dir / "config.json", "{}");  // not a weight file
  const uint64_t h = fnv1a(fnv1a(fnv1a(kOffset, "w.safetensors"), le64(3)), "abc");
  char want[24];
  std::snprintf(want, sizeof want, "fnv1a:%016llx", static_cast<unsigned long long>(h));
  EXPECT_EQ(sessions::weights_fingerprint(dir), want);
  EXPECT_EQ(sessions::weights_fingerprint(dir / "w.safetensors"), want);
  write(dir / "config.json", "{\"x\":1}");
  EXPECT_EQ(sessions::weights_fingerprint(dir), want);
  fs::remove_all(dir);
}

TEST(WeightsFingerprint, FilesInNameOrderWhateverTheCreationOrder) {
  const fs::path a = test::temp_dir("fingerprint-order-a");
  const fs::path b = test::temp_dir("fingerprint-order-b");
  write(a / "model-00001.safetensors", "one");
  write(a / "model-00002.safetensors", "two");
  write(b / "model-00002.safetensors", "two");
  write(b / "model-00001.safetensors", "one");
  EXPECT_EQ(sessions::weights_fingerprint(a), sessions::weights_fingerprint(b));
  write(b / "model-00002.safetensors", "twO");
  EXPECT_NE(sessions::weights_fingerprint(a), sessions::weights_fingerprint(b));
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(WeightsFingerprint, HeadAndTailCountMiddleOfBigFileDoesNot) {
  const fs::path dir = test::temp_dir("fingerprint-big");
  const fs::path f = dir / "model.gguf";
  const size_t mib = size_t{1} << 20;
  write(f, std::string(3 * mib, 'x'));
  const std::string base = sessions::weights_fingerprint(dir);
  poke(f, 3 * mib / 2, 'y');  // the documented blind spot: only 2 MiB per file are read
  EXPECT_EQ(sessions::weights_fingerprint(dir), base);
  poke(f, 3 * mib - 1, 'y');
  const std::string tail = sessions::weights_fingerprint(dir);
  EXPECT_NE(tail, base);
  poke(f, 0, 'y');
  EXPECT_NE(sessions::weights_fingerprint(dir), tail);
  fs::remove_all(dir);
}

TEST(WeightsFingerprint, FileBetweenOneAndTwoMibIsCoveredToTheLastByte) {
  const fs::path dir = test::temp_dir("fingerprint-mid");
  const fs::path f = dir / "model.safetensors";
  const size_t n = (size_t{3} << 20) / 2;
  write(f, std::string(n, 'x'));
  const std::string base = sessions::weights_fingerprint(dir);
  poke(f, n - 1, 'y');
  EXPECT_NE(sessions::weights_fingerprint(dir), base);
  fs::remove_all(dir);
}

TEST(WeightsFingerprint, NoWeightFilesGivesEmpty) {
  const fs::path dir = test::temp_dir("fingerprint-empty");
  EXPECT_EQ(sessions::weights_fingerprint(dir), "");
  EXPECT_EQ(sessions::weights_fingerprint(dir / "missing"), "");
  fs::remove_all(dir);
}
