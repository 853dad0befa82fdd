// engine/tokenizer/hash_tables.h — two open-addressing tables sized once at load. std::unordered_map
// with std::string keys spent most of the 128k-vocab load in node allocation and cache misses.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlascope::tok {

// FNV-1a, continued across pieces so "a" + "b" hashes like "ab" without building the string.
inline uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// String -> id, where the strings live in an external by-id table (the vocab's token strings).
class StringIdMap {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    if (cap > slots_.size()) rehash(cap);
  }
  // Inserts `id` (whose string is strings[id]) unless the string is already present; true if inserted.
  bool insert(const std::vector<std::string>& strings, int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) rehash_with(strings, slots_.empty() ? 16 : slots_.size() * 2);
    const std::string& s = strings[static_cast<size_t>(id)];
    size_t i = fnv1a(s) & (slots_.size() - 1);
    for (;; i = (i + 1) & (slots_.size() - 1)) {
      const int32_t cur = slots_[i];
      if (cur < 0) {
        slots_[i] = id;
        ++size_;
        return true;
      }
      if (strings[static_cast<size_t>(cur)] == s) return false;
    }
  }
  // Replaces the id stored for strings[id]'s string, or inserts it.
  void assign(const std::vector<std::string>& strings, int32_t id) {
    if (!slots_.empty()) {
      const std::string& s = strings[static_cast<size_t>(id)];
      for (size_t i = fnv1a(s) & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
        const int32_t cur = slots_[i];
        if (cur < 0) break;
        if (strings[static_cast<size_t>(cur)] == s) {
          slots_[i] = id;
          return;
        }
      }
    }
    insert(strings, id);
  }
  int32_t find(const std::vector<std::string>& strings, std::string_view s) const { return find2(strings, s, {}); }
  // Looks up the concatenation a + b.
  int32_t find2(const std::vector<std::string>& strings, std::string_view a, std::string_view b) const {
    if (slots_.empty()) return -1;
    const uint64_t h = fnv1a(b, fnv1a(a));
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const int32_t cur = slots_[i];
      if (cur < 0) return -1;
      const std::string& c = strings[static_cast<size_t>(cur)];
      if (c.size() == a.size() + b.size() && std::string_view(c).substr(0, a.size()) == a &&
          std::string_view(c).substr(a.size()) == b)
        return cur;
    }
  }
  size_t size() const { return size_; }

 private:
  std::vector<int32_t> slots_;
  size_t size_ = 0;
  const std::vector<std::string>* last_strings_ = nullptr;
  void rehash(size_t cap) {
    if (last_strings_) rehash_with(*last_strings_, cap);
    else slots_.assign(cap, -1);
  }
  void rehash_with(const std::vector<std::string>& strings, size_t cap) {
    last_strings_ = &strings;
    std::vector<int32_t> old = std::move(slots_);
    slots_.assign(cap, -1);
    size_ = 0;
    for (int32_t id : old)
      if (id >= 0) insert(strings, id);
  }
};

// uint64 key -> small value, key ~0 reserved as empty.
template <class V>
class U64Map {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    if (cap > keys_.size()) rehash(cap);
  }
  V& operator[](uint64_t key) {
    if ((size_ + 1) * 2 > keys_.size()) rehash(keys_.empty() ? 16 : keys_.size() * 2);
    size_t i = mix(key) & (keys_.size() - 1);
    for (;; i = (i + 1) & (keys_.size() - 1)) {
      if (keys_[i] == key) return vals_[i];
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        ++size_;
        return vals_[i];
      }
    }
  }
  const V* find(uint64_t key) const {
    if (keys_.empty()) return nullptr;
    for (size_t i = mix(key) & (keys_.size() - 1);; i = (i + 1) & (keys_.size() - 1)) {
      if (keys_[i] == key) return &vals_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  std::vector<uint64_t> keys_;
  std::vector<V> vals_;
  size_t size_ = 0;
  static uint64_t mix(uint64_t x) {  // splitmix64 finalizer: pair keys are far from uniform
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  void rehash(size_t cap) {
    std::vector<uint64_t> ok = std::move(keys_);
    std::vector<V> ov = std::move(vals_);
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, V{});
    size_ = 0;
    for (size_t i = 0; i < ok.size(); ++i)
      if (ok[i] != kEmpty) (*this)[ok[i]] = ov[i];
  }
};

}  // namespace mlascope::tok
