// tests/engine/test_safetensors.cpp — the safetensors reader on every golden file (checked against an
// independent read of the bytes), each kind of broken header (one-line error naming file and tensor,
// no crash, no huge allocation), and the writer's round trip and layout.
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/weights/safetensors.h"
#include "support/data_paths.h"
#include "support/temp_cleanup.h"
#include "support/golden.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {
const test::TempCleanup kTempCleanup;
}  // namespace

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string u64_le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A file with the given header text and `data_bytes` bytes of data (header length = header size).
fs::path craft(const std::string& tag, const std::string& header, size_t data_bytes) {
  const fs::path p = test::temp_dir("st-" + tag) / "bad.safetensors";
  write_bytes(p, u64_le(header.size()) + header + std::string(data_bytes, '\x01'));
  return p;
}

std::string error_of(const fs::path& p) {
  try {
    read_safetensors(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// One line, prefixed by where, naming the file and whatever else the test asks for.
void expect_error(const fs::path& p, const std::vector<std::string>& must_contain) {
  const std::string e = error_of(p);
  ASSERT_FALSE(e.empty()) << p << " was accepted";
  EXPECT_EQ(e.rfind("[safetensors] ", 0), 0u) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  EXPECT_NE(e.find(p.string()), std::string::npos) << e;
  for (const std::string& s : must_contain) EXPECT_NE(e.find(s), std::string::npos) << "'" << s << "' not in: " << e;
}

// Independent reader: the spec by hand (length, JSON, offsets) with nothing from the engine.
struct RawEntry {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};
std::map<std::string, RawEntry> raw_header(const std::string& bytes, uint64_t& data_start) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  data_start = 8 + n;
  nlohmann::json j = nlohmann::json::parse(bytes.substr(8, n));
  std::map<std::string, RawEntry> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    out[it.key()] = {it.value()["dtype"], it.value()["shape"].get<std::vector<int64_t>>(),
                     it.value()["data_offsets"][0], it.value()["data_offsets"][1]};
  }
  return out;
}

const std::vector<fs::path> kGoldenFiles = [] {
  std::vector<fs::path> v;
  for (const fs::path& d : test::golden_case_dirs()) {
    v.push_back(d / "model.safetensors");
    v.push_back(d / "golden.safetensors");
  }
  return v;
}();

}  // namespace

// ---- good files ----

TEST(SafetensorsRead, EveryGoldenFileMatchesAnIndependentRead) {
  for (const fs::path& p : kGoldenFiles) {
    SCOPED_TRACE(p.string());
    const SafetensorsFile f = read_safetensors(p);
    const std::string bytes = read_bytes(p);
    uint64_t data_start = 0;
    const auto raw = raw_header(bytes, data_start);
    EXPECT_EQ(f.data_start, data_start);
    ASSERT_EQ(f.tensors.size(), raw.size());
    for (const TensorView& t : f.tensors) {
      auto it = raw.find(t.name);
      ASSERT_NE(it, raw.end()) << t.name;
      EXPECT_EQ(to_string(t.dtype), it->second.dtype) << t.name;
      EXPECT_EQ(t.shape, it->second.shape) << t.name;
      ASSERT_EQ(t.nbytes, it->second.end - it->second.begin) << t.name;
      EXPECT_EQ(std::memcmp(t.data, bytes.data() + data_start + it->second.begin, t.nbytes), 0) << t.name;
    }
  }
}

TEST(SafetensorsRead, MetadataIsRead) {
  const SafetensorsFile f = read_safetensors(test::data_path("golden/v3-tiny/model.safetensors"));
  ASSERT_EQ(f.metadata.count("format"), 1u);
  EXPECT_EQ(f.metadata.at("format"), "pt");
}

// The golden `embed` rows are the embedding rows of the prompt ids, upcast exactly: this ties the
// model file, the golden file and the BF16/F32 conversion together without any of our own output.
TEST(SafetensorsRead, GoldenEmbedEqualsEmbeddingRowsOfThePrompt) {
  for (const fs::path& dir : test::golden_case_dirs()) {
    SCOPED_TRACE(dir.string());
    test::Golden g(dir);
    const SafetensorsFile m = read_safetensors(dir / "model.safetensors");
    const TensorView* emb = nullptr;
    for (const TensorView& t : m.tensors)
      if (t.name == "model.embed_tokens.weight") emb = &t;
    ASSERT_NE(emb, nullptr);
    const std::vector<int32_t> ids = g.prompt_ids();
    const test::GoldenTensor& e = g.tensor("embed");
    ASSERT_EQ(e.dim(0), static_cast<int64_t>(ids.size()));
    ASSERT_EQ(e.dim(1), emb->cols());
    std::vector<float> row(static_cast<size_t>(emb->cols()));
    for (size_t p = 0; p < ids.size(); ++p) {
      emb->row_to_f32(ids[p], row.data());
      for (int64_t i = 0; i < emb->cols(); ++i) ASSERT_EQ(row[static_cast<size_t>(i)], e.at(static_cast<int64_t>(p), i)) << "position " << p << " dim " << i;
    }
  }
}

