// engine/tokenizer/tokenizer.h — byte-level BPE (HF tokenizer.json or GGUF tokenizer.ggml.*),
// identical id-for-id to the reference tokenizers, plus the built-in DeepSeek chat templates.
//
// Encoding: added tokens are cut out first (leftmost-longest; `special` ones only when the caller
// asks), the rest goes through the normalizer (NFC / NFKC, when tokenizer.json names one), the
// pre-tokenizer (PCRE2 regex splits) and the BPE merges.
// Text that is not valid UTF-8 is still encoded losslessly: every byte that is not part of a valid
// UTF-8 character becomes a piece of its own (its byte token), and the valid runs around it are
// normalized and pre-tokenized separately, so decode(encode(x)) == x for any bytes x unless a
// normalizer changes the valid runs (decode then returns the normalized text).
//
// Anything in a tokenizer.json this code does not implement (a model type, normalizer,
// pre-tokenizer, decoder, added-token option) is refused by name at load, never approximated.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlascope {

struct TokenizerParts {            // what a GGUF file's tokenizer.ggml.* metadata provides
  std::vector<std::string> tokens; // id -> token string (byte-level BPE alphabet, as in tokenizer.json vocab)
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<int32_t> token_types;  // GGUF token types (1 normal, 3 control, 4 user-defined, 6 byte...); may be empty
  std::string pre;                 // tokenizer.ggml.pre, e.g. "deepseek-v3", "deepseek-llm"
  int32_t bos_id = -1, eos_id = -1; bool add_bos = true;
  std::string chat_template;       // may be empty
};

enum class ChatTemplateKind { Plain, DeepSeekV2, DeepSeekV3 };
const char* chat_template_name(ChatTemplateKind k);  // "plain", "deepseek-v2", "deepseek-v3"
// Parses the names above; throws Error naming the bad value.
ChatTemplateKind parse_chat_template_kind(std::string_view name);
// Recognizes a Jinja chat template text by its markers (no interpreter); nullopt when unknown.
std::optional<ChatTemplateKind> recognize_chat_template(std::string_view jinja);

struct ChatMessage { std::string role; std::string content; };  // role: system | user | assistant

class Tokenizer {
 public:
  static Tokenizer from_dir(const std::filesystem::path& dir);  // tokenizer.json (+ tokenizer_config.json)
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json, const std::filesystem::path& config_json = {});
  static Tokenizer from_parts(const TokenizerParts& parts, const std::string& source_name);
  // In-memory variant of from_file; the names are used in error messages.
  static Tokenizer from_json_text(std::string_view tokenizer_json, std::string_view config_json = {},
                                  const std::string& tokenizer_name = "tokenizer.json",
                                  const std::string& config_name = "tokenizer_config.json");

  // parse_special: text equal to a special added token becomes its id (chat templates); otherwise
  // it is ordinary text. Non-special added tokens are always matched, as the reference does.
  std::vector<int32_t> encode(std::string_view text, bool parse_special = false) const;
  std::string decode(std::span<const int32_t> ids) const;  // exact bytes; ids outside the vocab add nothing
  std::string token_bytes(int32_t id) const;               // raw bytes of one token ("" when out of range)
  // For the token strip: valid UTF-8 as is; control characters as \n \t \r \xNN; bytes that are not
  // valid UTF-8 on their own as \xNN; ids outside the vocab as "<id N?>".
  std::string token_display(int32_t id) const;
  const std::string& token_string(int32_t id) const;       // as written in the vocab ("Ġhello")
  std::optional<int32_t> token_id(std::string_view token_string) const;  // vocab or added token
  // The pre-token pieces encode() runs BPE on (added tokens included as pieces); for views and tests.
  std::vector<std::string> pre_tokenize(std::string_view text, bool parse_special = false) const;

  int32_t bos_id() const;
  int32_t eos_id() const;
  bool add_bos() const;
  int32_t vocab_size() const;  // highest id + 1
  bool is_special(int32_t id) const;
  const std::string& source_name() const;

  ChatTemplateKind chat_template() const;  // recognized from tokenizer_config.json (Plain when none/unknown)
  bool chat_template_recognized() const;   // false when a template was given but not recognized
  // Renders messages with the template; add_generation_prompt appends the assistant prefix.
  // Template markers become their token ids; message contents are ordinary text (a special token
  // written in a message stays text). Throws Error when a marker is missing from the vocab.
  std::vector<int32_t> apply_chat_template(std::span<const ChatMessage> msgs, bool add_generation_prompt,
                                           std::optional<ChatTemplateKind> kind = {}) const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;  // immutable after load except the internal piece cache (locked)
};

// Streaming decode: feed ids one at a time, get only complete UTF-8 back. A token that ends in the
// middle of a character waits for the next one; bytes that can never form a valid character come
// out as U+FFFD, so everything returned is valid UTF-8.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(&tok) {}
  std::string push(int32_t id);
  std::string flush();  // whatever is pending (an incomplete character becomes U+FFFD)

 private:
  const Tokenizer* tok_;
  std::string pending_;
};

}  // namespace mlascope
