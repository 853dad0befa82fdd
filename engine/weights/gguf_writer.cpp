// engine/weights/gguf_writer.cpp — GGUF v3 serialisation: header, metadata, tensor infos, then
// each tensor at an aligned offset.
#include "gguf_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "../error.h"

namespace mlascope {

GgufWriter::GgufWriter(uint64_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) fail("gguf", "writer", "alignment must be a power of two");
  if (alignment != GgufFile::kDefaultAlignment) set_u32("general.alignment", static_cast<uint32_t>(alignment));
}

template <class T>
void GgufWriter::put(const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  kv_bytes_.insert(kv_bytes_.end(), p, p + sizeof(T));
}

void GgufWriter::put_string(const std::string& s) {
  put<uint64_t>(s.size());
  kv_bytes_.insert(kv_bytes_.end(), s.begin(), s.end());
}

void GgufWriter::begin_kv(const std::string& key, GgufType t) {
  if (std::find(keys_.begin(), keys_.end(), key) != keys_.end())
    fail("gguf", "writer", "metadata key '" + key + "' set twice");
  keys_.push_back(key);
  ++n_kv_;
  put_string(key);
  put<uint32_t>(static_cast<uint32_t>(t));
}

void GgufWriter::set_u16(const std::string& k, uint16_t v) { begin_kv(k, GgufType::U16); put(v); }
void GgufWriter::set_u32(const std::string& k, uint32_t v) { begin_kv(k, GgufType::U32); put(v); }
void GgufWriter::set_i32(const std::string& k, int32_t v) { begin_kv(k, GgufType::I32); put(v); }
void GgufWriter::set_f32(const std::string& k, float v) { begin_kv(k, GgufType::F32); put(v); }
void GgufWriter::set_bool(const std::string& k, bool v) { begin_kv(k, GgufType::Bool); put<uint8_t>(v ? 1 : 0); }
void GgufWriter::set_string(const std::string& k, const std::string& v) { begin_kv(k, GgufType::String); put_string(v); }

void GgufWriter::set_strings(const std::string& k, const std::vector<std::string>& v) {
  begin_kv(k, GgufType::Array);
  put<uint32_t>(static_cast<uint32_t>(GgufType::String));
  put<uint64_t>(v.size());
  for (const std::string& s : v) put_string(s);
}

void GgufWriter::set_i32s(const std::string& k, const std::vector<int32_t>& v) {
  begin_kv(k, GgufType::Array);
  put<uint32_t>(static_cast<uint32_t>(GgufType::I32));
  put<uint64_t>(v.size());
  for (int32_t x : v) put(x);
}

void GgufWriter::set_f32s(const std::string& k, const std::vector<float>& v) {
  begin_kv(k, GgufType::Array);
  put<uint32_t>(static_cast<uint32_t>(GgufType::F32));
  put<uint64_t>(v.size());
  for (float x : v) put(x);
}

void GgufWriter::add_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape, Producer produce) {
  if (!ggml_from_dtype(dtype)) fail("gguf", "writer", "tensor '" + name + "': dtype " + to_string(dtype) + " has no GGUF type");
  if (shape.empty() || shape.size() > 4) fail("gguf", "writer", "tensor '" + name + "' must have 1 to 4 dimensions");
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d <= 0) fail("gguf", "writer", "tensor '" + name + "' has a dimension <= 0");
    numel *= d;
  }
  if (shape.back() % dtype_block_elems(dtype) != 0)
    fail("gguf", "writer", "tensor '" + name + "' row length " + std::to_string(shape.back()) + " is not a multiple of the " +
                               to_string(dtype) + " block size");
  for (const Tensor& t : tensors_)
    if (t.name == name) fail("gguf", "writer", "tensor '" + name + "' added twice");
  tensors_.push_back({name, dtype, shape, dtype_bytes(dtype, static_cast<size_t>(numel)), std::move(produce)});
}

void GgufWriter::add_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  const size_t n = dtype_bytes(dtype, static_cast<size_t>(std::max<int64_t>(numel, 0)));
  add_tensor(name, dtype, shape, [data, n](uint8_t* dst) { std::memcpy(dst, data, n); });
}

void GgufWriter::write(const std::filesystem::path& path, const std::function<void(uint64_t, uint64_t)>& progress) const {
  const std::string shown = path.string();
  const std::filesystem::path tmp = path.string() + ".tmp";
  std::error_code dir_ec;
  if (std::filesystem::is_directory(path, dir_ec)) fail("gguf", shown, "is a directory; give a file name for the output");
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  // The file appears under its name only when complete; whatever stops the write (a full disk, a
  // tensor that cannot be produced, a rename refused) removes the partial .tmp.
  struct TmpGuard {
    const std::filesystem::path& p;
    bool keep = false;
    ~TmpGuard() {
      std::error_code ec;
      if (!keep) std::filesystem::remove(p, ec);
    }
  };
  std::unique_ptr<std::FILE, Closer> f(std::fopen(tmp.c_str(), "wb"));
  if (!f) fail("gguf", shown, "cannot create the output file");
  TmpGuard guard{tmp};
  auto out = [&](const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f.get()) != n) fail("gguf", shown, "write failed (disk full?)");
  };
  std::vector<uint8_t> head;
  auto put = [&](const auto& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    head.insert(head.end(), p, p + sizeof(v));
  };
  put(uint32_t{0x46554747});
  put(uint32_t{3});
  put(uint64_t{tensors_.size()});
  put(uint64_t{n_kv_});
  head.insert(head.end(), kv_bytes_.begin(), kv_bytes_.end());
  uint64_t offset = 0, total = 0;
  for (const Tensor& t : tensors_) {
    put(uint64_t{t.name.size()});
    head.insert(head.end(), t.name.begin(), t.name.end());
    put(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put(static_cast<uint64_t>(*it));
    put(*ggml_from_dtype(t.dtype));
    put(offset);
    offset += (t.nbytes + alignment_ - 1) / alignment_ * alignment_;
    total += t.nbytes;
  }
  head.resize((head.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  out(head.data(), head.size());
  std::vector<uint8_t> buf;
  uint64_t done = 0;
  for (const Tensor& t : tensors_) {
    const uint64_t padded = (t.nbytes + alignment_ - 1) / alignment_ * alignment_;
    buf.assign(static_cast<size_t>(padded), 0);
    t.produce(buf.data());
    out(buf.data(), buf.size());
    done += t.nbytes;
    if (progress) progress(done, total);
  }
  if (std::fflush(f.get()) != 0) fail("gguf", shown, "write failed (disk full?)");
  f.reset();
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("gguf", shown, "cannot rename the temporary file into place: " + ec.message());
  guard.keep = true;
}

}  // namespace mlascope
