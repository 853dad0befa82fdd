// tests/remote/test_remote_wire.cpp — engine/remote/{base64,sse,wire}: published vectors (RFC 4648,
// the WHATWG event-stream examples) and byte strings written by hand from SGLang's documented
// format (python/sglang/srt/state_capturer/routed_experts_wire.py: base64 of a flat row-major
// [positions, num_hidden_layers, top_k] array, int32 LE unless routed_experts_dtype says otherwise;
// the expected values below were encoded independently with Python's base64 + struct).
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/remote/base64.h"
#include "engine/remote/sse.h"
#include "engine/remote/wire.h"

namespace mlascope::remote {
namespace {

using nlohmann::json;

std::string b64(const std::string& s) { return base64_encode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size())); }
std::string unb64(const std::string& s) {
  auto v = base64_decode(s);
  EXPECT_TRUE(v.has_value()) << s;
  return v ? std::string(v->begin(), v->end()) : std::string();
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> v[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},     {"foo", "Zm9v"},
                                                   {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : v) {
    EXPECT_EQ(b64(plain), enc);
    EXPECT_EQ(unb64(enc), plain);
  }
  // Every byte value survives (the alphabet's '+' and '/' included).
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(unb64(b64(all)), all);
  EXPECT_EQ(b64("\xfb\xff"), "+/8=");
}

TEST(Base64, RejectsMalformedText) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v\n", "Zm-v", "Zm_v", "Zg==Zg==", "=Zg=", "Zh==", "Zm9=Yg=="})
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

std::vector<SseEvent> parse_all(const std::string& stream, size_t chunk) {
  std::vector<SseEvent> out;
  SseParser p([&](const SseEvent& e) { out.push_back(e); });
  for (size_t i = 0; i < stream.size(); i += chunk) p.feed(std::string_view(stream).substr(i, chunk));
  return out;
}

TEST(Sse, WhatwgExamples) {
  // The first three examples of the HTML standard's "Server-sent events" section.
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{1000}}) {
    auto e1 = parse_all("data: YHOO\ndata: +2\ndata: 10\n\n", chunk);
    ASSERT_EQ(e1.size(), 1u);
    EXPECT_EQ(e1[0].data, "YHOO\n+2\n10");
    EXPECT_EQ(e1[0].event, "message");

    auto e2 = parse_all(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n", chunk);
    ASSERT_EQ(e2.size(), 2u);  // the third has no blank line after it: not dispatched
    EXPECT_EQ(e2[0].data, "first event");
    EXPECT_EQ(e2[0].id, "1");
    EXPECT_EQ(e2[1].data, "second event");
    EXPECT_EQ(e2[1].id, "");

    auto e3 = parse_all("data\n\ndata\ndata\n\ndata:\n", chunk);
    ASSERT_EQ(e3.size(), 2u);
    EXPECT_EQ(e3[0].data, "");
    EXPECT_EQ(e3[1].data, "\n");
  }
}