TEST(Golden, ReaderGivesShapesIdsAndTolerances) {
  test::Golden g(test::data_path("golden/v2-lite-tiny"));
  EXPECT_EQ(g.prompt_len(), 32);
  EXPECT_EQ(g.tensor("logits").shape, (std::vector<int64_t>{32, 512}));
  EXPECT_EQ(g.tensor("attn.1").shape, (std::vector<int64_t>{4, 32, 32}));
  EXPECT_EQ(g.ids("greedy_ids").size(), 16u);
  EXPECT_EQ(g.ids("route_idx.1").size(), 32u * 2u);
  EXPECT_DOUBLE_EQ(g.tolerance("hidden.2"), 1e-3);
  EXPECT_DOUBLE_EQ(g.tolerance("attn.0"), 1e-4);
  EXPECT_THROW(g.tensor("nope"), std::out_of_range);
  // attention rows are probabilities: each row sums to 1 and is 0 above the diagonal
  const test::GoldenTensor& a = g.tensor("attn.0");
  double s = 0;
  for (int k = 0; k < 32; ++k) s += a.at(0, 5, k);
  EXPECT_NEAR(s, 1.0, 1e-5);
  EXPECT_EQ(a.at(0, 5, 6), 0.0f);
}

// ---- bad files: each its own test ----

TEST(SafetensorsBad, FileShorterThanTheLengthField) {
  const fs::path p = test::temp_dir("st-short") / "short.safetensors";
  write_bytes(p, std::string("\x10\x00\x00", 3));
  expect_error(p, {"too short"});
}

TEST(SafetensorsBad, EmptyFile) {
  const fs::path p = test::temp_dir("st-empty") / "empty.safetensors";
  write_bytes(p, "");
  expect_error(p, {"too short"});
}

TEST(SafetensorsBad, HeaderLengthPastEndOfFile) {
  const fs::path p = test::temp_dir("st-hlen") / "hlen.safetensors";
  write_bytes(p, u64_le(5000) + "{}");
  expect_error(p, {"header length 5000", "past the end of the file"});
}

TEST(SafetensorsBad, AbsurdHeaderLengthIsRefusedBeforeReading) {
  const fs::path p = test::temp_dir("st-huge") / "huge.safetensors";
  write_bytes(p, u64_le(~0ull) + "{}");
  expect_error(p, {"header length 18446744073709551615"});
}

TEST(SafetensorsBad, TruncatedGoldenFile) {
  const fs::path src = test::data_path("golden/v3-tiny/model.safetensors");
  const std::string bytes = read_bytes(src);
  const fs::path p = test::temp_dir("st-trunc") / "model.safetensors";
  write_bytes(p, bytes.substr(0, bytes.size() / 2));
  // the tensors past the cut are named; the first one in data order is reported
  expect_error(p, {"tensor '", "run past the end of the data"});
}

TEST(SafetensorsBad, TruncatedInsideTheHeader) {
  const std::string bytes = read_bytes(test::data_path("golden/v2-lite-tiny/model.safetensors"));
  const fs::path p = test::temp_dir("st-trunc-h") / "model.safetensors";
  write_bytes(p, bytes.substr(0, 100));
  expect_error(p, {"past the end of the file"});
}

TEST(SafetensorsBad, MalformedJson) {
  expect_error(craft("json", R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})", 4),
               {"not valid JSON"});
}

TEST(SafetensorsBad, HeaderNotAnObject) { expect_error(craft("arr", "[1, 2]", 0), {"JSON object"}); }

TEST(SafetensorsBad, DataOffsetsOverlapping) {
  const std::string h = R"({"w.a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
                        R"( "w.b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})";
  expect_error(craft("overlap", h, 24), {"tensor 'w.b'", "overlap tensor 'w.a'", "[8, 24)", "[0, 16)"});
}

TEST(SafetensorsBad, DataOffsetsIdenticalForTwoTensors) {
  const std::string h = R"({"w.a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                        R"( "w.b": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}})";
  expect_error(craft("same", h, 8), {"overlap"});
}

