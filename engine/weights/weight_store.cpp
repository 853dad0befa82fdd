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

uint64_t WeightStore::reorder_q4_k_for_cpu() {
  uint64_t done = 0;
  for (size_t fi = 0; fi < files_.size(); ++fi) {
    MappedFile& file = *files_[fi];
    if (!file.resident()) continue;
    std::vector<std::pair<TensorView*, uint64_t>> views;  // with their offsets in the file
    for (auto& [name, entry] : tensors_) {
      TensorView& t = entry.first;
      if (entry.second != static_cast<int>(fi) || t.dtype != DType::Q4_K || t.nbytes % 144 != 0) continue;
      const auto* p = static_cast<const uint8_t*>(t.data);
      if (p < file.data() || p + t.nbytes > file.data() + file.size()) continue;  // a kept copy, not the file's
      views.emplace_back(&t, static_cast<uint64_t>(p - file.data()));
    }
    if (views.empty()) continue;
    // Pieces of at most 64 Ki blocks, taken by as many threads as there are cores (a 10 GB
    // Q4_K_M file has ~40 M blocks: ~1 s on one core). Without threads, this thread does them all.
    constexpr uint64_t kPiece = 65536;
    std::vector<std::pair<uint64_t, uint64_t>> pieces;  // (offset, blocks)
    for (const auto& [t, off] : views)
      for (uint64_t b = 0; b < t->nbytes / 144; b += kPiece) pieces.emplace_back(off + b * 144, std::min(kPiece, t->nbytes / 144 - b));
    const bool rewritten = file.rewrite([&](uint8_t* data, uint64_t) {
      std::atomic<size_t> next{0};
      auto work = [&] {
        uint8_t tmp[144];
        for (size_t i; (i = next.fetch_add(1)) < pieces.size();)
          for (uint64_t b = 0; b < pieces[i].second; ++b) {
            uint8_t* block = data + pieces[i].first + b * 144;
            q4_k_to_cpu_layout(block, tmp);
            std::memcpy(block, tmp, 144);
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
    if (!rewritten) continue;  // could not get write access: the file's layout stays, and is read as Q4_K
    for (auto& [t, off] : views) {
      t->dtype = DType::Q4_K_R;
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
