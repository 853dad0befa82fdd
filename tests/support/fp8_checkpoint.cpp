// tests/support/fp8_checkpoint.cpp — see fp8_checkpoint.h.
#include "fp8_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/weights/safetensors.h"

namespace mlascope::test {

namespace fs = std::filesystem;

float e4m3_value(uint8_t code) {
  const int e = (code >> 3) & 0xf, m = code & 7;
  if (e == 15 && m == 7) return std::numeric_limits<float>::quiet_NaN();
  const double mag = e == 0 ? m * std::pow(2.0, -9) : (1.0 + m / 8.0) * std::pow(2.0, e - 7);
  return static_cast<float>((code & 0x80) ? -mag : mag);
}

uint8_t e4m3_encode(float x) {
  // positive codes 0..126 are increasing in value, so the nearest is found by bisection
  static const std::vector<float> table = [] {
    std::vector<float> t(127);
    for (int c = 0; c < 127; ++c) t[static_cast<size_t>(c)] = e4m3_value(static_cast<uint8_t>(c));
    return t;
  }();
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  const float a = std::min(std::fabs(x), 448.0f);
  const auto it = std::lower_bound(table.begin(), table.end(), a);
  int hi = static_cast<int>(it - table.begin());
  if (hi >= 127) return sign | 126;
  if (hi == 0) return sign;
  const int lo = hi - 1;
  const float dlo = a - table[static_cast<size_t>(lo)], dhi = table[static_cast<size_t>(hi)] - a;
  const int c = dlo < dhi ? lo : dhi < dlo ? hi : ((lo & 1) == 0 ? lo : hi);
  return static_cast<uint8_t>(sign | c);
}

void quantize_fp8_blocks(const std::vector<float>& w, int64_t rows, int64_t cols, std::vector<uint8_t>& codes,
                         std::vector<float>& scale_inv) {
  const int64_t br = (rows + kFp8Block - 1) / kFp8Block, bc = (cols + kFp8Block - 1) / kFp8Block;
  codes.assign(static_cast<size_t>(rows * cols), 0);
  scale_inv.assign(static_cast<size_t>(br * bc), 1.0f);
  for (int64_t bi = 0; bi < br; ++bi)
    for (int64_t bj = 0; bj < bc; ++bj) {
      const int64_t r1 = std::min(rows, (bi + 1) * kFp8Block), c1 = std::min(cols, (bj + 1) * kFp8Block);
      float amax = 0;
      for (int64_t r = bi * kFp8Block; r < r1; ++r)
        for (int64_t c = bj * kFp8Block; c < c1; ++c) amax = std::max(amax, std::fabs(w[static_cast<size_t>(r * cols + c)]));
      const float scale = amax > 0 ? amax / 448.0f : 1.0f;
      scale_inv[static_cast<size_t>(bi * bc + bj)] = scale;
      for (int64_t r = bi * kFp8Block; r < r1; ++r)
        for (int64_t c = bj * kFp8Block; c < c1; ++c)
          codes[static_cast<size_t>(r * cols + c)] = e4m3_encode(w[static_cast<size_t>(r * cols + c)] / scale);
    }
}

bool fp8_should_quantize(const std::string& n) {
  auto ends = [&](const char* s) {
    const std::string suf(s);
    return n.size() >= suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (n.rfind("model.layers.", 0) != 0) return false;  // embed_tokens, norm, lm_head stay
  for (const char* s : {"_proj.weight", "kv_a_proj_with_mqa.weight"})
    if (ends(s)) return true;
  return false;
}

std::vector<std::string> make_fp8_checkpoint(const fs::path& src, const fs::path& dst) {
  fs::create_directories(dst);
  fs::copy_file(src / "config.json", dst / "config.json", fs::copy_options::overwrite_existing);
  const SafetensorsFile in = read_safetensors(src / "model.safetensors");
  std::vector<TensorView> out;
  std::vector<std::vector<uint8_t>> code_bufs;
  std::vector<std::vector<float>> scale_bufs;
  std::vector<std::string> names;
  code_bufs.reserve(in.tensors.size());
  scale_bufs.reserve(in.tensors.size());
  for (const TensorView& t : in.tensors) {
    if (!fp8_should_quantize(t.name) || t.shape.size() != 2) {
      out.push_back(t);
      continue;
    }
    names.push_back(t.name);
    code_bufs.emplace_back();
    scale_bufs.emplace_back();
    quantize_fp8_blocks(t.to_f32(), t.shape[0], t.shape[1], code_bufs.back(), scale_bufs.back());
    TensorView q;
    q.name = t.name;
    q.dtype = DType::F8_E4M3;
    q.shape = t.shape;
    q.data = code_bufs.back().data();
    q.nbytes = code_bufs.back().size();
    out.push_back(q);
    const int64_t br = (t.shape[0] + kFp8Block - 1) / kFp8Block, bc = (t.shape[1] + kFp8Block - 1) / kFp8Block;
    out.push_back(f32_view(t.name + "_scale_inv", {br, bc}, scale_bufs.back().data()));
  }
  write_safetensors(dst / "model.safetensors", out, in.metadata);
  return names;
}

}  // namespace mlascope::test
