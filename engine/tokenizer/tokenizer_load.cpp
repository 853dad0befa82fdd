// engine/tokenizer/tokenizer_load.cpp — building a Tokenizer from tokenizer.json (+ config) or from
// GGUF tokenizer.ggml.* parts. Every inconsistency is an Error naming the file and the entry.
#include <algorithm>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/json_limits.h"
#include "tokenizer.h"
#include "tokenizer_impl.h"
#include "unicode_util.h"

namespace mlascope {

using nlohmann::json;

namespace {

constexpr const char* kWhere = "tokenizer";
// Ids index dense tables; a far-away id in a damaged file must not allocate gigabytes.
constexpr int64_t kMaxId = 1 << 24;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  if (!f) fail(kWhere, p.string(), "cannot open the file");
  const std::streamoff size = f.tellg();
  if (size < 0) fail(kWhere, p.string(), "cannot read the file size");
  std::string text(static_cast<size_t>(size), '\0');
  f.seekg(0);
  if (!f.read(text.data(), size)) fail(kWhere, p.string(), "read error");
  return text;
}

json parse_json(std::string_view text, const std::string& name) { return parse_json_bounded(text, kWhere, name); }

std::string show_token(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 60)) {
    if (c == '\n') out += "\\n";
    else out += c;
  }
  if (s.size() > 60) out += "...";
  return out + "'";
}

// tokenizer.json in one SAX pass: model.vocab and model.merges (99% of the file) go straight into
// flat vectors; everything else becomes a small DOM. A DOM of the whole 128k vocab (a std::map per
// object) alone costs several times the load budget.
class TokenizerJsonReader final : public nlohmann::json_sax<json> {
 public:
  struct MergeEntry {
    std::string a, b;
    bool is_pair;  // ["a", "b"]; otherwise `a` holds the whole "a b" string
  };
  json root;
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<MergeEntry> merges;
  bool saw_vocab = false, saw_merges = false;

  TokenizerJsonReader(std::string file) : file_(std::move(file)) {}

  void read(std::string_view text) {
    check_json_depth(text, kWhere, file_);
    if (!json::sax_parse(text.begin(), text.end(), this)) fail(kWhere, file_, "malformed JSON: " + error_);
  }

