// engine/remote/base64.h — RFC 4648 base64 (standard alphabet, '=' padding): SGLang sends
// meta_info.routed_experts as base64 of the raw little-endian array (Python's base64.b64encode).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mlascope::remote {

std::string base64_encode(std::span<const uint8_t> bytes);
// Strict decode: length a multiple of 4, padding only at the end, no whitespace, no URL-safe
// characters. nullopt on anything else (the caller names the field in its error).
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace mlascope::remote
