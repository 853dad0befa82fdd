// engine/weights/gguf_file.cpp — bounds-checked GGUF parsing over a memory map.
// Rule: a count read from the file is compared with the bytes left (times the smallest size one
// item can take) before it sizes any container; sizes are multiplied only after overflow checks.
#include "gguf_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>

#include "../error.h"
#include "mapped_file.h"

namespace mlascope {

const char* to_string(GgufType t) {
  switch (t) {
    case GgufType::U8: return "uint8";
    case GgufType::I8: return "int8";
    case GgufType::U16: return "uint16";
    case GgufType::I16: return "int16";
    case GgufType::U32: return "uint32";
    case GgufType::I32: return "int32";
    case GgufType::F32: return "float32";
    case GgufType::Bool: return "bool";
    case GgufType::String: return "string";
    case GgufType::Array: return "array";
    case GgufType::U64: return "uint64";
    case GgufType::I64: return "int64";
    case GgufType::F64: return "float64";
  }
  return "?";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64:
      return true;
    default:
      return false;
  }
}

std::optional<DType> dtype_from_ggml(uint32_t t) {
  switch (t) {
    case kGgmlF32: return DType::F32;
    case kGgmlF16: return DType::F16;
    case kGgmlBF16: return DType::BF16;
    case kGgmlQ4_0: return DType::Q4_0;
    case kGgmlQ4_1: return DType::Q4_1;
    case kGgmlQ5_0: return DType::Q5_0;
    case kGgmlQ5_1: return DType::Q5_1;
    case kGgmlQ8_0: return DType::Q8_0;
    case kGgmlQ2_K: return DType::Q2_K;
    case kGgmlQ3_K: return DType::Q3_K;
    case kGgmlQ4_K: return DType::Q4_K;
    case kGgmlQ5_K: return DType::Q5_K;
    case kGgmlQ6_K: return DType::Q6_K;
    case kGgmlIQ4_NL: return DType::IQ4_NL;
    case kGgmlIQ4_XS: return DType::IQ4_XS;
    case kGgmlI8: return DType::I8;
    case kGgmlI32: return DType::I32;
    case kGgmlI64: return DType::I64;
    default: return std::nullopt;
  }
}

namespace {
// Weight types first, in ggml's order; the integer types last (not weights, but valid tensors).
constexpr uint32_t kKnownGgml[] = {kGgmlF32,  kGgmlF16,  kGgmlBF16, kGgmlQ4_0,   kGgmlQ4_1,   kGgmlQ5_0,
                                   kGgmlQ5_1, kGgmlQ8_0, kGgmlQ2_K, kGgmlQ3_K,   kGgmlQ4_K,   kGgmlQ5_K,
                                   kGgmlQ6_K, kGgmlIQ4_NL, kGgmlIQ4_XS, kGgmlI8, kGgmlI32, kGgmlI64};
}  // namespace

std::optional<uint32_t> ggml_from_dtype(DType t) {
  for (uint32_t g : kKnownGgml)
    if (dtype_from_ggml(g) == t) return g;
  return std::nullopt;
}

std::string supported_ggml_types() {
  std::string s;
  for (uint32_t g : kKnownGgml) {
    if (g == kGgmlI8 || g == kGgmlI32 || g == kGgmlI64) continue;
    if (!s.empty()) s += ", ";
    s += to_string(*dtype_from_ggml(g));
  }
  return s;
}

std::string ggml_type_name(uint32_t t) {
  static const char* const kNames[] = {"F32",  "F16",  "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1",
                                       "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K",
                                       "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
                                       "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M",
                                       "BF16"};
  if (t < sizeof(kNames) / sizeof(kNames[0])) return std::string(kNames[t]) + " (type " + std::to_string(t) + ")";
  return "type " + std::to_string(t);
}

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kMaxKeyLen = 65535;
constexpr uint64_t kMaxTensorNameLen = 1024;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr int64_t kMaxElements = int64_t(1) << 50;