  bool null() override { return value(json()); }
  bool boolean(bool v) override { return value(v); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::Vocab) {
      vocab.emplace_back(key_, v);
      return true;
    }
    return value(v);
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::Vocab) {
      vocab.emplace_back(key_, v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v));
      return true;
    }
    return value(v);
  }
  bool number_float(number_float_t v, const string_t&) override { return value(v); }
  bool string(string_t& v) override {
    if (mode_ == Mode::Merges) {
      merges.push_back({v, {}, false});
      return true;
    }
    if (mode_ == Mode::MergePair) {
      if (pair_.size() >= 2) bad_merge();
      pair_.push_back(v);
      return true;
    }
    return value(std::move(v));
  }
  bool binary(binary_t&) override { return value(json()); }
  bool key(string_t& k) override {
    key_ = k;  // a copy: moving would take the lexer's buffer and cost it an allocation per token
    return true;
  }
  bool start_object(std::size_t) override {
    if (mode_ == Mode::None && at_model() && key_ == "vocab") {
      mode_ = Mode::Vocab;
      saw_vocab = true;
      vocab.reserve(1 << 17);
      return true;
    }
    if (mode_ != Mode::None) {
      if (mode_ == Mode::Vocab) fail(kWhere, file_, "model.vocab[" + show_token(key_) + "]: expected an integer id");
      bad_merge();
    }
    return open(json::object());
  }
  bool end_object() override {
    if (mode_ == Mode::Vocab) {
      mode_ = Mode::None;
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    if (mode_ == Mode::None && at_model() && key_ == "merges") {
      mode_ = Mode::Merges;
      saw_merges = true;
      merges.reserve(1 << 17);
      return true;
    }
    if (mode_ == Mode::Merges) {
      mode_ = Mode::MergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::None) {
      if (mode_ == Mode::Vocab) fail(kWhere, file_, "model.vocab[" + show_token(key_) + "]: expected an integer id");
      bad_merge();
    }
    return open(json::array());
  }
  bool end_array() override {
    if (mode_ == Mode::MergePair) {
      if (pair_.size() != 2) bad_merge();
      merges.push_back({std::move(pair_[0]), std::move(pair_[1]), true});
      mode_ = Mode::Merges;
      return true;
    }
    if (mode_ == Mode::Merges) {
      mode_ = Mode::None;
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error_ = e.what();
    return false;
  }

 private:
  enum class Mode { None, Vocab, Merges, MergePair };
  Mode mode_ = Mode::None;
  std::string file_, key_, error_;
  std::vector<json*> stack_;
  std::vector<std::string> pair_;
  const json* model_ = nullptr;

  bool at_model() const { return !stack_.empty() && stack_.back() == model_ && model_ != nullptr; }
  [[noreturn]] void bad_merge() {
    fail(kWhere, file_, "model.merges[" + std::to_string(merges.size()) + "]: expected \"a b\" or [\"a\", \"b\"]");
  }
  json* place(json&& v) {
    if (mode_ != Mode::None) {
      if (mode_ == Mode::Vocab) fail(kWhere, file_, "model.vocab[" + show_token(key_) + "]: expected an integer id");
      bad_merge();
    }
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json& top = *stack_.back();
    if (top.is_object()) {
      json& slot = top[key_];
      slot = std::move(v);
      // Only the top-level "model" object is watched for vocab and merges.
      if (stack_.size() == 1 && key_ == "model") model_ = &slot;
      return &slot;
    }
    top.push_back(std::move(v));
    return &top.back();
  }
  bool value(json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(json&& container) {
    stack_.push_back(place(std::move(container)));
    return true;
  }
};


// Everything the builders share once vocab, merges and added tokens are known.
struct Builder {
  std::shared_ptr<Tokenizer::Impl> t = std::make_shared<Tokenizer::Impl>();
  std::string file;
  bool byte_level_decoder = true;

  void set_vocab_entry(std::string&& s, int64_t id) {
    auto entry_name = [&] { return "model.vocab[" + show_token(s) + "]"; };
    if (id < 0 || id >= kMaxId) fail(kWhere, file, entry_name() + ": id " + std::to_string(id) + " is out of range");
    const auto i = static_cast<size_t>(id);
    if (i >= t->token_strings.size()) t->finish_ids(i + 1);
    if (!t->token_strings[i].empty() && t->token_strings[i] != s)
      fail(kWhere, file, entry_name() + ": id " + std::to_string(id) + " is given to both " + show_token(t->token_strings[i]) +
                             " and " + show_token(s));
    if (s.empty()) fail(kWhere, file, entry_name() + ": empty token string");
    t->token_strings[i] = std::move(s);
    t->string_ids.insert(t->token_strings, static_cast<int32_t>(id));
  }

  int32_t lookup(std::string_view s, const std::string& entry) const {
    const int32_t id = t->find_string(s);
    if (id < 0) fail(kWhere, file, entry + ": " + show_token(s) + " is not in the vocab");
    return id;
  }

  // `list` names the merges in messages ("model.merges"); the rank is the index in it.
  void add_merge(std::string_view a, std::string_view b, size_t rank, const char* list) {
    const int32_t ia = t->find_string(a), ib = t->find_string(b);
    auto entry = [&] { return std::string(list) + "[" + std::to_string(rank) + "]"; };
    if (ia < 0) lookup(a, entry());
    if (ib < 0) lookup(b, entry());
    const int32_t merged = t->string_ids.find2(t->token_strings, a, b);
    if (merged < 0)
      fail(kWhere, file, entry() + ": merging " + show_token(a) + " and " + show_token(b) + " gives " +
                             show_token(std::string(a) + std::string(b)) + ", which is not in the vocab");
    // A repeated pair keeps its last rank, as the reference's map build does.
    t->bpe.merges[tok::BpeModel::pair_key(ia, ib)] = {static_cast<int32_t>(rank), merged};
  }

  void add_added_token(AddedToken a, const std::string& entry) {
    if (a.content.empty()) fail(kWhere, file, entry + ".content: empty");
    const auto i = static_cast<size_t>(a.id);
    if (a.id < 0 || a.id >= kMaxId) fail(kWhere, file, entry + ".id: " + std::to_string(a.id) + " is out of range");
    if (i < t->token_strings.size() && !t->token_strings[i].empty() && t->token_strings[i] != a.content)
      fail(kWhere, file, entry + ": id " + std::to_string(a.id) + " is " + show_token(t->token_strings[i]) +
                             " in the vocab, not " + show_token(a.content));
    const int32_t existing = t->find_string(a.content);
    if (existing >= 0 && existing != a.id)
      fail(kWhere, file, entry + ": " + show_token(a.content) + " already has id " + std::to_string(existing));
    if (i >= t->token_strings.size()) t->finish_ids(i + 1);
    t->token_strings[i] = a.content;
    t->string_ids.assign(t->token_strings, a.id);
    t->special[i] = a.special ? 1 : 0;
    t->added.push_back(std::move(a));
    t->add_token_to_trie(static_cast<int32_t>(t->added.size() - 1));
  }

  // Raw bytes of every token, the byte tables of the BPE, the whole-token map.
  void finish() {
    Tokenizer::Impl& s = *t;
    s.finish_ids(s.token_strings.size());
    const tok::ByteLevelAlphabet& alpha = tok::byte_level_alphabet();
    std::vector<bool> is_added(s.token_strings.size(), false);
    for (const AddedToken& a : s.added) is_added[static_cast<size_t>(a.id)] = true;
    std::string bytes;
    for (size_t i = 0; i < s.token_strings.size(); ++i) {
      const std::string& str = s.token_strings[i];
      // Added tokens are written as themselves; vocab tokens in the byte alphabet when the
      // decoder is ByteLevel (a string outside the alphabet stays as its own UTF-8, as HF does).
      if (!is_added[i] && byte_level_decoder && alpha.decode(str, bytes)) {
        s.token_bytes[i] = bytes;
        if (s.bpe.byte_level && s.bpe.ignore_merges) s.bpe.bytes_to_id.emplace(bytes, static_cast<int32_t>(i));
      } else {
        s.token_bytes[i] = str;
      }
      if (!s.bpe.byte_level && !is_added[i]) s.bpe.bytes_to_id.emplace(str, static_cast<int32_t>(i));
    }
    for (int b = 0; b < 256; ++b) {
      s.bpe.byte_ids[static_cast<size_t>(b)] = s.find_string(alpha.encode(std::string(1, static_cast<char>(b))));
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      s.bpe.fallback_ids[static_cast<size_t>(b)] = s.find_string(name);
    }
  }

  int32_t resolve_token(const std::string& content, const std::string& cfg_file, const std::string& entry) const {
    const int32_t id = t->find_string(content);
    if (id < 0) fail(kWhere, cfg_file, entry + ": " + show_token(content) + " is not a token");
    return id;
  }
};

bool get_bool(const json& o, const char* key, bool dflt, const std::string& file, const std::string& entry) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) fail(kWhere, file, entry + "." + key + ": expected true or false");
  return it->get<bool>();
}

