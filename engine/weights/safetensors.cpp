// engine/weights/safetensors.cpp — safetensors parsing (validated, zero-copy over mmap) and writing.
#include "safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "../error.h"
#include "../json_limits.h"
#include "mapped_file.h"

namespace mlascope {

using json = nlohmann::json;

namespace {

constexpr const char* kWhere = "safetensors";
constexpr size_t kMaxRank = 8;  // nothing in a transformer checkpoint has more dims; more is corruption

struct DTypeName {
  const char* name;
  DType dtype;
};
constexpr DTypeName kSupported[] = {
    {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F8_E4M3", DType::F8_E4M3},
    {"I32", DType::I32}, {"I64", DType::I64}, {"U8", DType::U8},     {"I8", DType::I8},
};
// Valid in the format but with no DType here: named as unsupported rather than unknown, so the user
// knows the file is fine and mlascope is the limit.
constexpr const char* kKnownUnsupported[] = {"F64", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
                                             "I16", "U16",     "U32",     "U64", "BOOL",   "C64"};

std::string supported_list() {
  std::string s;
  for (const auto& d : kSupported) {
    if (!s.empty()) s += ", ";
    s += d.name;
  }
  return s;
}

std::string offsets_string(uint64_t a, uint64_t b) {
  std::string s = "[";  // built by appends: GCC 12 warns falsely on "[" + std::to_string()
  s += std::to_string(a);
  s += ", ";
  s += std::to_string(b);
  s += ')';
  return s;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A non-negative JSON integer, or nullopt (floats, negatives, strings, > 2^64 are all rejected).
bool as_u64(const json& v, uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    const int64_t s = v.get<int64_t>();
    if (s < 0) return false;
    out = static_cast<uint64_t>(s);
    return true;
  }
  return false;
}

}  // namespace

DType safetensors_dtype(const std::string& s, const std::string& file, const std::string& tensor) {
  for (const auto& d : kSupported)
    if (s == d.name) return d.dtype;
  for (const char* u : kKnownUnsupported)
    if (s == u)
      fail(kWhere, file,
           "tensor '" + tensor + "' has dtype " + s + ", which mlascope does not read (supported: " +
               supported_list() + ")");
  fail(kWhere, file, "tensor '" + tensor + "' has unknown dtype '" + s + "'");
}

const char* safetensors_dtype_name(DType t) {
  for (const auto& d : kSupported)
    if (d.dtype == t) return d.name;
  fail(kWhere, "", std::string("dtype ") + to_string(t) + " cannot be stored in safetensors");
}

void parse_safetensors_header(const std::string& file, const char* header, uint64_t header_len,
                              const uint8_t* data, uint64_t data_size, SafetensorsFile& out) {
  // nlohmann silently keeps the last of duplicate keys; a second entry for one tensor name would
  // then hide bytes, so duplicates are caught while parsing.
  std::set<std::string> seen;
  std::string duplicate;
  const json::parser_callback_t on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && duplicate.empty()) {
      const std::string k = parsed.get<std::string>();
      if (!seen.insert(k).second) duplicate = k;
    }
    return true;
  };
  check_json_depth(std::string_view(header, header_len), kWhere, file);
  json j;
  try {
    j = json::parse(header, header + header_len, on_event);
  } catch (const json::exception& e) {
    fail(kWhere, file, std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) fail(kWhere, file, "tensor '" + duplicate + "' appears twice in the header");
  if (!j.is_object()) fail(kWhere, file, "header must be a JSON object");

  struct Span {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Span> spans;
  out.tensors.clear();
  out.tensors.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) fail(kWhere, file, "'__metadata__' must be an object of strings");
      for (auto m = e.begin(); m != e.end(); ++m) {
        if (!m.value().is_string())
          fail(kWhere, file, "'__metadata__' entry '" + m.key() + "' must be a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string t = "tensor '" + name + "'";
    if (!e.is_object()) fail(kWhere, file, t + " entry must be an object");
    if (!e.contains("dtype") || !e["dtype"].is_string()) fail(kWhere, file, t + " has no string field 'dtype'");
    if (!e.contains("shape") || !e["shape"].is_array()) fail(kWhere, file, t + " has no array field 'shape'");
    if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
      fail(kWhere, file, t + " field 'data_offsets' must be [begin, end]");

    TensorView v;
    v.name = name;
    v.dtype = safetensors_dtype(e["dtype"].get<std::string>(), file, name);
    const json& shape = e["shape"];
    if (shape.size() > kMaxRank)
      fail(kWhere, file, t + " has " + std::to_string(shape.size()) + " dimensions (at most 8 are read)");
    uint64_t numel = 1;
    for (const json& d : shape) {
      uint64_t n = 0;
      if (!as_u64(d, n)) fail(kWhere, file, t + " field 'shape' must hold non-negative integers");
      if (n > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, n, &numel) ||
          numel > static_cast<uint64_t>(INT64_MAX))
        fail(kWhere, file, t + " field 'shape' overflows: its element count does not fit in 64 bits");
      v.shape.push_back(static_cast<int64_t>(n));
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_block_bytes(v.dtype)), &nbytes))
      fail(kWhere, file, t + " field 'shape' overflows: its byte size does not fit in 64 bits");