// A reader over [data, data+size) that never steps outside it.
class Cursor {
 public:
  Cursor(const GgufFile& f, const uint8_t* data, uint64_t size) : f_(f), p_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const char* what, uint64_t max_len) {
    const uint64_t n = read<uint64_t>(what);
    if (n > max_len) f_.bad(std::string(what) + " length " + std::to_string(n) + " exceeds the limit of " + std::to_string(max_len));
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(n));
    pos_ += n;
    return s;
  }
  void need(uint64_t n, const std::string& what) const {
    if (n > left())
      f_.bad(what + " at byte " + std::to_string(pos_) + " needs " + std::to_string(n) + " bytes but only " +
             std::to_string(left()) + " remain");
  }
  // A count of items that each take at least `min_item_bytes`: refuse what the rest of the file
  // cannot hold, before any container is sized from it.
  uint64_t count(const std::string& what, uint64_t min_item_bytes) {
    const uint64_t n = read<uint64_t>(what.c_str());
    if (min_item_bytes > 0 && n > left() / min_item_bytes)
      f_.bad(what + " = " + std::to_string(n) + " cannot fit in the " + std::to_string(left()) +
             " bytes that remain (the file is truncated or the count is wrong)");
    return n;
  }

 private:
  const GgufFile& f_;
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

uint64_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::String: return 8;  // the length prefix, at least
    case GgufType::Array: return 12;  // element type + count, at least
  }
  return 0;
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

// One scalar as (integer, float); returns false for strings/arrays.
void read_scalar(Cursor& c, GgufType t, const std::string& key, const GgufFile& f, int64_t* i, double* d) {
  const char* what = "metadata value";
  switch (t) {
    case GgufType::U8: *i = c.read<uint8_t>(what); break;
    case GgufType::I8: *i = c.read<int8_t>(what); break;
    case GgufType::U16: *i = c.read<uint16_t>(what); break;
    case GgufType::I16: *i = c.read<int16_t>(what); break;
    case GgufType::U32: *i = c.read<uint32_t>(what); break;
    case GgufType::I32: *i = c.read<int32_t>(what); break;
    case GgufType::I64: *i = c.read<int64_t>(what); break;
    case GgufType::U64: {
      const uint64_t u = c.read<uint64_t>(what);
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        f.bad("metadata '" + key + "' = " + std::to_string(u) + " is too large");
      *i = static_cast<int64_t>(u);
      break;
    }
    case GgufType::Bool: {
      const uint8_t b = c.read<uint8_t>(what);
      if (b > 1) f.bad("metadata '" + key + "' is a bool with value " + std::to_string(b));
      *i = b;
      break;
    }
    case GgufType::F32: *d = c.read<float>(what); return;
    case GgufType::F64: *d = c.read<double>(what); return;
    default: f.bad("metadata '" + key + "' has no scalar type");
  }
  *d = static_cast<double>(*i);
}

}  // namespace

void GgufFile::bad(const std::string& what) const { fail("gguf", display_name_, what); }

namespace {

// llama.cpp's split naming (llama_split_path): PREFIX-%05d-of-%05d.gguf, parts numbered from 1.
struct SplitName {
  std::string prefix;
  int no = 0;  // 1-based, as in the name
  int count = 0;
};

std::optional<SplitName> parse_split_name(const std::string& name) {
  constexpr size_t kSuffix = 20;  // "-00001-of-00003.gguf"
  if (name.size() <= kSuffix) return std::nullopt;
  const std::string suf = name.substr(name.size() - kSuffix);
  auto digits = [&](size_t at) {
    int v = 0;
    for (size_t i = at; i < at + 5; ++i) {
      if (suf[i] < '0' || suf[i] > '9') return -1;
      v = v * 10 + (suf[i] - '0');
    }
    return v;
  };
  if (suf[0] != '-' || suf.compare(6, 4, "-of-") != 0 || suf.compare(15, 5, ".gguf") != 0) return std::nullopt;
  const int no = digits(1), count = digits(10);
  if (no < 1 || count < 1 || no > count) return std::nullopt;
  return SplitName{name.substr(0, name.size() - kSuffix), no, count};
}

std::string split_file_name(const std::string& prefix, int no, int count) {
  char suffix[48];
  std::snprintf(suffix, sizeof suffix, "-%05d-of-%05d.gguf", no, count);
  return prefix + suffix;
}

}  // namespace

GgufFile GgufFile::open(const std::filesystem::path& path) { return open_weights(path, MapOptions{}); }

