// engine/tokenizer/chat_template.cpp — the DeepSeek chat formats, written out in C++ rather than
// interpreted from the model's Jinja text (a model file must not be able to run code here).
//
// deepseek-v3:  <bos>{system}<｜User｜>{user}<｜Assistant｜>{assistant}<eos>...[<｜Assistant｜>]
//               (several system messages are joined with "\n\n", as the V3 template does)
// deepseek-v2:  <bos>{system}\n\nUser: {user}\n\nAssistant: {assistant}<eos>...[Assistant:]
// plain:        [<bos> when add_bos] then the contents back to back (base models, no roles)
#include <algorithm>

#include "engine/error.h"
#include "tokenizer.h"

namespace mlascope {

const char* chat_template_name(ChatTemplateKind k) {
  switch (k) {
    case ChatTemplateKind::Plain: return "plain";
    case ChatTemplateKind::DeepSeekV2: return "deepseek-v2";
    case ChatTemplateKind::DeepSeekV3: return "deepseek-v3";
  }
  return "?";
}

ChatTemplateKind parse_chat_template_kind(std::string_view name) {
  for (ChatTemplateKind k : {ChatTemplateKind::Plain, ChatTemplateKind::DeepSeekV2, ChatTemplateKind::DeepSeekV3})
    if (name == chat_template_name(k)) return k;
  std::string what = "'";
  what.append(name).append("' is not one of plain, deepseek-v2, deepseek-v3");
  fail("tokenizer", "chat template", what);
}

std::optional<ChatTemplateKind> recognize_chat_template(std::string_view j) {
  auto has = [&](std::string_view s) { return j.find(s) != std::string_view::npos; };
  if (has("<｜User｜>") && has("<｜Assistant｜>")) return ChatTemplateKind::DeepSeekV3;
  if (has("'User: '") && has("'Assistant: '")) return ChatTemplateKind::DeepSeekV2;
  return std::nullopt;
}

std::vector<int32_t> Tokenizer::apply_chat_template(std::span<const ChatMessage> msgs, bool add_generation_prompt,
                                                    std::optional<ChatTemplateKind> kind) const {
  const ChatTemplateKind k = kind.value_or(chat_template());
  std::vector<int32_t> ids;
  std::string text;  // ordinary text waiting to be encoded: adjacent pieces must be encoded together
  auto flush_text = [&] {
    if (text.empty()) return;
    std::vector<int32_t> t = encode(text, /*parse_special=*/false);
    ids.insert(ids.end(), t.begin(), t.end());
    text.clear();
  };
  auto marker = [&](std::string_view token) {
    flush_text();
    std::optional<int32_t> id = token_id(token);
    if (!id)
      fail("tokenizer", source_name(),
           std::string("chat template ") + chat_template_name(k) + " needs the token '" + std::string(token) +
               "', which this vocab lacks");
    ids.push_back(*id);
  };
  auto bos = [&] {
    if (bos_id() < 0)
      fail("tokenizer", source_name(), std::string("chat template ") + chat_template_name(k) + " needs a BOS token");
    ids.push_back(bos_id());
  };
  auto eos = [&] {
    flush_text();
    if (eos_id() < 0)
      fail("tokenizer", source_name(), std::string("chat template ") + chat_template_name(k) + " needs an EOS token");
    ids.push_back(eos_id());
  };
  for (const ChatMessage& m : msgs)
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      fail("tokenizer", "chat", "message role '" + m.role + "' is not system, user or assistant");

  switch (k) {
    case ChatTemplateKind::DeepSeekV3: {
      bos();
      bool first_system = true;
      for (const ChatMessage& m : msgs) {
        if (m.role != "system") continue;
        if (!first_system) text += "\n\n";
        text += m.content;
        first_system = false;
      }
      for (const ChatMessage& m : msgs) {
        if (m.role == "user") {
          marker("<｜User｜>");
          text += m.content;
        } else if (m.role == "assistant") {
          marker("<｜Assistant｜>");
          text += m.content;
          eos();
        }
      }
      if (add_generation_prompt) marker("<｜Assistant｜>");
      break;
    }
    case ChatTemplateKind::DeepSeekV2: {
      bos();
      for (const ChatMessage& m : msgs) {
        if (m.role == "system") {
          text.append(m.content).append("\n\n");
        } else if (m.role == "user") {
          text.append("User: ").append(m.content).append("\n\n");
        } else {
          text.append("Assistant: ").append(m.content);
          eos();
        }
      }
      if (add_generation_prompt) text += "Assistant:";
      break;
    }
    case ChatTemplateKind::Plain: {
      if (add_bos()) bos();
      for (const ChatMessage& m : msgs) text += m.content;
      break;
    }
  }
  flush_text();
  return ids;
}

}  // namespace mlascope