// A token in tokenizer_config.json: a string, an AddedToken object, or null.
std::optional<std::string> config_token(const json& cfg, const char* key, const std::string& file) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  fail(kWhere, file, std::string(key) + ": expected a string or an object with \"content\"");
}

void apply_chat_template_text(Tokenizer::Impl& t, const std::string& jinja) {
  if (jinja.empty()) {
    t.chat_kind = ChatTemplateKind::Plain;
    t.chat_recognized = true;
    return;
  }
  std::optional<ChatTemplateKind> k = recognize_chat_template(jinja);
  t.chat_kind = k.value_or(ChatTemplateKind::Plain);
  t.chat_recognized = k.has_value();
}

void load_config(Builder& b, const json& cfg, const std::string& file) {
  if (!cfg.is_object()) fail(kWhere, file, "expected a JSON object");
  Tokenizer::Impl& t = *b.t;
  if (auto bos = config_token(cfg, "bos_token", file)) t.bos_id = b.resolve_token(*bos, file, "bos_token");
  if (auto eos = config_token(cfg, "eos_token", file)) t.eos_id = b.resolve_token(*eos, file, "eos_token");
  // LlamaTokenizer(Fast) adds BOS unless told otherwise; other classes only when asked.
  const bool llama = cfg.contains("tokenizer_class") && cfg["tokenizer_class"].is_string() &&
                     cfg["tokenizer_class"].get<std::string>().rfind("LlamaTokenizer", 0) == 0;
  t.add_bos = get_bool(cfg, "add_bos_token", llama, file, "tokenizer_config") && t.bos_id >= 0;
  auto it = cfg.find("chat_template");
  if (it == cfg.end() || it->is_null()) return;
  if (it->is_string()) {
    apply_chat_template_text(t, it->get<std::string>());
  } else if (it->is_array()) {  // [{name, template}, ...]: the "default" one is the chat template
    std::string chosen;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      const std::string entry = "chat_template[" + std::to_string(i) + "]";
      if (!e.is_object()) fail(kWhere, file, entry + ": expected an object {name, template}");
      const auto name = e.find("name");
      if (name != e.end() && !name->is_string()) fail(kWhere, file, entry + ".name: expected a string");
      if (name != e.end() && name->get<std::string>() == "default" && e.contains("template") && e["template"].is_string())
        chosen = e["template"].get<std::string>();
    }
    apply_chat_template_text(t, chosen);
    if (chosen.empty()) t.chat_recognized = false;
  } else {
    fail(kWhere, file, "chat_template: expected a string or a list of {name, template}");
  }
}

}  // namespace

