// engine/tokenizer/tokenizer.cpp — encode (added tokens, then pre-tokenizer, then BPE with a piece
// cache), decode, display strings and streaming decode.
#include "tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "tokenizer_impl.h"
#include "unicode_util.h"

namespace mlascope {

using tok::Utf8Step;
using tok::utf8_step;

void Tokenizer::Impl::add_token_to_trie(int32_t added_index) {
  const std::string& s = added[static_cast<size_t>(added_index)].content;
  if (s.empty()) return;
  int32_t node = 0;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    int32_t next = -1;
    for (const auto& [b, child] : trie[static_cast<size_t>(node)].children)
      if (b == c) next = child;
    if (next < 0) {
      next = static_cast<int32_t>(trie.size());
      trie[static_cast<size_t>(node)].children.emplace_back(c, next);
      trie.emplace_back();
    }
    node = next;
  }
  trie[static_cast<size_t>(node)].added = added_index;
  first_byte[static_cast<unsigned char>(s[0])] = true;
}

void Tokenizer::Impl::finish_ids(size_t n_ids) {
  token_strings.resize(n_ids);
  token_bytes.resize(n_ids);
  special.resize(n_ids, 0);
}

namespace {

struct AddedMatch {
  size_t begin, end;  // what the token consumes, stripped whitespace included
  int32_t id;
};

// Leftmost, then longest, added token at or after `from` that the caller allows.
bool find_added(const Tokenizer::Impl& t, std::string_view text, size_t from, bool parse_special, AddedMatch& m) {
  if (t.added.empty()) return false;
  for (size_t i = from; i < text.size(); ++i) {
    if (!t.first_byte[static_cast<unsigned char>(text[i])]) continue;
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < text.size(); ++j) {
      const auto c = static_cast<unsigned char>(text[j]);
      int32_t next = -1;
      for (const auto& [b, child] : t.trie[static_cast<size_t>(node)].children)
        if (b == c) next = child;
      if (next < 0) break;
      node = next;
      const int32_t a = t.trie[static_cast<size_t>(node)].added;
      if (a >= 0 && (parse_special || !t.added[static_cast<size_t>(a)].special)) {
        best = a;
        best_end = j + 1;
      }
    }
    if (best < 0) continue;
    const AddedToken& tok = t.added[static_cast<size_t>(best)];
    m = {i, best_end, tok.id};
    if (tok.lstrip) {
      while (m.begin > from) {
        size_t k = m.begin - 1;
        while (k > from && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) --k;
        Utf8Step st = utf8_step(text.substr(k, m.begin - k));
        if (st.kind != Utf8Step::Valid || st.len != m.begin - k || !tok::is_unicode_whitespace(st.cp)) break;
        m.begin = k;
      }
    }
    if (tok.rstrip) {
      while (m.end < text.size()) {
        Utf8Step st = utf8_step(text.substr(m.end));
        if (st.kind != Utf8Step::Valid || !tok::is_unicode_whitespace(st.cp)) break;
        m.end += st.len;
      }
    }
    return true;
  }
  return false;
}