    uint64_t begin = 0, end = 0;
    if (!as_u64(e["data_offsets"][0], begin) || !as_u64(e["data_offsets"][1], end))
      fail(kWhere, file, t + " field 'data_offsets' must hold non-negative integers");
    if (end < begin) fail(kWhere, file, t + " data_offsets " + offsets_string(begin, end) + " end before they begin");
    if (end > data_size)
      fail(kWhere, file,
           t + " data_offsets " + offsets_string(begin, end) + " run past the end of the data (" +
               std::to_string(data_size) + " bytes)");
    if (end - begin != nbytes)
      fail(kWhere, file,
           t + " shape " + v.shape_string() + " of " + to_string(v.dtype) + " needs " + std::to_string(nbytes) +
               " bytes but data_offsets " + offsets_string(begin, end) + " hold " + std::to_string(end - begin));
    v.nbytes = static_cast<size_t>(nbytes);
    v.data = data + begin;
    spans.push_back({begin, end, out.tensors.size()});
    out.tensors.push_back(std::move(v));
  }

  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // Empty tensors occupy no bytes and cannot overlap anything.
  const Span* prev = nullptr;
  for (const Span& s : spans) {
    if (s.begin == s.end) continue;
    if (prev && s.begin < prev->end)
      fail(kWhere, file,
           "tensor '" + out.tensors[s.index].name + "' data_offsets " + offsets_string(s.begin, s.end) +
               " overlap tensor '" + out.tensors[prev->index].name + "' " + offsets_string(prev->begin, prev->end));
    prev = &s;
  }
  std::vector<TensorView> sorted;
  sorted.reserve(spans.size());
  for (const Span& s : spans) sorted.push_back(std::move(out.tensors[s.index]));
  out.tensors = std::move(sorted);
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) { return read_safetensors(path, MapOptions{}); }

SafetensorsFile read_safetensors(const std::filesystem::path& path, const MapOptions& options) {
  SafetensorsFile out;
  out.display_name = path.string();
  out.file = std::make_shared<MappedFile>(path, kWhere, options);
  const uint64_t size = out.file->size();
  const uint8_t* base = out.file->data();
  if (size < 8)
    fail(kWhere, out.display_name,
         "file is " + std::to_string(size) + " bytes, too short for the 8-byte header length (truncated?)");
  const uint64_t n = read_u64_le(base);
  if (n > kSafetensorsMaxHeader)
    fail(kWhere, out.display_name,
         "header length " + std::to_string(n) + " exceeds the " + std::to_string(kSafetensorsMaxHeader) +
             "-byte limit (corrupt file?)");
  if (n > size - 8)
    fail(kWhere, out.display_name,
         "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) +
             " bytes; truncated?)");
  out.data_start = 8 + n;
  parse_safetensors_header(out.display_name, reinterpret_cast<const char*>(base + 8), n, base + out.data_start,
                           size - out.data_start, out);
  return out;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string file = path.string();
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = std::move(m);
  }
  std::vector<uint64_t> offsets;
  uint64_t at = 0;
  for (const TensorView& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") fail(kWhere, file, "cannot write a tensor named '" + t.name + "'");
    if (header.contains(t.name)) fail(kWhere, file, "tensor '" + t.name + "' is given twice");
    const char* dt = safetensors_dtype_name(t.dtype);
    for (int64_t d : t.shape)
      if (d < 0) fail(kWhere, file, "tensor '" + t.name + "' has a negative dimension");
    const size_t want = dtype_bytes(t.dtype, static_cast<size_t>(t.numel()));
    if (t.nbytes != want || (want > 0 && !t.data))
      fail(kWhere, file,
           "tensor '" + t.name + "' holds " + std::to_string(t.nbytes) + " bytes but shape " + t.shape_string() +
               " of " + dt + " needs " + std::to_string(want));
    at = (at + 7) / 8 * 8;  // every tensor 8-byte aligned so readers can map it in place
    offsets.push_back(at);
    header[t.name] = {{"dtype", dt}, {"shape", t.shape}, {"data_offsets", {at, at + t.nbytes}}};
    at += t.nbytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned in the file

  const std::filesystem::path tmp = path.string() + ".part";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail(kWhere, file, "cannot create file");
    uint8_t len[8];
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    f.write(reinterpret_cast<const char*>(len), 8);
    f.write(h.data(), static_cast<std::streamsize>(h.size()));
    uint64_t pos = 0;
    static const char zeros[8] = {};
    for (size_t i = 0; i < tensors.size(); ++i) {
      f.write(zeros, static_cast<std::streamsize>(offsets[i] - pos));
      f.write(static_cast<const char*>(tensors[i].data), static_cast<std::streamsize>(tensors[i].nbytes));
      pos = offsets[i] + tensors[i].nbytes;
    }
    f.flush();
    if (!f) fail(kWhere, file, "write failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(kWhere, file, "cannot move the written file into place: " + ec.message());
}

TensorView f32_view(std::string name, std::vector<int64_t> shape, const float* data) {
  TensorView v;
  v.name = std::move(name);
  v.dtype = DType::F32;
  v.shape = std::move(shape);
  v.data = data;
  v.nbytes = static_cast<size_t>(v.numel()) * 4;
  return v;
}

TensorView i32_view(std::string name, std::vector<int64_t> shape, const int32_t* data) {
  TensorView v = f32_view(std::move(name), std::move(shape), nullptr);
  v.dtype = DType::I32;
  v.data = data;
  return v;
}

}  // namespace mlascope
