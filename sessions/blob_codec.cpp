// sessions/blob_codec.cpp — compact BLOB layouts; byte-exact formats are documented in SCHEMA.md.
#include "blob_codec.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>

#include "engine/error.h"
#include "engine/tensor.h"

namespace mlascope::sessions {

static_assert(std::endian::native == std::endian::little, "session BLOBs are written little-endian");

namespace {

template <typename T>
void put(Bytes& b, T v) {
  const size_t at = b.size();
  b.resize(at + sizeof(T));
  std::memcpy(b.data() + at, &v, sizeof(T));
}

class Cursor {
 public:
  Cursor(std::span<const uint8_t> b, const char* what) : b_(b), what_(what) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, b_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  void need(size_t n) const {
    if (at_ + n > b_.size())
      throw Error(std::string("[sessions] ") + what_ + " blob truncated (" + std::to_string(b_.size()) + " bytes)");
  }
  bool done() const { return at_ == b_.size(); }

 private:
  std::span<const uint8_t> b_;
  const char* what_;
  size_t at_ = 0;
};

}  // namespace

Bytes encode_top(std::span<const TopEntry> top) {
  Bytes b;
  b.reserve(top.size() * 6);
  for (const TopEntry& e : top) {
    put<int32_t>(b, e.id);
    put<uint16_t>(b, f32_to_f16(e.prob));
  }
  return b;
}

std::vector<TopEntry> decode_top(std::span<const uint8_t> b) {
  if (b.size() % 6 != 0) throw Error("[sessions] top-k blob of " + std::to_string(b.size()) + " bytes is not a multiple of 6");
  std::vector<TopEntry> out(b.size() / 6);
  Cursor c(b, "top-k");
  for (TopEntry& e : out) {
    e.id = c.get<int32_t>();
    e.prob = f16_to_f32(c.get<uint16_t>());
  }
  return out;
}

Bytes encode_routes(std::span<const RouteRow> routes) {
  Bytes b;
  b.reserve(2 + routes.size() * (13 + 6 * 8));
  put<uint8_t>(b, 1);
  put<uint8_t>(b, static_cast<uint8_t>(routes.size()));
  for (const RouteRow& r : routes) {
    const uint8_t k = std::min<uint8_t>(r.k, kMaxTopK);
    put<uint8_t>(b, k);
    put<float>(b, r.margin);
    put<uint64_t>(b, r.kept_groups);
    for (int i = 0; i < k; ++i) put<uint16_t>(b, static_cast<uint16_t>(r.expert[static_cast<size_t>(i)]));
    for (int i = 0; i < k; ++i) put<float>(b, r.weight[static_cast<size_t>(i)]);
  }
  return b;
}

std::vector<RouteRow> decode_routes(std::span<const uint8_t> b) {
  Cursor c(b, "routing");
  const auto format = c.get<uint8_t>();
  if (format != 1) throw Error("[sessions] routing blob has unknown format " + std::to_string(format));
  std::vector<RouteRow> out(c.get<uint8_t>());
  for (RouteRow& r : out) {
    r.k = c.get<uint8_t>();
    if (r.k > kMaxTopK) throw Error("[sessions] routing blob: k=" + std::to_string(r.k) + " exceeds " + std::to_string(kMaxTopK));
    r.margin = c.get<float>();
    r.kept_groups = c.get<uint64_t>();
    for (int i = 0; i < r.k; ++i) r.expert[static_cast<size_t>(i)] = static_cast<int16_t>(c.get<uint16_t>());
    for (int i = 0; i < r.k; ++i) r.weight[static_cast<size_t>(i)] = c.get<float>();
  }
  if (!c.done()) throw Error("[sessions] routing blob has trailing bytes");
  return out;
}

Bytes encode_scores(std::span<const float> v, ScoreFormat f) {
  Bytes b;
  b.reserve(5 + v.size() * (f == ScoreFormat::F16 ? 2 : 4));
  put<uint8_t>(b, static_cast<uint8_t>(f));
  put<uint32_t>(b, static_cast<uint32_t>(v.size()));
  if (f == ScoreFormat::F16) {
    for (float x : v) put<uint16_t>(b, f32_to_f16(x));
  } else {
    const size_t at = b.size();
    b.resize(at + v.size() * 4);
    if (!v.empty()) std::memcpy(b.data() + at, v.data(), v.size() * 4);
  }
  return b;
}

std::vector<float> decode_scores(std::span<const uint8_t> b) {
  Cursor c(b, "scores");
  const auto f = static_cast<ScoreFormat>(c.get<uint8_t>());
  const uint32_t n = c.get<uint32_t>();
  if (f != ScoreFormat::F16 && f != ScoreFormat::F32)
    throw Error("[sessions] scores blob has unknown format " + std::to_string(static_cast<int>(f)));
  // The stored count is checked against the bytes that are there before anything is allocated:
  // a 2^29 count in a 9-byte blob once cost 2.1 GB and 26 s before its error.
  const size_t width = f == ScoreFormat::F16 ? 2 : 4;
  if (size_t{n} * width != b.size() - 5)
    throw Error("[sessions] scores blob declares " + std::to_string(n) + " values but holds " +
                std::to_string((b.size() - 5) / width));
  std::vector<float> out(n);
  if (f == ScoreFormat::F16) {
    for (float& x : out) x = f16_to_f32(c.get<uint16_t>());
  } else {
    for (float& x : out) x = c.get<float>();
  }
  return out;
}

Bytes encode_f16(std::span<const float> v) {
  Bytes b(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint16_t h = f32_to_f16(v[i]);
    std::memcpy(b.data() + 2 * i, &h, 2);
  }
  return b;
}

std::vector<float> decode_f16(std::span<const uint8_t> b, size_t expected) {
  if (b.size() != expected * 2)
    throw Error("[sessions] attention blob holds " + std::to_string(b.size()) + " bytes, expected " + std::to_string(expected * 2));
  std::vector<float> out(expected);
  for (size_t i = 0; i < expected; ++i) {
    uint16_t h;
    std::memcpy(&h, b.data() + 2 * i, 2);
    out[i] = f16_to_f32(h);
  }
  return out;
}

Bytes encode_attention_topk(std::span<const float> probs, int n_heads, int n_keys, int k) {
  const int kk = std::min(k, n_keys);
  Bytes b;
  b.reserve(static_cast<size_t>(n_heads) * static_cast<size_t>(kk) * 6);
  std::vector<uint32_t> idx(static_cast<size_t>(n_keys));
  for (int h = 0; h < n_heads; ++h) {
    const float* row = probs.data() + static_cast<size_t>(h) * static_cast<size_t>(n_keys);
    std::iota(idx.begin(), idx.end(), 0u);
    // Ties go to the earlier key so the encoding is deterministic.
    std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(),
                      [row](uint32_t a, uint32_t c) { return row[a] > row[c] || (row[a] == row[c] && a < c); });
    std::sort(idx.begin(), idx.begin() + kk);
    for (int i = 0; i < kk; ++i) {
      put<uint32_t>(b, idx[static_cast<size_t>(i)]);
      put<uint16_t>(b, f32_to_f16(row[idx[static_cast<size_t>(i)]]));
    }
  }
  return b;
}