TEST(Sse, LineEndingsSplitAcrossChunksBomAndFinish) {
  const std::string s = "\xEF\xBB\xBF" "event: x\r\ndata: a\r\rdata: b\r\n\r\ndata: [DONE]";
  for (size_t chunk = 1; chunk <= s.size(); ++chunk) {
    std::vector<SseEvent> out;
    SseParser p([&](const SseEvent& e) { out.push_back(e); });
    for (size_t i = 0; i < s.size(); i += chunk) p.feed(std::string_view(s).substr(i, chunk));
    p.finish();  // a last event without its blank line still counts at end of stream
    ASSERT_EQ(out.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(out[0].event, "x");
    EXPECT_EQ(out[0].data, "a");
    EXPECT_EQ(out[1].data, "b");
    EXPECT_EQ(out[1].event, "message");
    EXPECT_EQ(out[2].data, "[DONE]");
  }
}

TEST(Sse, OversizedEventIsAnError) {
  SseParser p([](const SseEvent&) {}, 1024);
  EXPECT_THROW(p.feed("data: " + std::string(2000, 'x')), Error);
}

// ---- routed_experts ---------------------------------------------------------------------------------

// A 4-layer model whose layer 0 is dense, 8 routed experts, top-2 (the shape of the vectors).
ModelConfig small_config(int layers = 4, int first_dense = 1, int experts = 8, int top_k = 2, int groups = 1, int topk_group = 1) {
  json c = {{"architectures", {"DeepseekV3ForCausalLM"}},
            {"model_type", "deepseek_v3"},
            {"vocab_size", 4096},
            {"hidden_size", 64},
            {"intermediate_size", 128},
            {"moe_intermediate_size", 32},
            {"num_hidden_layers", layers},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 4},
            {"q_lora_rank", 32},
            {"kv_lora_rank", 32},
            {"qk_nope_head_dim", 16},
            {"qk_rope_head_dim", 8},
            {"v_head_dim", 16},
            {"n_routed_experts", experts},
            {"n_shared_experts", 1},
            {"num_experts_per_tok", top_k},
            {"topk_method", "noaux_tc"},
            {"n_group", groups},
            {"topk_group", topk_group},
            {"scoring_func", "sigmoid"},
            {"norm_topk_prob", true},
            {"routed_scaling_factor", 2.5},
            {"first_k_dense_replace", first_dense},
            {"moe_layer_freq", 1},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", 10000.0},
            {"max_position_embeddings", 1024},
            {"bos_token_id", 0},
            {"eos_token_id", 1}};
  return ModelConfig::from_json_text(c.dump(), "test config.json");
}

// [[[0,0],[3,1],[7,2],[5,4]], [[0,0],[6,0],[1,2],[3,7]], [[0,0],[2,5],[4,4],[0,6]]]
const char* kInt32 =
    "AAAAAAAAAAADAAAAAQAAAAcAAAACAAAABQAAAAQAAAAAAAAAAAAAAAYAAAAAAAAAAQAAAAIAAAADAAAABwAAAAAAAAAAAAAAAgAAAAUAAAAEAAAABAAAAAAAAAAGAAAA";
const char* kUint16 = "AAAAAAMAAQAHAAIABQAEAAAAAAAGAAAAAQACAAMABwAAAAAAAgAFAAQABAAAAAYA";
const char* kUint8 = "AAADAQcCBQQAAAYAAQIDBwAAAgUEBAAG";
const std::vector<int32_t> kFlat = {0, 0, 3, 1, 7, 2, 5, 4, 0, 0, 6, 0, 1, 2, 3, 7, 0, 0, 2, 5, 4, 4, 0, 6};

TEST(RoutedExperts, DecodesEveryWireDtype) {
  EXPECT_EQ(decode_routed_experts(kInt32, "", "t"), kFlat);  // legacy: no routed_experts_dtype = int32
  EXPECT_EQ(decode_routed_experts(kInt32, "int32", "t"), kFlat);
  EXPECT_EQ(decode_routed_experts(kUint16, "uint16", "t"), kFlat);
  EXPECT_EQ(decode_routed_experts(kUint8, "uint8", "t"), kFlat);
  // Negative sentinels stay negative in int32 (300, -1, 2).
  EXPECT_EQ(decode_routed_experts("LAEAAP////8CAAAA", "int32", "t"), (std::vector<int32_t>{300, -1, 2}));
  // mlascope serve's encoder writes exactly SGLang's bytes.
  EXPECT_EQ(encode_routed_experts(kFlat), kInt32);
}

TEST(RoutedExperts, MalformedPayloadsNameTheField) {
  auto msg = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg([] { decode_routed_experts("AAAA", "float16", "http://h/generate"); }).find("routed_experts_dtype 'float16'"), std::string::npos);
  EXPECT_NE(msg([] { decode_routed_experts("AAA!", "", "http://h/generate"); }).find("not valid base64"), std::string::npos);
  // 6 bytes: not a whole number of int32 values.
  EXPECT_NE(msg([] { decode_routed_experts("AAAAAAAA", "int32", "http://h/generate"); }).find("not a whole number of int32"), std::string::npos);
}

