// engine/tokenizer/normalizer.h — tokenizer.json "normalizer": Unicode NFC / NFKC (alone or in a
// Sequence), done by ICU. Applied to each run of valid UTF-8 between added tokens and invalid
// bytes, before the pre-tokenizer, so invalid bytes still pass through as their own byte tokens.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mlascope::tok {

enum class NormalForm { NFC, NFKC };

struct Normalizer {
  std::vector<NormalForm> steps;  // applied in order; empty: the identity

  // Parses tokenizer.json's "normalizer" (null, NFC, NFKC, Sequence of those); throws Error
  // naming `file` and the entry ("normalizer.normalizers[1]") for anything else.
  static Normalizer from_json(const nlohmann::json& j, const std::string& file);

  bool identity() const { return steps.empty(); }
  // `text` must be valid UTF-8. Returns a view of `text` itself when nothing changes, otherwise
  // of `buf`, which the caller keeps alive while the view is used.
  std::string_view apply(std::string_view text, std::string& buf) const;
};

const char* normal_form_name(NormalForm f);  // "NFC", "NFKC"

}  // namespace mlascope::tok