Tokenizer Tokenizer::from_json_text(std::string_view tokenizer_json, std::string_view config_json,
                                    const std::string& tokenizer_name, const std::string& config_name) try {
  const std::string& file = tokenizer_name;
  TokenizerJsonReader reader(file);
  reader.read(tokenizer_json);
  json& root = reader.root;
  if (!root.is_object()) fail(kWhere, file, "expected a JSON object");
  Builder b;
  b.file = file;
  b.t->source_name = file;

  b.t->normalizer = tok::Normalizer::from_json(root.value("normalizer", json()), file);
  b.t->pre = tok::PreTokenizer::from_json(root.value("pre_tokenizer", json()), file);
  b.t->bpe.byte_level = b.t->pre.byte_level;

  const json dec = root.value("decoder", json());
  if (!dec.is_null()) {
    const std::string type = dec.is_object() && dec.contains("type") && dec["type"].is_string()
                                 ? dec["type"].get<std::string>()
                                 : std::string("?");
    if (type != "ByteLevel") fail(kWhere, file, "decoder '" + type + "' is not supported");
  }
  b.byte_level_decoder = !dec.is_null();
  if (b.byte_level_decoder != b.t->pre.byte_level)
    fail(kWhere, file, b.byte_level_decoder ? "decoder is ByteLevel but the pre_tokenizer has no ByteLevel step"
                                            : "pre_tokenizer has a ByteLevel step but the decoder is not ByteLevel");
  const json post = root.value("post_processor", json());
  if (!post.is_null()) {
    // Post-processors only add special tokens (encode never does: callers prepend BOS) and fix offsets.
    const std::string type = post.is_object() ? post.value("type", std::string("?")) : std::string("?");
    if (type != "ByteLevel" && type != "TemplateProcessing" && type != "RobertaProcessing" &&
        type != "BertProcessing" && type != "Sequence")
      fail(kWhere, file, "post_processor '" + type + "' is not supported");
  }

  if (!root.contains("model") || !root["model"].is_object()) fail(kWhere, file, "model: missing");
  const json& model = root["model"];
  const std::string mtype = model.value("type", std::string("BPE"));
  if (mtype != "BPE") fail(kWhere, file, "model type '" + mtype + "' is not supported (only BPE)");
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0))
    fail(kWhere, file, "model.dropout is not supported");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(k) && !model[k].is_null() && !(model[k].is_string() && model[k].get<std::string>().empty()))
      fail(kWhere, file, std::string("model.") + k + " is not supported");
  b.t->bpe.byte_fallback = get_bool(model, "byte_fallback", false, file, "model");
  b.t->bpe.fuse_unk = get_bool(model, "fuse_unk", false, file, "model");
  b.t->bpe.ignore_merges = get_bool(model, "ignore_merges", false, file, "model");

  if (!reader.saw_vocab) fail(kWhere, file, "model.vocab: expected an object");
  int64_t max_id = -1;
  for (const auto& [str, id] : reader.vocab) max_id = std::max(max_id, id);
  if (root.contains("added_tokens") && root["added_tokens"].is_array())
    for (const json& a : root["added_tokens"])
      if (a.is_object() && a.contains("id") && a["id"].is_number_integer()) max_id = std::max(max_id, a["id"].get<int64_t>());
  if (max_id >= 0 && max_id < kMaxId) b.t->finish_ids(static_cast<size_t>(max_id) + 1);
  b.t->string_ids.reserve(reader.vocab.size() + 1024);
  for (auto& [str, id] : reader.vocab) b.set_vocab_entry(std::move(str), id);

  if (!reader.saw_merges) fail(kWhere, file, "model.merges: expected an array");
  b.t->bpe.merges.reserve(reader.merges.size());
  for (size_t i = 0; i < reader.merges.size(); ++i) {
    const TokenizerJsonReader::MergeEntry& m = reader.merges[i];
    if (m.is_pair) {
      b.add_merge(m.a, m.b, i, "model.merges");
      continue;
    }
    const size_t sp = m.a.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 >= m.a.size() || m.a.find(' ', sp + 1) != std::string::npos)
      fail(kWhere, file, "model.merges[" + std::to_string(i) + "]: " + show_token(m.a) +
                             " is not two tokens separated by one space");
    const std::string_view whole = m.a;
    b.add_merge(whole.substr(0, sp), whole.substr(sp + 1), i, "model.merges");
  }

  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    const json& list = root["added_tokens"];
    if (!list.is_array()) fail(kWhere, file, "added_tokens: expected an array");
    for (size_t i = 0; i < list.size(); ++i) {
      const json& a = list[i];
      const std::string entry = "added_tokens[" + std::to_string(i) + "]";
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string())
        fail(kWhere, file, entry + ": expected an object with an integer \"id\" and a string \"content\"");
      if (get_bool(a, "single_word", false, file, entry))
        fail(kWhere, file, entry + ".single_word: true is not supported");
      AddedToken t;
      const int64_t id = a["id"].get<int64_t>();
      t.id = static_cast<int32_t>(std::clamp<int64_t>(id, -1, kMaxId));
      t.content = a["content"].get<std::string>();
      t.special = get_bool(a, "special", false, file, entry);
      t.lstrip = get_bool(a, "lstrip", false, file, entry);
      t.rstrip = get_bool(a, "rstrip", false, file, entry);
      b.add_added_token(std::move(t), entry);
    }
  }

  if (!model.contains("unk_token") || model["unk_token"].is_null()) {
    b.t->bpe.unk_id = -1;
  } else if (model["unk_token"].is_string()) {
    b.t->bpe.unk_id = b.lookup(model["unk_token"].get<std::string>(), "model.unk_token");
  } else {
    fail(kWhere, file, "model.unk_token: expected a string or null");
  }
  b.finish();
  if (!config_json.empty())
    with_json_errors(kWhere, config_name, [&] { load_config(b, parse_json(config_json, config_name), config_name); });
  return Tokenizer(b.t);
} catch (const json::exception& e) {
  // Types are checked field by field above; a nlohmann exception is a check they missed.
  fail(kWhere, tokenizer_name, std::string("unexpected JSON: ") + e.what());
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& tokenizer_json, const std::filesystem::path& config_json) {
  const std::string text = read_file(tokenizer_json);
  const std::string cfg = config_json.empty() ? std::string() : read_file(config_json);
  return from_json_text(text, cfg, tokenizer_json.string(), config_json.string());
}