GgufFile GgufFile::open_part(const std::filesystem::path& path) { return open_part(path, MapOptions{}); }

GgufFile GgufFile::open_part(const std::filesystem::path& path, const MapOptions& options) {
  GgufFile f;
  f.display_name_ = path.filename().string();
  f.file_ = std::make_shared<MappedFile>(path, "gguf", options);
  f.parse();
  f.parts_ = {Part{f.file_, f.display_name_, f.data_offset_}};
  return f;
}

GgufFile GgufFile::open_weights(const std::filesystem::path& path, const MapOptions& options) {
  const std::string fname = path.filename().string();
  const std::optional<SplitName> sn = parse_split_name(fname);
  // A part of a split model must carry the name its split keys imply (that is how the other parts
  // are found, as in llama.cpp); a file with another name is read whole, or refused when its keys
  // say it is only a part.
  auto check_name = [&](const GgufFile& given) {
    if (!given.find("split.count")) return 1;
    const int count = static_cast<int>(given.get_int("split.count", 0, 65535));
    if (count <= 1) return 1;
    const int no = static_cast<int>(given.get_int("split.no", 0, count - 1));
    if (!sn || sn->count != count || sn->no != no + 1)
      given.bad("is part " + std::to_string(no + 1) + " of a " + std::to_string(count) +
                "-part split model (split.no = " + std::to_string(no) + ", split.count = " + std::to_string(count) +
                ") but its name does not say so; the parts are found by their names: expected '" +
                split_file_name(sn ? sn->prefix : path.stem().string(), no + 1, count) + "'");
    return count;
  };
  if (!sn) {
    GgufFile f = open_part(path, options);
    check_name(f);
    return f;
  }
  int count = 1;
  {
    GgufFile given = open_part(path, MapOptions{});  // mapped for this look, not read
    count = check_name(given);
    if (count <= 1) return options.weights ? open_part(path, options) : given;
  }

  const std::filesystem::path dir = path.parent_path();
  std::vector<std::filesystem::path> paths;
  uint64_t total = 0;
  for (int i = 1; i <= count; ++i) {
    paths.push_back(dir / split_file_name(sn->prefix, i, count));
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(paths.back(), ec);
    if (ec)
      fail("gguf", paths.back().filename().string(),
           "part " + std::to_string(i) + " of the " + std::to_string(count) + "-part split model '" + sn->prefix +
               "' is missing (looked beside " + fname + ")");
    total += size;
  }
  std::vector<GgufFile> parts;
  uint64_t done = 0;
  for (int i = 0; i < count; ++i) {
    MapOptions mo = options;
    if (options.on_read) mo.on_read = [&options, &done, total](uint64_t d, uint64_t) { options.on_read(done + d, total); };
    parts.push_back(open_part(paths[static_cast<size_t>(i)], mo));
    done += parts.back().file_->size();
    GgufFile& p = parts.back();
    if (!p.find("split.count") || !p.find("split.no"))
      p.bad("has no split.count / split.no keys, so it is not part " + std::to_string(i + 1) + " of the " +
            std::to_string(count) + "-part split model '" + sn->prefix + "'");
    const int64_t c = p.get_int("split.count", 0, 65535), no = p.get_int("split.no", 0, 65535);
    if (c != count || no != i)
      p.bad("says split.no = " + std::to_string(no) + ", split.count = " + std::to_string(c) + " but its name makes it part " +
            std::to_string(i + 1) + " of " + std::to_string(count) + " (split.no = " + std::to_string(i) +
            "): the parts come from different splits");
  }
  GgufFile first = std::move(parts.front());
  std::vector<GgufFile> rest(std::make_move_iterator(parts.begin() + 1), std::make_move_iterator(parts.end()));
  first.absorb_parts(rest);
  return first;
}