TEST(RoutedExperts, RowsBecomeRoutesOfMoeLayersOnly) {
  const ModelConfig c = small_config();
  const auto rows = routes_from_rows(c, kFlat, 3, "t");
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& r : rows) ASSERT_EQ(r.size(), 3u);  // layers 1..3; dense layer 0 dropped
  EXPECT_EQ(rows[0][0].k, 2);
  EXPECT_EQ(rows[0][0].expert[0], 3);
  EXPECT_EQ(rows[0][0].expert[1], 1);
  EXPECT_EQ(rows[1][2].expert[0], 3);
  EXPECT_EQ(rows[1][2].expert[1], 7);
  EXPECT_EQ(rows[2][1].expert[0], 4);
  EXPECT_TRUE(std::isnan(rows[0][0].weight[0]));  // SGLang reports ids only
  // vLLM-style rows of MoE layers only give the same routes.
  std::vector<int32_t> moe_only;
  for (size_t i = 0; i < kFlat.size(); i += 8) moe_only.insert(moe_only.end(), kFlat.begin() + static_cast<long>(i) + 2, kFlat.begin() + static_cast<long>(i) + 8);
  const auto rows2 = routes_from_rows(c, moe_only, 3, "t");
  for (size_t p = 0; p < 3; ++p)
    for (size_t l = 0; l < 3; ++l) EXPECT_EQ(rows2[p][l].expert, rows[p][l].expert);
  // And serve's encoder puts them back where SGLang has them (dense rows zero).
  std::vector<StepRecord> recs(3);
  for (size_t p = 0; p < 3; ++p) recs[p].routes = rows[p];
  EXPECT_EQ(rows_from_routes(c, recs), kFlat);
}

