// engine/chat_turn.cpp — see chat_turn.h.
#include "chat_turn.h"

namespace mlascope {

ChatTurn encode_chat_turn(const Tokenizer& tok, std::span<const int32_t> history, const std::string& system,
                          std::span<const ChatMessage> previous, const std::string& user,
                          std::optional<ChatTemplateKind> kind) {
  ChatTurn t;
  const size_t n = history.size();
  const ChatTemplateKind k = kind.value_or(tok.chat_template());
  if (k == ChatTemplateKind::Plain) {
    const bool new_doc = n == 0 || (tok.eos_id() >= 0 && history.back() == tok.eos_id());
    t.keep = static_cast<int>(n);
    if (new_doc && tok.add_bos() && tok.bos_id() >= 0) t.ids.push_back(tok.bos_id());
    const std::vector<int32_t> ids = tok.encode(new_doc ? system + user : user);
    t.ids.insert(t.ids.end(), ids.begin(), ids.end());
    return t;
  }
  std::vector<ChatMessage> msgs;
  if (!system.empty()) msgs.push_back({"system", system});
  for (const ChatMessage& m : previous)
    if (m.role == "user" || m.role == "assistant") msgs.push_back(m);
  msgs.push_back({"user", user});
  const std::vector<int32_t> all = tok.apply_chat_template(msgs, /*add_generation_prompt=*/true, k);
  size_t common = 0;
  while (common < n && common < all.size() && history[common] == all[common]) ++common;
  t.keep = static_cast<int>(common);
  t.ids.assign(all.begin() + static_cast<std::ptrdiff_t>(common), all.end());
  return t;
}

}  // namespace mlascope