void GgufFile::absorb_parts(std::vector<GgufFile>& rest) {
  for (GgufFile& p : rest) {
    const auto part = static_cast<uint32_t>(parts_.size());
    parts_.push_back(p.parts_.front());
    tensors_.reserve(tensors_.size() + p.tensors_.size());
    for (GgufTensorInfo& t : p.tensors_) {
      t.part = part;
      if (!tensor_index_.emplace(t.name, tensors_.size()).second)
        p.bad("tensor '" + t.name + "' is also in " + parts_[tensors_[tensor_index_.at(t.name)].part].display_name);
      tensors_.push_back(std::move(t));
    }
  }
  // split.tensors.count is the whole model's count: a part that was cut short or swapped for
  // another split's part shows here.
  const int64_t want = get_int("split.tensors.count", 0, std::numeric_limits<int32_t>::max(),
                               static_cast<int64_t>(tensors_.size()));
  if (want != static_cast<int64_t>(tensors_.size()))
    bad("split.tensors.count = " + std::to_string(want) + " but the " + std::to_string(parts_.size()) +
        " parts hold " + std::to_string(tensors_.size()) + " tensors");
}

void GgufFile::parse() {
  Cursor c(*this, file_->data(), file_->size());
  if (file_->size() < 24) bad("file is " + std::to_string(file_->size()) + " bytes, too short for a GGUF header");
  const uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) bad("not a GGUF file (the first 4 bytes are not 'GGUF')");
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) bad("GGUF version 1 is not supported (re-export the file; versions 2 and 3 are)");
  if (version_ != 2 && version_ != 3) {
    if ((version_ & 0xffff) == 0 && version_ != 0) bad("big-endian GGUF files are not supported");
    bad("unknown GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  }
  // Smallest possible records: tensor info = name length + 1 byte + n_dims + 1 dim + type + offset;
  // metadata pair = key length + 1 byte + value type + 1 byte of value.
  const uint64_t n_tensors = c.count("tensor_count", 8 + 1 + 4 + 8 + 4 + 8);
  const uint64_t n_kv = c.count("metadata_kv_count", 8 + 1 + 4 + 1);

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.string("metadata key", kMaxKeyLen);
    if (key.empty()) bad("metadata key #" + std::to_string(k) + " is empty");
    const uint32_t type = c.read<uint32_t>("metadata value type");
    if (!valid_type(type)) bad("metadata '" + key + "' has unknown value type " + std::to_string(type));
    GgufValue v;
    v.type = static_cast<GgufType>(type);
    if (v.type == GgufType::String) {
      v.s = c.string(("metadata '" + key + "'").c_str(), c.left());
    } else if (v.type == GgufType::Array) {
      const uint32_t et = c.read<uint32_t>("array element type");
      if (!valid_type(et)) bad("metadata '" + key + "' is an array of unknown type " + std::to_string(et));
      v.elem_type = static_cast<GgufType>(et);
      if (v.elem_type == GgufType::Array) bad("metadata '" + key + "' is an array of arrays (not supported)");
      const uint64_t n = c.count("metadata '" + key + "' array length", scalar_size(v.elem_type));
      if (v.elem_type == GgufType::String) {
        v.strings.reserve(static_cast<size_t>(n));
        for (uint64_t e = 0; e < n; ++e) v.strings.push_back(c.string(("metadata '" + key + "' element").c_str(), c.left()));
      } else {
        v.numbers.resize(static_cast<size_t>(n));
        for (uint64_t e = 0; e < n; ++e) {
          int64_t i = 0;
          read_scalar(c, v.elem_type, key, *this, &i, &v.numbers[e]);
        }
      }
    } else {
      read_scalar(c, v.type, key, *this, &v.i, &v.f);
    }
    if (!kv_.emplace(key, std::move(v)).second) bad("metadata key '" + key + "' appears twice");
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (!a->is_integer() || a->i <= 0 || (a->i & (a->i - 1)) != 0 || a->i > (int64_t(1) << 30))
      bad("metadata 'general.alignment' must be a power of two up to 2^30");
    alignment_ = static_cast<uint64_t>(a->i);
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t t = 0; t < n_tensors; ++t) {
    GgufTensorInfo info;
    info.name = c.string("tensor name", kMaxTensorNameLen);
    if (info.name.empty()) bad("tensor #" + std::to_string(t) + " has an empty name");
    const std::string tn = "tensor '" + info.name + "'";
    const uint32_t n_dims = c.read<uint32_t>("tensor n_dims");
    if (n_dims < 1 || n_dims > kMaxDims)
      bad(tn + " has " + std::to_string(n_dims) + " dimensions (1 to " + std::to_string(kMaxDims) + " allowed)");
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = c.read<uint64_t>("tensor dimension");
      if (ne == 0 || ne > static_cast<uint64_t>(kMaxElements) || numel > kMaxElements / static_cast<int64_t>(ne))
        bad(tn + " dimension " + std::to_string(d) + " = " + std::to_string(ne) + " is zero or too large");
      numel *= static_cast<int64_t>(ne);
      info.ne.push_back(static_cast<int64_t>(ne));
    }
    info.ggml_type = c.read<uint32_t>("tensor type");
    const std::optional<DType> dt = dtype_from_ggml(info.ggml_type);
    if (!dt)
      bad(tn + " has tensor type " + ggml_type_name(info.ggml_type) + ", which mlascope cannot compute with (supported: " +
          supported_ggml_types() + ")");
    info.dtype = *dt;
    const int64_t be = dtype_block_elems(info.dtype);
    if (info.ne[0] % be != 0)
      bad(tn + " row length " + std::to_string(info.ne[0]) + " is not a multiple of the " + to_string(info.dtype) +
          " block size " + std::to_string(be));
    info.nbytes = dtype_bytes(info.dtype, static_cast<size_t>(numel));  // numel <= 2^50: no overflow
    info.offset = c.read<uint64_t>("tensor offset");
    if (info.offset % alignment_ != 0)
      bad(tn + " offset " + std::to_string(info.offset) + " is not a multiple of the alignment " + std::to_string(alignment_));
    if (!tensor_index_.emplace(info.name, tensors_.size()).second) bad(tn + " appears twice");
    tensors_.push_back(std::move(info));
  }

  const uint64_t pad = (alignment_ - c.pos() % alignment_) % alignment_;
  data_offset_ = c.pos() + pad;
  const uint64_t data_size = data_offset_ <= file_->size() ? file_->size() - data_offset_ : 0;
  if (data_offset_ > file_->size() && !tensors_.empty()) bad("file ends before its data section");
  for (const GgufTensorInfo& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      bad("tensor '" + t.name + "' data [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) +
          ") lies past the end of the data section (" + std::to_string(data_size) + " bytes)");
  }
  // Overlapping tensors would alias one another's weights: a crafted file, never a real export.
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensorInfo& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset)
      bad("tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& t) const {
  const Part& p = parts_[t.part];
  return p.file->data() + p.data_offset + t.offset;
}

