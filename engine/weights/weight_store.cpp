// engine/weights/weight_store.cpp — the name → tensor table shared by every file format.
#include "weight_store.h"

#include "../error.h"
#include "mapped_file.h"

namespace mlascope {

WeightStore::WeightStore() = default;
WeightStore::~WeightStore() = default;
WeightStore::WeightStore(WeightStore&&) noexcept = default;
WeightStore& WeightStore::operator=(WeightStore&&) noexcept = default;

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
