// engine/tokenizer/bpe.cpp — BPE merges on one piece in O(n log n), so a megabyte of spaces (one
// piece) costs no more than a megabyte of words.
#include "bpe.h"

#include <algorithm>
#include <functional>
#include <queue>

#include "unicode_util.h"

namespace mlascope::tok {

namespace {

struct Symbol {
  int32_t id;
  int32_t prev, next;  // -1 at the ends; a merged-away symbol has id -1
};

struct Candidate {
  int32_t rank, pos, left_id, right_id, merged_id;
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

void BpeModel::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges) {
    auto it = bytes_to_id.find(std::string(piece));
    if (it != bytes_to_id.end()) {
      out.push_back(it->second);
      return;
    }
  }
  thread_local std::vector<Symbol> syms;
  syms.clear();
  auto push = [&](int32_t id) {
    const auto n = static_cast<int32_t>(syms.size());
    syms.push_back({id, n - 1, -1});
    if (n > 0) syms[static_cast<size_t>(n - 1)].next = n;
  };
  if (byte_level) {
    for (char c : piece) {
      const int32_t id = byte_ids[static_cast<unsigned char>(c)];
      if (id >= 0) push(id);
      else if (unk_id >= 0 && !(fuse_unk && !syms.empty() && syms.back().id == unk_id)) push(unk_id);
    }
  } else {
    std::string_view rest = piece;
    while (!rest.empty()) {
      Utf8Step st = utf8_step(rest);
      const size_t len = st.kind == Utf8Step::Valid ? st.len : std::max<size_t>(1, st.len);
      const std::string_view ch = rest.substr(0, len);
      rest.remove_prefix(len);
      auto it = bytes_to_id.find(std::string(ch));
      if (it != bytes_to_id.end()) {
        push(it->second);
      } else if (byte_fallback) {
        for (char c : ch) {
          const int32_t id = fallback_ids[static_cast<unsigned char>(c)];
          if (id >= 0) push(id);
        }
      } else if (unk_id >= 0 && !(fuse_unk && !syms.empty() && syms.back().id == unk_id)) {
        push(unk_id);
      }
    }
  }
  if (syms.size() > 1) {
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    auto consider = [&](int32_t pos) {
      if (pos < 0) return;
      const Symbol& a = syms[static_cast<size_t>(pos)];
      if (a.next < 0) return;
      const Symbol& b = syms[static_cast<size_t>(a.next)];
      if (const Merge* m = merges.find(pair_key(a.id, b.id))) heap.push({m->rank, pos, a.id, b.id, m->id});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) consider(i);
    while (!heap.empty()) {
      const Candidate c = heap.top();
      heap.pop();
      Symbol& a = syms[static_cast<size_t>(c.pos)];
      // Stale entries: one side was merged since this pair was queued (ids then differ).
      if (a.id != c.left_id || a.next < 0) continue;
      Symbol& b = syms[static_cast<size_t>(a.next)];
      if (b.id != c.right_id) continue;
      a.id = c.merged_id;
      const int32_t removed = a.next;
      a.next = b.next;
      if (b.next >= 0) syms[static_cast<size_t>(b.next)].prev = c.pos;
      syms[static_cast<size_t>(removed)].id = -1;
      consider(a.prev);
      consider(c.pos);
    }
  }
  for (int32_t i = 0; i >= 0 && !syms.empty(); i = syms[static_cast<size_t>(i)].next)
    out.push_back(syms[static_cast<size_t>(i)].id);
}

}  // namespace mlascope::tok