Tokenizer Tokenizer::from_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto tj = dir / "tokenizer.json";
  if (!std::filesystem::is_regular_file(tj, ec)) fail(kWhere, dir.string(), "no tokenizer.json in this folder");
  const auto cj = dir / "tokenizer_config.json";
  return from_file(tj, std::filesystem::is_regular_file(cj, ec) ? cj : std::filesystem::path());
}

Tokenizer Tokenizer::from_parts(const TokenizerParts& parts, const std::string& source_name) {
  Builder b;
  b.file = source_name;
  b.t->source_name = source_name;
  b.t->pre = tok::PreTokenizer::from_gguf_name(parts.pre, source_name);
  b.t->bpe.byte_level = true;
  if (parts.tokens.empty()) fail(kWhere, source_name, "tokenizer.ggml.tokens: empty");
  if (!parts.token_types.empty() && parts.token_types.size() != parts.tokens.size())
    fail(kWhere, source_name,
         "tokenizer.ggml.token_type: " + std::to_string(parts.token_types.size()) + " entries for " +
             std::to_string(parts.tokens.size()) + " tokens");
  b.t->finish_ids(parts.tokens.size());
  std::vector<AddedToken> added;
  for (size_t i = 0; i < parts.tokens.size(); ++i) {
    const int32_t type = parts.token_types.empty() ? 1 : parts.token_types[i];
    const std::string& s = parts.tokens[i];
    const auto id = static_cast<int32_t>(i);
    if (type == 5) continue;        // unused (vocab padding up to the model's vocab_size): decodes to nothing
    if (type == 3 || type == 4) {  // control, user-defined: matched in text before BPE
      added.push_back({id, s, type == 3, false, false});
      continue;
    }
    if (s.empty()) continue;
    // GGUF vocabularies may repeat a string (padding entries); the first id keeps it.
    b.t->token_strings[i] = s;
    b.t->string_ids.insert(b.t->token_strings, id);  // a repeated string keeps its first id
  }
  for (AddedToken& a : added) {
    const std::string entry = "tokenizer.ggml.tokens[" + std::to_string(a.id) + "]";
    b.add_added_token(std::move(a), entry);
  }
  for (size_t i = 0; i < parts.merges.size(); ++i)
    b.add_merge(parts.merges[i].first, parts.merges[i].second, i, "tokenizer.ggml.merges");
  b.finish();
  const auto n = static_cast<int32_t>(parts.tokens.size());
  auto check_id = [&](int32_t id, const char* key) {
    if (id < -1 || id >= n) fail(kWhere, source_name, std::string(key) + ": " + std::to_string(id) + " is not a token id");
    return id;
  };
  b.t->bos_id = check_id(parts.bos_id, "tokenizer.ggml.bos_token_id");
  b.t->eos_id = check_id(parts.eos_id, "tokenizer.ggml.eos_token_id");
  b.t->add_bos = parts.add_bos && b.t->bos_id >= 0;
  apply_chat_template_text(*b.t, parts.chat_template);
  return Tokenizer(b.t);
}

}  // namespace mlascope
