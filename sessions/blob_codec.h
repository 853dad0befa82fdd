// sessions/blob_codec.h — the compact BLOB layouts of the session database (see SCHEMA.md).
// Little-endian, no padding, a leading format byte so a later version can change a layout
// without a table migration. Decoders validate lengths and throw Error (never read past the end),
// and check every count stored in a blob against the blob's size before allocating from it. Sizes
// stored outside the blob (attention n_heads/n_keys) are the caller's to check against the session
// (sessions/reader.cpp: n_keys <= position + 1, n_heads = the config's heads).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/trace/step_record.h"

namespace mlascope::sessions {

enum class ScoreFormat : uint8_t { F16 = 1, F32 = 2 };
enum class AttentionFormat : uint8_t { DenseF16 = 0, TopK = 1 };

using Bytes = std::vector<uint8_t>;

// Top-k alternatives: n x (i32 id, f16 prob).
Bytes encode_top(std::span<const TopEntry> top);
std::vector<TopEntry> decode_top(std::span<const uint8_t> b);

// Routing of every MoE layer of one token:
//   u8 format(=1), u8 n_layers, then per layer: u8 k, f32 margin, u64 kept_groups,
//   u16 expert[k], f32 weight[k].
Bytes encode_routes(std::span<const RouteRow> routes);
std::vector<RouteRow> decode_routes(std::span<const uint8_t> b);

// Router scores [n_moe_layers, n_routed_experts]: u8 format (ScoreFormat), u32 count, values.
Bytes encode_scores(std::span<const float> v, ScoreFormat f);
std::vector<float> decode_scores(std::span<const uint8_t> b);

// Dense [n_heads, n_keys] f16 (probabilities or score parts): raw f16 values, no header.
Bytes encode_f16(std::span<const float> v);
std::vector<float> decode_f16(std::span<const uint8_t> b, size_t expected);

// The k largest probabilities of each head row: per head k x (u32 key, f16 prob), ascending key.
// Keys outside the top-k decode as 0 (the row no longer sums to exactly 1).
Bytes encode_attention_topk(std::span<const float> probs, int n_heads, int n_keys, int k);
std::vector<float> decode_attention_topk(std::span<const uint8_t> b, int n_heads, int n_keys, int k);

// Gate bias [n_moe_layers][n_routed_experts]: u32 rows, u32 cols, f32 values.
Bytes encode_matrix(const std::vector<std::vector<float>>& m);
std::vector<std::vector<float>> decode_matrix(std::span<const uint8_t> b);

}  // namespace mlascope::sessions
