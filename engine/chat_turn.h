// engine/chat_turn.h — how a new chat line becomes token ids, given what the KV cache holds.
// One rule for every front end (terminal chat, workbench): render the whole conversation with the
// model's chat template and feed only what the cache lacks, cutting the cache back to where the
// two part (an interrupted reply, sampled ids that re-encode differently). A base model (plain
// template) continues one document instead: the line is appended, and a new document (BOS, with
// the system text opening it) starts on an empty cache or after an end-of-text.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mlascope {

struct ChatTurn {
  int keep = 0;                 // cached positions to keep; truncate the cache to this first
  std::vector<int32_t> ids;     // then feed these
};

// previous: the conversation so far (user and assistant messages; system entries are ignored, the
// `system` argument is the one in force). kind: the template (default: the tokenizer's own).
ChatTurn encode_chat_turn(const Tokenizer& tok, std::span<const int32_t> history, const std::string& system,
                          std::span<const ChatMessage> previous, const std::string& user,
                          std::optional<ChatTemplateKind> kind = {});

}  // namespace mlascope