TEST(RoutedExperts, WrongShapesAndIdsAreOneLineErrors) {
  const ModelConfig c = small_config();
  try {
    routes_from_rows(c, std::vector<int32_t>(3 * 10, 0), 3, "http://h/generate");
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("num_hidden_layers 4 x num_experts_per_tok 2"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
  std::vector<int32_t> bad = kFlat;
  bad[3] = 8;  // 8 routed experts: ids 0..7
  EXPECT_THROW(routes_from_rows(c, bad, 3, "t"), Error);
  EXPECT_THROW(routes_from_rows(c, std::vector<int32_t>(7, 0), 3, "t"), Error);
}

TEST(RoutedExperts, DeepSeekRealCounts) {
  // V2-Lite: 27 layers, first dense, 64 experts top-6. V3: 61 layers, first 3 dense, 256 top-8 in 8 groups.
  struct Case { int layers, dense, experts, k, groups, topk_group; };
  for (const Case cs : {Case{27, 1, 64, 6, 1, 1}, Case{61, 3, 256, 8, 8, 4}}) {
    const ModelConfig c = small_config(cs.layers, cs.dense, cs.experts, cs.k, cs.groups, cs.topk_group);
    const size_t n_rows = 5;
    std::vector<int32_t> flat(n_rows * static_cast<size_t>(cs.layers * cs.k));
    for (size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<int32_t>((i * 7 + 3) % static_cast<size_t>(cs.experts));
    for (size_t p = 0; p < n_rows; ++p)  // dense layers: zeros, as SGLang's zeroed buffer
      for (int l = 0; l < cs.dense; ++l)
        for (int i = 0; i < cs.k; ++i) flat[(p * static_cast<size_t>(cs.layers) + static_cast<size_t>(l)) * static_cast<size_t>(cs.k) + static_cast<size_t>(i)] = 0;
    const std::string wire = encode_routed_experts(flat);
    const auto decoded = decode_routed_experts(wire, "int32", "t");
    const auto rows = routes_from_rows(c, decoded, n_rows, "t");
    ASSERT_EQ(rows.size(), n_rows);
    ASSERT_EQ(static_cast<int>(rows[0].size()), cs.layers - cs.dense);
    // Position 4, last MoE layer, slot k-1, found by hand from the formula.
    const size_t idx = (4 * static_cast<size_t>(cs.layers) + static_cast<size_t>(cs.layers - 1)) * static_cast<size_t>(cs.k) + static_cast<size_t>(cs.k - 1);
    EXPECT_EQ(rows[4].back().expert[static_cast<size_t>(cs.k - 1)], static_cast<int16_t>((idx * 7 + 3) % static_cast<size_t>(cs.experts)));
    std::vector<StepRecord> recs(n_rows);
    for (size_t p = 0; p < n_rows; ++p) recs[p].routes = rows[p];
    EXPECT_EQ(rows_from_routes(c, recs), flat);
  }
}

// ---- responses --------------------------------------------------------------------------------------

// Two chunks of SGLang's default (cumulative) /generate stream for input_ids [5, 9, 11] with
// return_logprob, logprob_start_len 0, top_logprobs_num 2, return_routed_experts; the last chunk
// carries finish_reason and routed_experts for positions [0, 3 + 2 - 1) = 4 rows.
TEST(ResponseReader, SGLangCumulativeStream) {
  const ModelConfig c = small_config();
  ResponseReader rd(Protocol::SGLang, "http://h/generate", 0, 3);
  const json c1 = json::parse(R"({"text":"a","output_ids":[42],"meta_info":{"id":"x","finish_reason":null,"prompt_tokens":3,
    "completion_tokens":1,"cached_tokens":0,
    "input_token_logprobs":[[null,5,null],[-1.5,9,null],[-0.25,11,null]],
    "input_top_logprobs":[null,[[-0.5,7,null],[-1.5,9,null]],[[-0.25,11,null],[-2.0,3,null]]],
    "output_token_logprobs":[[-0.125,42,null]],
    "output_top_logprobs":[[[-0.125,42,null],[-3.0,8,null]]]}})");
  Delta d1 = rd.read(c1);
  ASSERT_TRUE(d1.has_input);
  ASSERT_EQ(d1.input_logprob.size(), 3u);
  EXPECT_TRUE(std::isnan(d1.input_logprob[0]));
  EXPECT_FLOAT_EQ(d1.input_logprob[1], -1.5f);
  ASSERT_EQ(d1.input_top[1].size(), 2u);
  EXPECT_EQ(d1.input_top[1][0].id, 7);
  EXPECT_FLOAT_EQ(d1.input_top[1][0].prob, std::exp(-0.5f));
  ASSERT_EQ(d1.tokens.size(), 1u);
  EXPECT_EQ(d1.tokens[0].id, 42);
  EXPECT_FLOAT_EQ(d1.tokens[0].logprob, -0.125f);
  EXPECT_EQ(d1.tokens[0].top[1].id, 8);
  EXPECT_TRUE(d1.finish.empty());

  std::string re = encode_routed_experts(std::vector<int32_t>(4 * 8, 1));
  const json c2 = json::parse(R"({"text":"ab","output_ids":[42,1],"meta_info":{"id":"x","finish_reason":{"type":"stop","matched":1},
    "prompt_tokens":3,"completion_tokens":2,"cached_tokens":0,
    "input_token_logprobs":[[null,5,null],[-1.5,9,null],[-0.25,11,null]],
    "output_token_logprobs":[[-0.125,42,null],[-0.0625,1,null]],
    "output_top_logprobs":[[[-0.125,42,null]],[[-0.0625,1,null]]],
    "routed_experts":")" + re + R"("}})");
  Delta d2 = rd.read(c2);
  EXPECT_FALSE(d2.has_input);  // prompt logprobs only once
  ASSERT_EQ(d2.tokens.size(), 1u);
  EXPECT_EQ(d2.tokens[0].id, 1);
  EXPECT_FLOAT_EQ(d2.tokens[0].logprob, -0.0625f);
  EXPECT_EQ(d2.finish, "stop");
  ASSERT_TRUE(d2.routed.has_value());
  EXPECT_EQ(d2.routed->size(), 32u);
}

TEST(ResponseReader, SGLangIncrementalStream) {
  ResponseReader rd(Protocol::SGLang, "u", 2, 3);
  Delta a = rd.read(json::parse(R"({"output_ids":[4,5],"meta_info":{"completion_tokens":2,"finish_reason":null,
     "input_token_logprobs":[[-1.0,11,null]],"output_token_logprobs":[[-0.5,4,null],[-0.75,5,null]]}})"));
  EXPECT_EQ(a.tokens.size(), 2u);
  EXPECT_EQ(a.input_logprob.size(), 1u);
  Delta b = rd.read(json::parse(R"({"output_ids":[6],"meta_info":{"completion_tokens":3,"finish_reason":{"type":"length","length":3},
     "output_token_logprobs":[[-0.875,6,null]]}})"));
  ASSERT_EQ(b.tokens.size(), 1u);
  EXPECT_EQ(b.tokens[0].id, 6);
  EXPECT_FLOAT_EQ(b.tokens[0].logprob, -0.875f);
  EXPECT_EQ(b.finish, "length");
}

