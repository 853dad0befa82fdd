// engine/weights/weight_store.cpp — the name → tensor table shared by every file format.
#include "weight_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

#include "../error.h"
#include "mapped_file.h"
#include "quant.h"

namespace mlascope {

WeightStore::WeightStore() = default;
WeightStore::~WeightStore() = default;
WeightStore::WeightStore(WeightStore&&) noexcept = default;
WeightStore& WeightStore::operator=(WeightStore&&) noexcept = default;

uint64_t WeightStore::reorder_for_cpu() {
  uint64_t done = 0;
  for (size_t fi = 0; fi < files_.size(); ++fi) {
    MappedFile& file = *files_[fi];
    if (!file.resident()) continue;
    struct Piece {
      DType type;
      uint64_t offset, rows, row_bytes;
      int64_t cols;
    };
    struct Candidate {
      TensorView* t;
      uint64_t offset;
    };
    std::vector<Candidate> found;
    for (auto& [name, entry] : tensors_) {
      TensorView& t = entry.first;
      if (entry.second != static_cast<int>(fi) || cpu_layout_of(t.dtype) == t.dtype || t.shape.empty()) continue;
      const int64_t cols = t.cols();
      if (cols <= 0 || cols % dtype_block_elems(t.dtype) != 0) continue;
      const uint64_t row_bytes = dtype_bytes(t.dtype, static_cast<size_t>(cols));
      const auto* p = static_cast<const uint8_t*>(t.data);
      if (t.nbytes % row_bytes != 0 || p < file.data() || p + t.nbytes > file.data() + file.size())
        continue;  // a kept copy, not the file's bytes
      found.push_back({&t, static_cast<uint64_t>(p - file.data())});
    }
    // Bytes are reordered once: two names for the same bytes share the result; tensors whose bytes
    // partly overlap another's keep the file's layout, both of them.
    std::sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) {
      return a.offset != b.offset ? a.offset < b.offset : a.t->nbytes < b.t->nbytes;
    });
    std::vector<bool> overlaps(found.size(), false);
    size_t reach = 0;  // the candidate so far whose bytes end last
    for (size_t i = 1; i < found.size(); ++i) {
      const Candidate &a = found[reach], &b = found[i];
      const bool alias = a.offset == b.offset && a.t->nbytes == b.t->nbytes && a.t->dtype == b.t->dtype && a.t->cols() == b.t->cols();
      if (!alias && b.offset < a.offset + a.t->nbytes) overlaps[reach] = overlaps[i] = true;
      if (b.offset + b.t->nbytes > a.offset + a.t->nbytes) reach = i;
    }
    std::vector<TensorView*> views;
    std::vector<Piece> pieces;
    for (size_t i = 0; i < found.size(); ++i) {
      if (overlaps[i]) continue;
      TensorView& t = *found[i].t;
      views.push_back(&t);
      if (i > 0 && !overlaps[i - 1] && found[i - 1].offset == found[i].offset) continue;  // an alias: reordered once
      // Pieces of ~8 MiB, taken by as many threads as there are cores (a 10 GB Q4_K_M file: ~1 s
      // on one core). Without threads, this thread does them all.
      const int64_t cols = t.cols();
      const uint64_t row_bytes = dtype_bytes(t.dtype, static_cast<size_t>(cols));
      const uint64_t rows = t.nbytes / row_bytes, per = std::max<uint64_t>(1, (8u << 20) / row_bytes);
      for (uint64_t r = 0; r < rows; r += per)
        pieces.push_back({t.dtype, found[i].offset + r * row_bytes, std::min(per, rows - r), row_bytes, cols});
    }
    if (views.empty()) continue;
    const bool rewritten = file.rewrite([&](uint8_t* data, uint64_t) {
      std::atomic<size_t> next{0};
      auto work = [&] {
        std::vector<uint8_t> tmp;
        for (size_t i; (i = next.fetch_add(1)) < pieces.size();) {
          const Piece& pc = pieces[i];
          tmp.resize(pc.row_bytes);
          for (uint64_t r = 0; r < pc.rows; ++r) {
            uint8_t* row = data + pc.offset + r * pc.row_bytes;
            row_to_cpu_layout(pc.type, row, tmp.data(), pc.cols);
            std::memcpy(row, tmp.data(), pc.row_bytes);
          }
        }
      };
      std::vector<std::thread> helpers;
      const unsigned cores = std::clamp(std::thread::hardware_concurrency(), 1u, 16u);
      try {
        for (unsigned k = 1; k < cores && k < pieces.size(); ++k) helpers.emplace_back(work);
      } catch (const std::system_error&) {  // no more threads (limits): the ones running finish the rest
      }
      work();
      for (std::thread& th : helpers) th.join();
    });
    if (!rewritten) continue;  // no write access: the file's layout stays, and is read as such
    for (TensorView* t : views) {
      t->dtype = cpu_layout_of(t->dtype);
      done += t->nbytes;
    }
  }
  return done;
}

int WeightStore::add_file(std::shared_ptr<MappedFile> f, std::string display_name) {
  files_.push_back(std::move(f));
  file_names_.push_back(std::move(display_name));
  return static_cast<int>(files_.size()) - 1;
}

void WeightStore::add(TensorView t, int file_index) {
  const std::string name = t.name;
  total_bytes_ += t.nbytes;
  auto [it, inserted] = tensors_.emplace(name, std::make_pair(std::move(t), file_index));
  if (!inserted) {
    const std::string where = file_index >= 0 && file_index < static_cast<int>(file_names_.size())
                                  ? file_names_[file_index]
                                  : std::string("weights");
    fail("weights", where, "tensor '" + name + "' appears twice (also in " + file_of(name) + ")");
  }
  order_.push_back(name);
}

const void* WeightStore::keep(std::vector<uint8_t> bytes) {
  owned_.push_back(std::make_unique<std::vector<uint8_t>>(std::move(bytes)));
  return owned_.back()->data();
}

const TensorView* WeightStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second.first;
}

std::string WeightStore::file_of(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end() || it->second.second < 0 || it->second.second >= static_cast<int>(file_names_.size()))
    return file_names_.empty() ? std::string("weights") : file_names_.front();
  return file_names_[it->second.second];
}

const TensorView& WeightStore::get(const std::string& name) const {
  const TensorView* t = find(name);
  if (!t) fail("weights", file_names_.empty() ? "weights" : file_names_.front(), "tensor '" + name + "' is missing");
  return *t;
}

const TensorView& WeightStore::expect(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorView& t = get(name);
  if (t.shape != shape) {
    TensorView want;
    want.shape = shape;
    fail("weights", file_of(name),
         "tensor '" + name + "' has shape " + t.shape_string() + " but the config implies " + want.shape_string());
  }
  return t;
}

}  // namespace mlascope
