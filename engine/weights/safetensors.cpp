// engine/weights/safetensors.cpp — safetensors parsing (validated, zero-copy over mmap) and writing.
#include "safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string_view>
#include <unordered_set>

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

namespace {

// One header entry as the JSON said it, before any check: the checks run after the whole header
// parsed, in header order, so a syntax error anywhere is reported as such and the first bad tensor
// is the one named.
struct RawNumbers {
  bool present = false;
  bool is_array = false;
  bool bad_value = false;  // a negative, fractional or non-number element
  std::vector<uint64_t> values;
};
struct RawEntry {
  std::string name;
  bool is_object = false;
  bool has_dtype = false;  // a string dtype
  std::string dtype;
  RawNumbers shape, offsets;
};

// nlohmann's DOM parser with a callback re-scans the parent object at every object end (quadratic
// in the tensor count: 18-27 s of CPU for DeepSeek-V3's 45k tensors). This SAX handler builds the
// entries directly in one pass and keeps no DOM.
class HeaderSax {
 public:
  std::vector<RawEntry> entries;
  bool root_is_object = false;
  bool has_metadata = false;
  bool metadata_is_object = true;
  std::string metadata_bad_key;  // first '__metadata__' entry that is not a string
  std::vector<std::pair<std::string, std::string>> metadata;
  std::string syntax_error;

  bool null() { return scalar(); }
  bool boolean(bool) { return scalar(); }
  bool number_integer(json::number_integer_t v) {
    if (v < 0) return number(false, 0);
    return number(true, static_cast<uint64_t>(v));
  }
  bool number_unsigned(json::number_unsigned_t v) { return number(true, v); }
  bool number_float(json::number_float_t, const json::string_t&) { return number(false, 0); }
  bool binary(json::binary_t&) { return scalar(); }
  bool string(json::string_t& s) {
    if (skip_ == 0) {
      if (depth_ == 2 && in_metadata_) {
        metadata.emplace_back(std::move(key_), std::move(s));
        return true;
      }
      if (depth_ == 2 && field_ == Field::Dtype) {
        entries.back().has_dtype = true;
        entries.back().dtype = std::move(s);
        return true;
      }
    }
    return scalar();
  }
  bool start_object(std::size_t) {
    if (skip_ > 0 || depth_ >= 2) return open_skipped();
    if (depth_ == 0) {
      root_is_object = true;
    } else if (in_metadata_) {
      metadata_is_object = true;
    } else {
      entries.back().is_object = true;
    }
    ++depth_;
    return true;
  }
  bool end_object() {
    if (skip_ > 0) return close_skipped();
    --depth_;
    if (depth_ == 1) in_metadata_ = false;
    return true;
  }
  bool start_array(std::size_t) {
    if (skip_ == 0 && depth_ == 2 && !in_metadata_ && (field_ == Field::Shape || field_ == Field::Offsets)) {
      numbers().is_array = true;
      in_numbers_ = true;
      return true;
    }
    return open_skipped();
  }
  bool end_array() {
    if (skip_ > 0) return close_skipped();
    in_numbers_ = false;
    return true;
  }
  bool key(json::string_t& k) {
    if (skip_ > 0) return true;
    if (depth_ == 1) {
      in_metadata_ = k == "__metadata__";
      if (in_metadata_) {
        has_metadata = true;
        metadata_is_object = false;  // until its object starts
      } else {
        entries.emplace_back();
        entries.back().name = std::move(k);
      }
    } else if (depth_ == 2 && in_metadata_) {
      key_ = std::move(k);
    } else if (depth_ == 2) {
      field_ = k == "dtype" ? Field::Dtype : k == "shape" ? Field::Shape : k == "data_offsets" ? Field::Offsets : Field::Other;
      if (field_ == Field::Dtype) entries.back().has_dtype = false;
      if (field_ == Field::Shape || field_ == Field::Offsets) numbers() = RawNumbers{true, false, false, {}};
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    syntax_error = e.what();
    return false;
  }

 private:
  enum class Field { Other, Dtype, Shape, Offsets };
  RawNumbers& numbers() { return field_ == Field::Shape ? entries.back().shape : entries.back().offsets; }

  bool number(bool ok, uint64_t v) {
    if (skip_ == 0 && depth_ == 2 && in_numbers_) {
      if (ok) numbers().values.push_back(v);
      else numbers().bad_value = true;
      return true;
    }
    return scalar();
  }
  // A scalar where no known field wants one: a wrong-typed metadata value is remembered, anything
  // else (a tensor entry that is not an object, an unknown field) is judged after the parse.
  bool scalar() {
    if (skip_ == 0 && depth_ == 2) {
      if (in_metadata_ && metadata_bad_key.empty()) metadata_bad_key = key_;
      if (in_numbers_) numbers().bad_value = true;
    }
    return true;
  }
  bool open_skipped() {
    scalar();  // judged like a scalar where it stands
    ++skip_;
    return true;
  }
  bool close_skipped() {
    --skip_;
    return true;
  }

  int depth_ = 0;    // objects entered and kept: 1 = the header, 2 = an entry or __metadata__
  int skip_ = 0;     // nesting inside a value no field wants
  bool in_metadata_ = false;
  bool in_numbers_ = false;
  Field field_ = Field::Other;
  std::string key_;
};

}  // namespace

void parse_safetensors_header(const std::string& file, const char* header, uint64_t header_len,
                              const uint8_t* data, uint64_t data_size, SafetensorsFile& out) {
  check_json_depth(std::string_view(header, header_len), kWhere, file);
  HeaderSax sax;
  bool parsed = false;
  try {
    parsed = json::sax_parse(header, header + header_len, &sax);
  } catch (const json::exception& e) {
    fail(kWhere, file, std::string("header is not valid JSON: ") + e.what());
  }
  if (!parsed) fail(kWhere, file, std::string("header is not valid JSON: ") + sax.syntax_error);
  if (!sax.root_is_object) fail(kWhere, file, "header must be a JSON object");
  if (sax.has_metadata && !sax.metadata_is_object) fail(kWhere, file, "'__metadata__' must be an object of strings");
  if (!sax.metadata_bad_key.empty())
    fail(kWhere, file, "'__metadata__' entry '" + sax.metadata_bad_key + "' must be a string");
  out.tensors.clear();
  for (auto& [k, v] : sax.metadata) out.metadata[k] = std::move(v);
  // A second entry for one tensor name would hide bytes (a DOM parser silently keeps the last).
  {
    std::unordered_set<std::string_view> seen;
    seen.reserve(sax.entries.size());
    for (const RawEntry& e : sax.entries)
      if (!seen.insert(e.name).second) fail(kWhere, file, "tensor '" + e.name + "' appears twice in the header");
  }

  struct Span {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Span> spans;
  out.tensors.reserve(sax.entries.size());
  spans.reserve(sax.entries.size());
  for (RawEntry& e : sax.entries) {
    const std::string& name = e.name;
    const std::string t = "tensor '" + name + "'";
    if (!e.is_object) fail(kWhere, file, t + " entry must be an object");
    if (!e.has_dtype) fail(kWhere, file, t + " has no string field 'dtype'");
    if (!e.shape.present || !e.shape.is_array) fail(kWhere, file, t + " has no array field 'shape'");
    if (!e.offsets.present || !e.offsets.is_array || (!e.offsets.bad_value && e.offsets.values.size() != 2))
      fail(kWhere, file, t + " field 'data_offsets' must be [begin, end]");

    TensorView v;
    v.name = name;
    v.dtype = safetensors_dtype(e.dtype, file, name);
    if (e.shape.values.size() > kMaxRank)
      fail(kWhere, file, t + " has " + std::to_string(e.shape.values.size()) + " dimensions (at most 8 are read)");
    if (e.shape.bad_value) fail(kWhere, file, t + " field 'shape' must hold non-negative integers");
    uint64_t numel = 1;
    for (const uint64_t n : e.shape.values) {
      if (n > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, n, &numel) ||
          numel > static_cast<uint64_t>(INT64_MAX))
        fail(kWhere, file, t + " field 'shape' overflows: its element count does not fit in 64 bits");
      v.shape.push_back(static_cast<int64_t>(n));
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_block_bytes(v.dtype)), &nbytes))
      fail(kWhere, file, t + " field 'shape' overflows: its byte size does not fit in 64 bits");

