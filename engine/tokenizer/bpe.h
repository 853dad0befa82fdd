// engine/tokenizer/bpe.h — the BPE merge loop over one pre-token piece: symbols in a linked list,
// candidate pairs in a min-heap ordered by (merge rank, position), the merges table keyed by the
// pair of ids. Lowest rank first, leftmost first on ties, as the reference does.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hash_tables.h"

namespace mlascope::tok {

struct BpeModel {
  struct Merge {
    int32_t rank = 0;
    int32_t id = -1;  // the merged token
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  U64Map<Merge> merges;
  std::unordered_map<std::string, int32_t> bytes_to_id;  // raw bytes of every vocab token -> id

  bool byte_level = true;      // initial symbols are bytes (their stand-in characters' tokens)
  std::array<int32_t, 256> byte_ids{};  // byte-level: token of each byte; -1 when missing
  bool ignore_merges = false;  // a piece that is a whole vocab token is taken as is
  bool byte_fallback = false;  // a character missing from the vocab becomes <0xNN> tokens
  std::array<int32_t, 256> fallback_ids{};
  int32_t unk_id = -1;
  bool fuse_unk = false;

  // Appends the ids of one piece (raw bytes) to `out`.
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
};

}  // namespace mlascope::tok