// Splits `text` into added tokens and runs of ordinary text; in each run, valid UTF-8 stretches go
// through `on_text` and every byte that is not part of a valid character through `on_byte`.
template <class OnText, class OnByte, class OnAdded>
void walk(const Tokenizer::Impl& t, std::string_view text, bool parse_special, OnText&& on_text, OnByte&& on_byte,
          OnAdded&& on_added) {
  auto plain = [&](std::string_view run) {
    size_t start = 0, i = 0;
    while (i < run.size()) {
      if (static_cast<unsigned char>(run[i]) < 0x80) {
        ++i;
        continue;
      }
      Utf8Step st = utf8_step(run.substr(i));
      if (st.kind == Utf8Step::Valid) {
        i += st.len;
        continue;
      }
      if (i > start) on_text(run.substr(start, i - start));
      const size_t bad = std::max<size_t>(1, st.len);
      for (size_t k = 0; k < bad; ++k) on_byte(run.substr(i + k, 1));
      i += bad;
      start = i;
    }
    if (i > start) on_text(run.substr(start, i - start));
  };
  size_t pos = 0;
  AddedMatch m{};
  while (pos < text.size() && find_added(t, text, pos, parse_special, m)) {
    if (m.begin > pos) plain(text.substr(pos, m.begin - pos));
    on_added(m.id, text.substr(m.begin, m.end - m.begin));
    pos = m.end;
  }
  if (pos < text.size()) plain(text.substr(pos));
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
  const Impl& t = *impl_;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  tok::PreTokenizer::Scratch scratch;
  // One lock per call: concurrent callers take turns, which costs less than locking every piece.
  std::lock_guard<std::mutex> lock(t.cache_mutex);
  auto bpe_cached = [&](std::string_view piece) {
    if (piece.size() > Impl::kCacheMaxPieceBytes) {
      t.bpe.encode_piece(piece, ids);
      return;
    }
    thread_local std::string key;
    key.assign(piece);
    auto it = t.cache.find(key);
    if (it != t.cache.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
    const size_t first = ids.size();
    t.bpe.encode_piece(piece, ids);
    if (t.cache.size() >= Impl::kCacheMaxEntries) t.cache.clear();
    t.cache.emplace(key, std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end()));
  };
  std::string normalized;
  walk(
      t, text, parse_special,
      [&](std::string_view run) {
        scratch.arena.clear();
        t.pre.run(t.normalizer.apply(run, normalized), scratch, bpe_cached);
      },
      [&](std::string_view byte) { t.bpe.encode_piece(byte, ids); },
      [&](int32_t id, std::string_view) { ids.push_back(id); });
  return ids;
}

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view text, bool parse_special) const {
  const Impl& t = *impl_;
  std::vector<std::string> pieces;
  tok::PreTokenizer::Scratch scratch;
  auto add = [&](std::string_view p) { pieces.emplace_back(p); };
  std::string normalized;
  walk(
      t, text, parse_special,
      [&](std::string_view run) {
        scratch.arena.clear();
        t.pre.run(t.normalizer.apply(run, normalized), scratch, add);
      },
      add, [&](int32_t, std::string_view matched) { pieces.emplace_back(matched); });
  return pieces;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids)
    if (id >= 0 && id < vocab_size()) out += impl_->token_bytes[static_cast<size_t>(id)];
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return impl_->token_bytes[static_cast<size_t>(id)];
}

const std::string& Tokenizer::token_string(int32_t id) const {
  static const std::string empty;
  if (id < 0 || id >= vocab_size()) return empty;
  return impl_->token_strings[static_cast<size_t>(id)];
}

std::optional<int32_t> Tokenizer::token_id(std::string_view s) const {
  const int32_t id = impl_->find_string(s);
  if (id < 0) return std::nullopt;
  return id;
}

std::string Tokenizer::token_display(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "<id " + std::to_string(id) + "?>";
  std::string_view b = impl_->token_bytes[static_cast<size_t>(id)];
  std::string out;
  char buf[8];
  auto hex = [&](unsigned char c) {
    std::snprintf(buf, sizeof buf, "\\x%02X", c);
    out += buf;
  };
  while (!b.empty()) {
    Utf8Step st = utf8_step(b);
    if (st.kind == Utf8Step::Valid) {
      if (st.cp == '\n') out += "\\n";
      else if (st.cp == '\t') out += "\\t";
      else if (st.cp == '\r') out += "\\r";
      else if (st.cp < 0x20 || st.cp == 0x7F) hex(static_cast<unsigned char>(st.cp));
      else out.append(b.substr(0, st.len));
      b.remove_prefix(st.len);
    } else {
      const size_t n = std::max<size_t>(1, st.len);
      for (size_t k = 0; k < n && k < b.size(); ++k) hex(static_cast<unsigned char>(b[k]));
      b.remove_prefix(std::min(n, b.size()));
    }
  }
  return out;
}

int32_t Tokenizer::bos_id() const { return impl_->bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->eos_id; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->token_bytes.size()); }
bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && impl_->special[static_cast<size_t>(id)] != 0;
}
const std::string& Tokenizer::source_name() const { return impl_->source_name; }
ChatTemplateKind Tokenizer::chat_template() const { return impl_->chat_kind; }
bool Tokenizer::chat_template_recognized() const { return impl_->chat_recognized; }

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_->token_bytes(id);
  std::string out;
  std::string_view p = pending_;
  while (!p.empty()) {
    Utf8Step st = utf8_step(p);
    if (st.kind == Utf8Step::Incomplete) break;  // the rest of the character comes with a later token
    if (st.kind == Utf8Step::Valid) out.append(p.substr(0, st.len));
    else out += "\xEF\xBF\xBD";  // U+FFFD: these bytes can never become a character
    p.remove_prefix(std::max<size_t>(1, st.len));
  }
  pending_.erase(0, pending_.size() - p.size());
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = pending_.empty() ? std::string() : std::string("\xEF\xBF\xBD");
  pending_.clear();
  return out;
}

}  // namespace mlascope
