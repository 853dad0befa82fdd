// engine/tokenizer/normalizer.cpp — NFC / NFKC through ICU's Normalizer2 on UTF-8 directly (no
// UTF-16 round trip); ASCII and already-normalized text are recognized first and left untouched.
#include "normalizer.h"

#include <nlohmann/json.hpp>
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>

#include "engine/error.h"

namespace mlascope::tok {

using nlohmann::json;

namespace {

constexpr const char* kWhere = "tokenizer";

// ICU's instances are process-wide singletons, immutable and thread-safe once obtained.
const icu::Normalizer2& instance(NormalForm f) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n =
      f == NormalForm::NFC ? icu::Normalizer2::getNFCInstance(status) : icu::Normalizer2::getNFKCInstance(status);
  if (U_FAILURE(status) || n == nullptr)
    fail(kWhere, normal_form_name(f), std::string("ICU normalizer unavailable: ") + u_errorName(status));
  return *n;
}

bool all_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

void parse_into(const json& j, const std::string& file, const std::string& entry, Normalizer& out) {
  if (j.is_null()) return;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    fail(kWhere, file, entry + ": expected an object with a \"type\"");
  const std::string type = j["type"].get<std::string>();
  if (type == "NFC") {
    out.steps.push_back(NormalForm::NFC);
  } else if (type == "NFKC") {
    out.steps.push_back(NormalForm::NFKC);
  } else if (type == "Sequence") {
    if (!j.contains("normalizers") || !j["normalizers"].is_array())
      fail(kWhere, file, entry + ".normalizers: expected an array");
    const json& list = j["normalizers"];
    for (size_t i = 0; i < list.size(); ++i)
      parse_into(list[i], file, entry + ".normalizers[" + std::to_string(i) + "]", out);
  } else {
    fail(kWhere, file, entry + ": normalizer '" + type + "' is not supported");
  }
}

}  // namespace

const char* normal_form_name(NormalForm f) { return f == NormalForm::NFC ? "NFC" : "NFKC"; }

Normalizer Normalizer::from_json(const json& j, const std::string& file) {
  Normalizer n;
  parse_into(j, file, "normalizer", n);
  for (NormalForm f : n.steps) (void)instance(f);  // a broken ICU data install fails at load, not mid-encode
  return n;
}

std::string_view Normalizer::apply(std::string_view text, std::string& buf) const {
  // ASCII has no decompositions and no compositions among itself: invariant under every form.
  if (steps.empty() || all_ascii(text)) return text;
  std::string_view cur = text;
  std::string next;
  for (NormalForm f : steps) {
    const icu::Normalizer2& n = instance(f);
    UErrorCode status = U_ZERO_ERROR;
    const icu::StringPiece piece(cur.data(), static_cast<int32_t>(cur.size()));
    if (n.isNormalizedUTF8(piece, status) && U_SUCCESS(status)) continue;
    status = U_ZERO_ERROR;
    next.clear();
    icu::StringByteSink<std::string> sink(&next, static_cast<int32_t>(cur.size()));
    n.normalizeUTF8(0, piece, sink, nullptr, status);
    // Only valid UTF-8 reaches here, so ICU cannot fail short of running out of memory; keep the
    // text as it was rather than lose it.
    if (U_FAILURE(status)) continue;
    buf.swap(next);
    cur = buf;
  }
  return cur;
}

}  // namespace mlascope::tok