    if (e.offsets.bad_value) fail(kWhere, file, t + " field 'data_offsets' must hold non-negative integers");
    if (e.offsets.values.size() != 2) fail(kWhere, file, t + " field 'data_offsets' must be [begin, end]");
    const uint64_t begin = e.offsets.values[0], end = e.offsets.values[1];
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
  // The header text is built directly: nlohmann's ordered_json looks keys up linearly, which made
  // writing a checkpoint with DeepSeek-V3's tensor count quadratic.
  auto quoted = [](const std::string& s) { return json(s).dump(); };
  std::string h = "{";
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!first) h += ',';
      first = false;
      h += quoted(k) + ":" + quoted(v);
    }
    h += "}";
  }
  std::unordered_set<std::string_view> names;
  names.reserve(tensors.size());
  std::vector<uint64_t> offsets;
  offsets.reserve(tensors.size());
  uint64_t at = 0;
  for (const TensorView& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") fail(kWhere, file, "cannot write a tensor named '" + t.name + "'");
    if (!names.insert(t.name).second) fail(kWhere, file, "tensor '" + t.name + "' is given twice");
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
    if (h.size() > 1) h += ',';
    h += quoted(t.name) + ":{\"dtype\":\"" + dt + "\",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d) {
      if (d) h += ',';
      h += std::to_string(t.shape[d]);
    }
    h += "],\"data_offsets\":[" + std::to_string(at) + "," + std::to_string(at + t.nbytes) + "]}";
    at += t.nbytes;
  }
  h += "}";
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