std::vector<float> decode_attention_topk(std::span<const uint8_t> b, int n_heads, int n_keys, int k) {
  if (n_heads <= 0 || n_keys <= 0 || k <= 0)
    throw Error("[sessions] top-k attention row has n_heads " + std::to_string(n_heads) + ", n_keys " +
                std::to_string(n_keys) + ", top_k " + std::to_string(k) + " (all must be positive)");
  const int kk = std::min(k, n_keys);
  const size_t want = static_cast<size_t>(n_heads) * static_cast<size_t>(kk) * 6;
  if (b.size() != want)
    throw Error("[sessions] top-k attention blob holds " + std::to_string(b.size()) + " bytes, expected " +
                std::to_string(want));
  std::vector<float> out(static_cast<size_t>(n_heads) * static_cast<size_t>(n_keys), 0.0f);
  Cursor c(b, "attention top-k");
  for (int h = 0; h < n_heads; ++h)
    for (int i = 0; i < kk; ++i) {
      const uint32_t key = c.get<uint32_t>();
      const float p = f16_to_f32(c.get<uint16_t>());
      if (key >= static_cast<uint32_t>(n_keys)) throw Error("[sessions] top-k attention blob: key " + std::to_string(key) + " past n_keys");
      out[static_cast<size_t>(h) * static_cast<size_t>(n_keys) + key] = p;
    }
  return out;
}

Bytes encode_matrix(const std::vector<std::vector<float>>& m) {
  Bytes b;
  const uint32_t cols = m.empty() ? 0 : static_cast<uint32_t>(m[0].size());
  put<uint32_t>(b, static_cast<uint32_t>(m.size()));
  put<uint32_t>(b, cols);
  for (const auto& row : m)
    for (uint32_t j = 0; j < cols; ++j) put<float>(b, j < row.size() ? row[j] : 0.0f);
  return b;
}

std::vector<std::vector<float>> decode_matrix(std::span<const uint8_t> b) {
  if (b.empty()) return {};
  Cursor c(b, "gate bias");
  const uint32_t rows = c.get<uint32_t>(), cols = c.get<uint32_t>();
  // Both sizes against the bytes present, before allocating: rows x cols values must be exactly
  // the rest of the blob, and an empty row is not a shape anyone records (2^32 rows of 0 columns
  // would allocate 96 GB of empty vectors from 8 bytes).
  const size_t values = (b.size() - 8) / 4;
  if ((b.size() - 8) % 4 != 0 || (rows == 0) != (cols == 0) || (cols != 0 && (rows > values / cols || size_t{rows} * cols != values)))
    throw Error("[sessions] gate bias blob declares " + std::to_string(rows) + " x " + std::to_string(cols) +
                " values but holds " + std::to_string(b.size() - 8) + " bytes");
  std::vector<std::vector<float>> m(rows, std::vector<float>(cols));
  for (auto& row : m)
    for (float& x : row) x = c.get<float>();
  return m;
}

}  // namespace mlascope::sessions