TEST(ResponseReader, SGLangWrongShapesAreErrors) {
  auto throws = [](const char* chunk, int known, int n_prompt) {
    ResponseReader rd(Protocol::SGLang, "http://h/generate", known, n_prompt);
    try {
      rd.read(json::parse(chunk));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(throws(R"({"error":{"message":"bad things"}})", 0, 1).find("bad things"), std::string::npos);
  EXPECT_NE(throws(R"({"output_ids":[1]})", 0, 1).find("meta_info"), std::string::npos);
  EXPECT_NE(throws(R"({"output_ids":[1,2],"meta_info":{"completion_tokens":5}})", 0, 1).find("completion_tokens"), std::string::npos);
  EXPECT_NE(throws(R"({"output_ids":[1],"meta_info":{"completion_tokens":1,"output_token_logprobs":[[-1,2,null]]}})", 0, 1).find("names token 2"),
            std::string::npos);
  EXPECT_NE(throws(R"({"output_ids":[1],"meta_info":{"completion_tokens":1,"output_token_logprobs":[[0.5,1,null]]}})", 0, 1).find("not a log-probability"),
            std::string::npos);
  EXPECT_NE(throws(R"({"output_ids":["a"],"meta_info":{}})", 0, 1).find("not a token id"), std::string::npos);
  EXPECT_NE(throws(R"({"output_ids":[],"meta_info":{"input_token_logprobs":[[null,1,null]]}})", 0, 3).find("input_token_logprobs has 1 entries for 3"),
            std::string::npos);
  EXPECT_NE(throws(R"({"output_ids":[],"meta_info":{"routed_experts":"@@@@"}})", 0, 1).find("base64"), std::string::npos);
  EXPECT_NE(throws(R"([1,2])", 0, 1).find("not an object"), std::string::npos);
}

TEST(ResponseReader, LlamaServerCompletionsChunk) {
  // llama.cpp tools/server (server-task.cpp, to_json_oaicompat of a partial result): one token per
  // chunk, logprobs in the chat layout with the token id.
  ResponseReader rd(Protocol::Completions, "u", 0, 2);
  Delta d = rd.read(json::parse(R"({"choices":[{"text":" the","index":0,"logprobs":{"content":[{"id":279,"token":" the",
      "bytes":[32,116,104,101],"logprob":-0.2,"top_logprobs":[{"id":279,"token":" the","bytes":[32],"logprob":-0.2},
      {"id":264,"token":" a","bytes":[32],"logprob":-1.9}]}]},"finish_reason":null}],"created":1,"model":"demo.gguf",
      "system_fingerprint":"b1","object":"text_completion","id":"cmpl-1"})"));
  ASSERT_EQ(d.tokens.size(), 1u);
  EXPECT_EQ(d.tokens[0].id, 279);
  EXPECT_FLOAT_EQ(d.tokens[0].logprob, -0.2f);
  ASSERT_EQ(d.tokens[0].top.size(), 2u);
  EXPECT_EQ(d.tokens[0].top[1].id, 264);
  EXPECT_EQ(d.model, "demo.gguf");
  Delta end = rd.read(json::parse(R"({"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"length"}],"model":"demo.gguf"})"));
  EXPECT_EQ(end.finish, "length");
  EXPECT_TRUE(end.tokens.empty());
}

