// tests/remote/test_remote_fake_sglang.cpp — RemoteGenerator against a server that answers with
// byte strings written by hand in SGLang's format (an SSE stream of cumulative /generate chunks,
// meta_info logprob tuples, routed_experts as base64 int32 [positions, num_hidden_layers, top_k]),
// and against servers that answer wrongly: each failure is one line naming the URL and the field.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/remote/remote_generator.h"
#include "support/data_paths.h"
#include "support/temp_cleanup.h"

namespace mlascope {
namespace {

using nlohmann::json;
const test::TempCleanup kTempCleanup;

// 4 layers (layer 0 dense), 8 routed experts, top-2: the shape of the routing below.
ModelConfig config(int layers = 4) {
  json c = json::parse(std::ifstream(test::asset_path("models/mla-moe-demo/config.json")));
  c["num_hidden_layers"] = layers;
  c["first_k_dense_replace"] = 1;
  c["n_routed_experts"] = 8;
  c["num_experts_per_tok"] = 2;
  c["n_group"] = 1;
  c["topk_group"] = 1;
  return ModelConfig::from_json_text(c.dump(), "config.json");
}

// Positions 0..3 of input [5, 9, 11] + output [42, 1]:
// [[[0,0],[3,1],[7,2],[5,4]], [[0,0],[6,0],[1,2],[3,7]], [[0,0],[2,5],[4,4],[0,6]], [[0,0],[7,6],[5,4],[3,2]]]
const char* kRouted =
    "AAAAAAAAAAADAAAAAQAAAAcAAAACAAAABQAAAAQAAAAAAAAAAAAAAAYAAAAAAAAAAQAAAAIAAAADAAAABwAAAAAAAAAAAAAAAgAAAAUAAAAEAAAABAAAAAAAAAAGAAAAAAAAAAAAAAAHAAAABgAAAAUAAAAEAAAAAwAAAAIAAAA=";

std::string sglang_stream(const std::string& routed) {
  return std::string("data: ") +
         R"({"text":"x","output_ids":[42],"meta_info":{"id":"r","finish_reason":null,"prompt_tokens":3,"completion_tokens":1,"cached_tokens":0,)"
         R"("input_token_logprobs":[[null,5,null],[-2.0,9,null],[-0.5,11,null]],"input_top_logprobs":[null,[[-1.0,3,null]],[[-0.5,11,null]]],)"
         R"("output_token_logprobs":[[-0.25,42,null]],"output_top_logprobs":[[[-0.25,42,null],[-2.5,7,null]]]}})"
         "\n\n"
         "data: " +
         R"({"text":"x!","output_ids":[42,1],"meta_info":{"id":"r","finish_reason":{"type":"stop","matched":1},"prompt_tokens":3,"completion_tokens":2,)"
         R"("cached_tokens":0,"input_token_logprobs":[[null,5,null],[-2.0,9,null],[-0.5,11,null]],"input_top_logprobs":[null,[[-1.0,3,null]],[[-0.5,11,null]]],)"
         R"("output_token_logprobs":[[-0.25,42,null],[-0.125,1,null]],"output_top_logprobs":[[[-0.25,42,null],[-2.5,7,null]],[[-0.125,1,null]]],)"
         R"("routed_experts":")" + routed + R"(","e2e_latency":0.1}})" "\n\ndata: [DONE]\n\n";
}

struct FakeServer {
  httplib::Server svr;
  std::thread thread;
  int port = 0;
  std::string last_body;
  FakeServer(std::function<void(const httplib::Request&, httplib::Response&)> generate, bool sglang = true) {
    svr.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"deepseek-ai/DeepSeek-V3","object":"model","max_model_len":4096}]})", "application/json");
    });
    if (sglang)
      svr.Get("/get_model_info", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"model_path":"deepseek-ai/DeepSeek-V3","tokenizer_path":"deepseek-ai/DeepSeek-V3","is_generation":true})", "application/json");
      });
    svr.Post("/generate", [this, generate](const httplib::Request& req, httplib::Response& res) {
      last_body = req.body;
      generate(req, res);
    });
    port = svr.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { svr.listen_after_bind(); });
    while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeServer() {
    svr.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

std::string run_expecting_error(FakeServer& s, int layers = 4) {
  remote::RemoteOptions o;
  o.url = s.url();
  try {
    remote::RemoteGenerator gen(config(layers), nullptr, o);
    const std::vector<int32_t> p = {5, 9, 11};
    gen.feed(p, nullptr);
    gen.generate(2, nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(FakeSGLang, StreamBecomesRecordsWithRoutingAndLogprobs) {
  FakeServer s([](const httplib::Request&, httplib::Response& res) { res.set_content(sglang_stream(kRouted), "text/event-stream"); });
  remote::RemoteOptions o;
  o.url = s.url();
  remote::RemoteGenerator gen(config(), nullptr, o);
  EXPECT_EQ(gen.server().kind, "sglang");
  EXPECT_EQ(gen.server().model, "deepseek-ai/DeepSeek-V3");
  EXPECT_EQ(gen.max_context(), 4096);
  std::vector<StepRecord> prompt_recs, recs;
  const std::vector<int32_t> p = {5, 9, 11};
  gen.feed(p, [&](StepRecord&& r) { prompt_recs.push_back(std::move(r)); }, 0);
  const StopReason stop = gen.generate(8, [&](StepRecord&& r) { recs.push_back(std::move(r)); }, nullptr, 1);
  EXPECT_EQ(stop, StopReason::Eos);
  // What the client asked for.
  const json req = json::parse(s.last_body);
  EXPECT_EQ(req["input_ids"], json::parse("[5,9,11]"));
  EXPECT_EQ(req["return_routed_experts"], true);
  EXPECT_EQ(req["return_logprob"], true);
  EXPECT_EQ(req["logprob_start_len"], 0);
  EXPECT_EQ(req["stream"], true);
  EXPECT_EQ(req["sampling_params"]["max_new_tokens"], 8);
  // Prompt records went to feed()'s emit, generated ones to generate()'s.
  ASSERT_EQ(prompt_recs.size(), 3u);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_TRUE(prompt_recs[0].is_prompt);
  EXPECT_EQ(prompt_recs[0].message, 0);
  EXPECT_EQ(recs[0].message, 1);
  EXPECT_LT(prompt_recs[0].prob, 0.0f);  // no logprob for position 0
  EXPECT_FLOAT_EQ(prompt_recs[1].raw_prob, std::exp(-2.0f));
  EXPECT_EQ(prompt_recs[1].top_raw[0].id, 3);
  EXPECT_EQ(recs[0].id, 42);
  EXPECT_EQ(recs[0].position, 3);
  EXPECT_FLOAT_EQ(recs[0].prob, std::exp(-0.25f));
  EXPECT_EQ(recs[0].top_raw[1].id, 7);
  EXPECT_FLOAT_EQ(recs[1].prob, std::exp(-0.125f));
  // Routing: row p -> position p, MoE layers 1..3 only; the last token (position 4) has none.
  EXPECT_EQ(prompt_recs[0].routes[0].expert[0], 3);
  EXPECT_EQ(prompt_recs[0].routes[2].expert[1], 4);
  EXPECT_EQ(prompt_recs[2].routes[0].expert[1], 5);
  EXPECT_EQ(recs[0].routes[0].expert[0], 7);
  EXPECT_EQ(recs[0].routes[2].expert[1], 2);
  EXPECT_TRUE(recs[1].routes.empty());
  EXPECT_TRUE(gen.routing_reported());
  EXPECT_EQ(gen.n_positions(), 5);
}

TEST(FakeSGLang, MalformedJsonIsOneLine) {
  FakeServer s([](const httplib::Request&, httplib::Response& res) {
    res.set_content("data: {\"output_ids\": [42,\n\ndata: [DONE]\n\n", "text/event-stream");
  });
  const std::string m = run_expecting_error(s);
  EXPECT_NE(m.find("malformed JSON"), std::string::npos) << m;
  EXPECT_NE(m.find("/generate"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(FakeSGLang, RoutingForAnotherLayerCountIsRefused) {
  // Rows of 61 layers x 8 (DeepSeek-V3) against a 4-layer top-2 config.json.
  std::vector<int32_t> v3(4 * 61 * 8, 1);
  FakeServer s([&](const httplib::Request&, httplib::Response& res) {
    res.set_content(sglang_stream(remote::encode_routed_experts(v3)), "text/event-stream");
  });
  const std::string m = run_expecting_error(s);
  EXPECT_NE(m.find("different model than config.json"), std::string::npos) << m;
  EXPECT_NE(m.find("num_hidden_layers x top_k"), std::string::npos) << m;
}

TEST(FakeSGLang, WrongShapesAreRefused) {
  FakeServer s([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"(data: {"output_ids":[42],"meta_info":{"completion_tokens":1,"output_token_logprobs":[[-0.1,43,null]]}})" "\n\n", "text/event-stream");
  });
  const std::string m = run_expecting_error(s);
  EXPECT_NE(m.find("output_token_logprobs names token 43 where output_ids has 42"), std::string::npos) << m;
}

TEST(FakeSGLang, ServerErrorsCarryTheirMessage) {
  FakeServer s([](const httplib::Request&, httplib::Response& res) {
    res.status = 400;
    res.set_content(R"({"error":{"message":"The input (3 tokens) is longer than the model's context length (2 tokens).","code":400}})", "application/json");
  });
  const std::string m = run_expecting_error(s);
  EXPECT_NE(m.find("HTTP 400: The input (3 tokens) is longer than the model's context length (2 tokens)."), std::string::npos) << m;

  FakeServer s500([](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("<html><body>Internal Server Error</body></html>", "text/html");
  });
  const std::string m2 = run_expecting_error(s500);
  EXPECT_NE(m2.find("HTTP 500: <html>"), std::string::npos) << m2;

  FakeServer abort([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"(data: {"output_ids":[],"meta_info":{"completion_tokens":0,"finish_reason":{"type":"abort","message":"out of memory"}}})" "\n\ndata: [DONE]\n\n",
                    "text/event-stream");
  });
  const std::string m3 = run_expecting_error(abort);
  EXPECT_NE(m3.find("the server aborted the request: out of memory"), std::string::npos) << m3;
}

TEST(FakeSGLang, NotAnLlmServer) {
  httplib::Server svr;
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("hello", "text/plain"); });
  const int port = svr.bind_to_any_port("127.0.0.1");
  std::thread t([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  remote::RemoteOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  std::string m = "no error";
  try {
    remote::RemoteGenerator gen(config(), nullptr, o);
  } catch (const Error& e) {
    m = e.what();
  }
  svr.stop();
  t.join();
  EXPECT_NE(m.find("not an SGLang or OpenAI-compatible server"), std::string::npos) << m;
}

TEST(RemoteUrl, ParsesAndRefuses) {
  const remote::Endpoint e = remote::parse_url("https://Example.org:8443/prefix/");
  EXPECT_EQ(e.scheme, "https");
  EXPECT_EQ(e.host, "Example.org");
  EXPECT_EQ(e.port, 8443);
  EXPECT_EQ(e.base_path, "/prefix");
  EXPECT_EQ(remote::parse_url("http://[::1]:30000").host, "::1");
  EXPECT_EQ(remote::parse_url("http://h").port, 80);
  EXPECT_EQ(remote::parse_url("https://h").port, 443);
  for (const char* bad : {"h:30000", "ftp://h", "http://:80", "http://h:0", "http://h:99999", "http://user:pw@h", "http://h:x"})
    EXPECT_THROW(remote::parse_url(bad), Error) << bad;
}

}  // namespace
}  // namespace mlascope