int64_t GgufFile::get_int(const std::string& key, int64_t lo, int64_t hi, std::optional<int64_t> def) const {
  const GgufValue* v = find(key);
  if (!v) {
    if (def) return *def;
    bad("metadata '" + key + "' is missing");
  }
  if (!v->is_integer()) bad("metadata '" + key + "' must be an integer, not " + to_string(v->type));
  if (v->i < lo || v->i > hi)
    bad("metadata '" + key + "' = " + std::to_string(v->i) + " is outside [" + std::to_string(lo) + ", " +
        std::to_string(hi) + "]");
  return v->i;
}

double GgufFile::get_float(const std::string& key, double lo, double hi, std::optional<double> def) const {
  const GgufValue* v = find(key);
  if (!v) {
    if (def) return *def;
    bad("metadata '" + key + "' is missing");
  }
  if (!v->is_number()) bad("metadata '" + key + "' must be a number, not " + to_string(v->type));
  if (!std::isfinite(v->f) || v->f < lo || v->f > hi) {
    std::ostringstream s;
    s << "metadata '" << key << "' = " << v->f << " is outside [" << lo << ", " << hi << "]";
    bad(s.str());
  }
  return v->f;
}

bool GgufFile::get_bool(const std::string& key, std::optional<bool> def) const {
  const GgufValue* v = find(key);
  if (!v) {
    if (def) return *def;
    bad("metadata '" + key + "' is missing");
  }
  if (v->type != GgufType::Bool) bad("metadata '" + key + "' must be a bool, not " + to_string(v->type));
  return v->i != 0;
}

std::string GgufFile::get_string(const std::string& key, std::optional<std::string> def) const {
  const GgufValue* v = find(key);
  if (!v) {
    if (def) return *def;
    bad("metadata '" + key + "' is missing");
  }
  if (v->type != GgufType::String) bad("metadata '" + key + "' must be a string, not " + to_string(v->type));
  return v->s;
}

}  // namespace mlascope