TEST(ResponseReader, VllmLegacyLogprobsWithTokenIdsAndSglext) {
  ResponseReader rd(Protocol::Completions, "u", 0, 2);
  Delta d = rd.read(json::parse(R"({"choices":[{"index":0,"text":" hi","logprobs":{"tokens":["token_id:17","token_id:1"],
      "token_logprobs":[-0.5,-0.25],"top_logprobs":[{"token_id:17":-0.5,"token_id:3":-1.25},{"token_id:1":-0.25}],"text_offset":[0,3]},
      "finish_reason":"stop"}],"sglext":{"routed_experts":")" + std::string(kInt32) + R"("}})"));
  ASSERT_EQ(d.tokens.size(), 2u);
  EXPECT_EQ(d.tokens[0].id, 17);
  EXPECT_EQ(d.tokens[1].id, 1);
  EXPECT_FLOAT_EQ(d.tokens[1].logprob, -0.25f);
  ASSERT_EQ(d.tokens[0].top.size(), 2u);
  EXPECT_EQ(d.tokens[0].top[0].id, 17);  // sorted by probability
  EXPECT_EQ(d.finish, "stop");
  ASSERT_TRUE(d.routed.has_value());
  EXPECT_EQ(*d.routed, kFlat);
}

TEST(ResponseReader, ChatDeltaWithoutLogprobsKeepsText) {
  ResponseReader rd(Protocol::Chat, "u", 0, 2);
  Delta d = rd.read(json::parse(R"({"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]})"));
  EXPECT_TRUE(d.tokens.empty());
  EXPECT_EQ(d.text, "Hello");
}

// ---- requests ---------------------------------------------------------------------------------------

TEST(Requests, SGLangGenerateBody) {
  GenerateRequest r;
  r.input_ids = {0, 17, 42};
  r.known_positions = 1;
  r.max_new_tokens = 8;
  r.top_logprobs = 20;
  const json b = sglang_generate_body(r);
  const json want = json::parse(R"({"input_ids":[0,17,42],"sampling_params":{"max_new_tokens":8,"temperature":0.0,"top_p":1.0},
      "stream":true,"return_logprob":true,"logprob_start_len":1,"top_logprobs_num":20,"return_routed_experts":true})");
  EXPECT_EQ(b, want) << b.dump();
  r.sampler.temperature = 0.5f;
  r.sampler.top_k = 40;
  r.sampler.seed = 7;
  r.mlascope_trace = true;
  r.capture.policy = CapturePolicy::RoutingAttention;
  r.capture.attention_layers = 0b101;
  r.n_layers = 6;
  const json b2 = sglang_generate_body(r);
  EXPECT_EQ(b2["sampling_params"]["top_k"], 40);
  EXPECT_EQ(b2["sampling_params"]["sampling_seed"], 7);
  EXPECT_EQ(b2["mlascope_trace"]["attention_layers"], json::parse("[0,2]"));
  EXPECT_EQ(b2["mlascope_trace"]["capture"], "attention");  // what mlascope serve accepts (not "routing+attention")
}

TEST(Requests, CompletionsAndChatBodies) {
  GenerateRequest r;
  r.input_ids = {1, 2};
  r.max_new_tokens = 4;
  r.model = "m";
  const json c = completions_body(r);
  EXPECT_EQ(c["prompt"], json::parse("[1,2]"));
  EXPECT_EQ(c["max_tokens"], 4);
  EXPECT_EQ(c["logprobs"], 20);
  EXPECT_EQ(c["model"], "m");
  EXPECT_EQ(c["stream"], true);
  r.messages = {{"user", "hi"}};
  r.top_logprobs = 32;
  const json h = chat_body(r);
  EXPECT_EQ(h["messages"][0]["content"], "hi");
  EXPECT_EQ(h["logprobs"], true);
  EXPECT_EQ(h["top_logprobs"], 20);
}

TEST(Wire, ErrorMessagesAndDepthLimit) {
  EXPECT_EQ(error_message(R"({"error":{"message":"Invalid API key","type":"auth"}})"), "Invalid API key");
  EXPECT_EQ(error_message(R"({"error":"model not found"})"), "model not found");
  EXPECT_EQ(error_message(R"({"detail":[{"loc":["body"],"msg":"field required"}]})"), "field required");
  EXPECT_EQ(error_message(R"({"object":"error","message":"too long\nreally"})"), "too long really");
  EXPECT_EQ(error_message("Internal Server Error\n"), "Internal Server Error");
  EXPECT_EQ(error_message(""), "(empty body)");
  EXPECT_TRUE(json_depth_ok(R"({"a":[[1]],"b":"[[[[[["})", 3));
  EXPECT_FALSE(json_depth_ok(std::string(100, '['), 64));
}

}  // namespace
}  // namespace mlascope::remote