TEST(SafetensorsBad, DataOffsetsOutsideTheData) {
  const std::string h = R"({"lm_head.weight": {"dtype": "BF16", "shape": [4, 4], "data_offsets": [32, 64]}})";
  expect_error(craft("outside", h, 40), {"tensor 'lm_head.weight'", "[32, 64)", "past the end of the data (40 bytes)"});
}

TEST(SafetensorsBad, DataOffsetsReversed) {
  const std::string h = R"({"w": {"dtype": "U8", "shape": [0], "data_offsets": [8, 4]}})";
  expect_error(craft("reversed", h, 16), {"tensor 'w'", "end before they begin"});
}

TEST(SafetensorsBad, DataOffsetsNegativeOrNotIntegers) {
  expect_error(craft("neg", R"({"w": {"dtype": "U8", "shape": [4], "data_offsets": [-4, 0]}})", 8),
               {"tensor 'w'", "data_offsets"});
  expect_error(craft("float", R"({"w": {"dtype": "U8", "shape": [4], "data_offsets": [0.0, 4.0]}})", 8),
               {"tensor 'w'", "data_offsets"});
  expect_error(craft("three", R"({"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4, 8]}})", 8),
               {"tensor 'w'", "data_offsets"});
}

TEST(SafetensorsBad, UnknownDtype) {
  expect_error(craft("dtype", R"({"model.norm.weight": {"dtype": "F12", "shape": [4], "data_offsets": [0, 8]}})", 8),
               {"tensor 'model.norm.weight'", "unknown dtype 'F12'"});
}

TEST(SafetensorsBad, KnownButUnsupportedDtypeIsNamedAsSuch) {
  expect_error(craft("f64", R"({"x": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})", 8),
               {"tensor 'x'", "F64", "does not read"});
}

TEST(SafetensorsBad, ShapeContradictsTheByteSpan) {
  const std::string h = R"({"w": {"dtype": "BF16", "shape": [3, 5], "data_offsets": [0, 32]}})";
  expect_error(craft("span", h, 32), {"tensor 'w'", "[3, 5]", "needs 30 bytes", "hold 32"});
}

TEST(SafetensorsBad, ShapeProductOverflowsWithoutAllocating) {
  // 2^32 * 2^32 elements wraps to 0 in 64 bits: a parser multiplying blindly would accept it
  const std::string h = R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})";
  expect_error(craft("ovf", h, 0), {"tensor 'w'", "overflows"});
  // elements fit but bytes do not: 2^62 F32 = 2^64 bytes
  const std::string h2 = R"({"w": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 0]}})";
  expect_error(craft("ovf2", h2, 0), {"tensor 'w'", "overflows"});
}

TEST(SafetensorsBad, ShapeNegativeOrFractional) {
  expect_error(craft("sneg", R"({"w": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}})", 0),
               {"tensor 'w'", "shape"});
  expect_error(craft("sfrac", R"({"w": {"dtype": "U8", "shape": [1.5], "data_offsets": [0, 0]}})", 0),
               {"tensor 'w'", "shape"});
}

TEST(SafetensorsBad, MissingFields) {
  expect_error(craft("nodtype", R"({"w": {"shape": [1], "data_offsets": [0, 1]}})", 1), {"tensor 'w'", "'dtype'"});
  expect_error(craft("noshape", R"({"w": {"dtype": "U8", "data_offsets": [0, 1]}})", 1), {"tensor 'w'", "'shape'"});
  expect_error(craft("nooff", R"({"w": {"dtype": "U8", "shape": [1]}})", 1), {"tensor 'w'", "data_offsets"});
  expect_error(craft("notobj", R"({"w": 7})", 1), {"tensor 'w'"});
}

TEST(SafetensorsBad, DuplicateTensorName) {
  const std::string h = R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
                        R"( "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})";
  expect_error(craft("dup", h, 2), {"tensor 'w'", "twice"});
}

TEST(SafetensorsBad, MetadataMustBeStrings) {
  expect_error(craft("meta", R"({"__metadata__": {"format": 3}})", 0), {"__metadata__", "format"});
}

