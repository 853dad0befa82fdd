// engine/tokenizer/tokenizer_impl.h — the loaded tokenizer's state, shared by the loaders
// (tokenizer_load.cpp), encode/decode (tokenizer.cpp) and the chat templates (chat_template.cpp).
#pragma once
#include <array>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpe.h"
#include "normalizer.h"
#include "pre_tokenizer.h"
#include "tokenizer.h"

namespace mlascope {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false, rstrip = false;  // swallow whitespace on that side when matched
};

struct Tokenizer::Impl {
  std::string source_name;
  std::vector<std::string> token_strings;  // by id, as written in the vocab; "" for unused ids
  std::vector<std::string> token_bytes;    // by id, raw bytes
  std::vector<uint8_t> special;            // by id
  tok::StringIdMap string_ids;  // vocab strings and added-token contents -> id (keys live in token_strings)
  int32_t find_string(std::string_view s) const { return string_ids.find(token_strings, s); }

  tok::Normalizer normalizer;  // on valid UTF-8 runs, before `pre`
  tok::BpeModel bpe;
  tok::PreTokenizer pre;

  // Added tokens, matched leftmost-longest with a byte trie before pre-tokenization.
  std::vector<AddedToken> added;
  struct TrieNode {
    int32_t added = -1;  // index into `added` when a token ends here
    std::vector<std::pair<unsigned char, int32_t>> children;
  };
  std::vector<TrieNode> trie{1};
  std::array<bool, 256> first_byte{};

  int32_t bos_id = -1, eos_id = -1;
  bool add_bos = false;
  ChatTemplateKind chat_kind = ChatTemplateKind::Plain;
  bool chat_recognized = true;

  // Pieces repeat a lot (words, indentation); their ids are kept. Bounded, cleared when full.
  static constexpr size_t kCacheMaxEntries = 1u << 18;
  static constexpr size_t kCacheMaxPieceBytes = 64;
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  void add_token_to_trie(int32_t added_index);
  void finish_ids(size_t n_ids);  // sizes the per-id tables to n_ids
};

}  // namespace mlascope
