// tests/sessions/test_blob_codec.cpp — the BLOB layouts byte for byte as SCHEMA.md documents them.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/error.h"
#include "sessions/blob_codec.h"

using namespace mlascope;
using namespace mlascope::sessions;

namespace {
void put_f32(std::vector<uint8_t>& b, float f) {
  uint8_t x[4];
  std::memcpy(x, &f, 4);
  b.insert(b.end(), x, x + 4);
}
}  // namespace

TEST(BlobCodec, RoutesLayoutIsTheDocumentedOne) {
  RouteRow r;
  r.k = 2;
  r.expert[0] = 5;
  r.expert[1] = 300;
  r.weight[0] = 1.5f;
  r.weight[1] = -0.25f;
  r.kept_groups = 0x0102030405060708ull;
  r.margin = 0.5f;
  // format 1, one layer; k=2, margin, kept_groups (LE), experts u16 (LE), weights f32
  std::vector<uint8_t> want = {1, 1, 2};
  put_f32(want, 0.5f);
  for (uint8_t b : {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}) want.push_back(b);
  for (uint8_t b : {0x05, 0x00, 0x2c, 0x01}) want.push_back(b);
  put_f32(want, 1.5f);
  put_f32(want, -0.25f);
  const std::vector<RouteRow> rows{r};
  EXPECT_EQ(encode_routes(rows), want);

  const auto back = decode_routes(want);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].k, 2);
  EXPECT_EQ(back[0].expert[1], 300);
  EXPECT_EQ(back[0].weight[1], -0.25f);
  EXPECT_EQ(back[0].kept_groups, 0x0102030405060708ull);

  want.pop_back();
  EXPECT_THROW(decode_routes(want), Error);  // truncated: error, not a read past the end
}

TEST(BlobCodec, TopKUsesF16Probabilities) {
  const std::vector<TopEntry> top = {{7, 0.5f}, {-1, 1.0f}};
  // i32 id + f16 prob: 0.5 = 0x3800, 1.0 = 0x3c00
  const std::vector<uint8_t> want = {7, 0, 0, 0, 0x00, 0x38, 0xff, 0xff, 0xff, 0xff, 0x00, 0x3c};
  EXPECT_EQ(encode_top(top), want);
  const auto back = decode_top(want);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].id, -1);
  EXPECT_EQ(back[1].prob, 1.0f);
  EXPECT_THROW(decode_top(std::vector<uint8_t>(5)), Error);
}

TEST(BlobCodec, ScoresKeepTheirFormat) {
  const std::vector<float> v = {0.1f, 0.25f, 3.0f};
  const auto f32 = encode_scores(v, ScoreFormat::F32);
  EXPECT_EQ(f32.size(), 5u + 12u);
  EXPECT_EQ(decode_scores(f32), v);  // f32 is exact
  const auto f16 = encode_scores(v, ScoreFormat::F16);
  EXPECT_EQ(f16.size(), 5u + 6u);
  const auto back = decode_scores(f16);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_NEAR(back[0], 0.1f, 1e-4f);  // half precision: 11 significant bits
  EXPECT_EQ(back[1], 0.25f);
  EXPECT_EQ(back[2], 3.0f);
}

TEST(BlobCodec, AttentionTopKKeepsTheLargestPerHead) {
  // 2 heads x 4 keys
  const std::vector<float> probs = {0.1f, 0.4f, 0.2f, 0.3f,   // head 0: top-2 keys 1 and 3
                                    0.7f, 0.1f, 0.1f, 0.1f};  // head 1: key 0, then the tie goes to key 1
  const auto b = encode_attention_topk(probs, 2, 4, 2);
  EXPECT_EQ(b.size(), 2u * 2u * 6u);
  const auto back = decode_attention_topk(b, 2, 4, 2);
  const std::vector<float> want = {0.0f, 0.4f, 0.0f, 0.3f, 0.7f, 0.1f, 0.0f, 0.0f};
  ASSERT_EQ(back.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(back[i], want[i], 1e-3f) << i;
  EXPECT_THROW(decode_attention_topk(b, 2, 4, 3), Error);
}

TEST(BlobCodec, GateBiasMatrix) {
  const std::vector<std::vector<float>> m = {{1.0f, 2.0f}, {3.0f, 4.0f}, {5.0f, 6.0f}};
  const auto b = encode_matrix(m);
  EXPECT_EQ(b.size(), 8u + 24u);
  EXPECT_EQ(decode_matrix(b), m);
  EXPECT_TRUE(decode_matrix({}).empty());
}