// Random corruption of a real header (digits, brackets, quotes flipped): every outcome is either a
// clean parse whose views all lie inside the data, or one Error line naming the file. Never a crash.
TEST(SafetensorsBad, RandomHeaderCorruptionIsRejectedOrStaysInBounds) {
  const std::string bytes = read_bytes(test::data_path("golden/v2-lite-tiny/model.safetensors"));
  uint64_t data_start = 0;
  raw_header(bytes, data_start);
  const std::string header = bytes.substr(8, data_start - 8);
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data()) + data_start;
  const uint64_t data_size = bytes.size() - data_start;
  const char alphabet[] = "0123456789[]{},:\" -eE.F";
  uint32_t rng = 12345;
  auto next = [&] { return rng = rng * 1664525u + 1013904223u; };
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string h = header;
    const int edits = 1 + static_cast<int>(next() % 3);
    for (int e = 0; e < edits; ++e)
      h[next() % h.size()] = alphabet[next() % (sizeof alphabet - 1)];
    SafetensorsFile f;
    try {
      parse_safetensors_header("fuzz.safetensors", h.data(), h.size(), data, data_size, f);
      ++accepted;
      for (const TensorView& t : f.tensors) {
        const auto* p = static_cast<const uint8_t*>(t.data);
        ASSERT_TRUE(p >= data && p + t.nbytes <= data + data_size) << "iteration " << iter << " tensor " << t.name;
        ASSERT_EQ(t.nbytes, dtype_bytes(t.dtype, static_cast<size_t>(t.numel()))) << t.name;
      }
    } catch (const Error& e) {
      ++rejected;
      const std::string m = e.what();
      ASSERT_EQ(m.rfind("[safetensors] fuzz.safetensors: ", 0), 0u) << m;
      ASSERT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
  EXPECT_GT(rejected, 1000);  // most edits break something the parser must notice
  std::printf("corrupted headers: %d rejected, %d still valid\n", rejected, accepted);
}

// ---- writer ----

TEST(SafetensorsWrite, RoundTripKeepsValuesShapesAndMetadata) {
  const fs::path p = test::temp_dir("st-write") / "out.safetensors";
  std::vector<float> a(3 * 5);
  for (size_t i = 0; i < a.size(); ++i) a[i] = 0.25f * static_cast<float>(i) - 1.0f;
  std::vector<int32_t> ids = {7, -3, 1 << 30};
  std::vector<uint16_t> b = {f32_to_bf16(1.5f), f32_to_bf16(-2.0f), f32_to_bf16(3.0e-3f)};  // odd size: forces padding
  TensorView bv;
  bv.name = "b";
  bv.dtype = DType::BF16;
  bv.shape = {3};
  bv.data = b.data();
  bv.nbytes = 6;
  write_safetensors(p, {bv, f32_view("a", {3, 5}, a.data()), i32_view("ids", {3}, ids.data())},
                    {{"format", "pt"}, {"note", "x"}});

  // read back with the independent reader first: the layout itself must follow the spec
  const std::string bytes = read_bytes(p);
  uint64_t data_start = 0;
  const auto raw = raw_header(bytes, data_start);
  EXPECT_EQ(data_start % 8, 0u);
  ASSERT_EQ(raw.size(), 3u);
  EXPECT_EQ(raw.at("b").dtype, "BF16");
  for (const auto& [name, e] : raw) EXPECT_EQ(e.begin % 8, 0u) << name;
  float a7;
  std::memcpy(&a7, bytes.data() + data_start + raw.at("a").begin + 7 * 4, 4);
  EXPECT_EQ(a7, 0.75f);

  const SafetensorsFile f = read_safetensors(p);
  EXPECT_EQ(f.metadata.at("note"), "x");
  ASSERT_EQ(f.tensors.size(), 3u);
  for (const TensorView& t : f.tensors) {
    if (t.name == "a") {
      EXPECT_EQ(t.shape, (std::vector<int64_t>{3, 5}));
      EXPECT_EQ(t.to_f32(), a);
    } else if (t.name == "ids") {
      ASSERT_EQ(t.dtype, DType::I32);
      EXPECT_EQ(std::memcmp(t.data, ids.data(), 12), 0);
    } else {
      EXPECT_EQ(t.to_f32(), (std::vector<float>{1.5f, -2.0f, bf16_to_f32(f32_to_bf16(3.0e-3f))}));
    }
  }
}

TEST(SafetensorsWrite, RejectsViewWhoseBytesContradictItsShape) {
  const fs::path p = test::temp_dir("st-write-bad") / "out.safetensors";
  std::vector<float> a(4);
  TensorView v = f32_view("a", {2, 2}, a.data());
  v.nbytes = 12;
  try {
    write_safetensors(p, {v});
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'a'"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(p));
}

TEST(SafetensorsWrite, RejectsDuplicateNames) {
  std::vector<float> a(1);
  EXPECT_THROW(write_safetensors(test::temp_dir("st-dup") / "o.safetensors",
                                 {f32_view("a", {1}, a.data()), f32_view("a", {1}, a.data())}),
               Error);
}
