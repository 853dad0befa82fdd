// tests/app/test_cmd_kv.cpp — `mlascope kv` run as a real process: JSON numbers against values
// worked out by hand from the configs (demo model card; DeepSeek-V2 paper shapes), errors as one line.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/data_paths.h"
#include "support/pty_session.h"

using namespace mlascope;
using nlohmann::json;

namespace {

json run_kv_json(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {test::mlascope_binary().string(), "kv", "--json"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const test::RunResult r = test::run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

const json& scheme(const json& j, const std::string& key) {
  for (const json& s : j["schemes"])
    if (s["scheme"] == key) return s;
  throw std::runtime_error("no scheme " + key);
}

// DeepSeek-V2 (236B): 60 layers, 128 heads, kv_lora_rank 512, qk_rope 64, qk_nope 128, v 128.
std::filesystem::path write_v2_config(const std::filesystem::path& dir) {
  std::ifstream in(test::asset_path("models/mla-moe-demo/config.json"));
  json c = json::parse(in);
  c["model_type"] = "deepseek_v2";
  c["architectures"] = {"DeepseekV2ForCausalLM"};
  c["num_hidden_layers"] = 60;
  c["num_attention_heads"] = 128;
  c["num_key_value_heads"] = 128;
  c["kv_lora_rank"] = 512;
  c["qk_rope_head_dim"] = 64;
  c["qk_nope_head_dim"] = 128;
  c["v_head_dim"] = 128;
  c["q_lora_rank"] = 1536;
  c["hidden_size"] = 5120;
  c["max_position_embeddings"] = 163840;
  c["topk_method"] = "greedy";
  c["scoring_func"] = "softmax";
  c["n_group"] = 1;
  c["topk_group"] = 1;
  const auto p = dir / "config.json";
  std::ofstream(p) << c.dump(2);
  return p;
}

}  // namespace

TEST(CmdKv, DemoModelJson) {
  const json j = run_kv_json({"--config", test::asset_path("models/mla-moe-demo/config.json").string(), "--context", "1024",
                              "--gqa-groups", "2"});
  EXPECT_EQ(j["n_layers"], 6);
  EXPECT_EQ(j["bytes_per_value"], 2);
  EXPECT_EQ(j["context"], 1024);
  EXPECT_EQ(j["gqa_groups"], 2);
  // Model card: 80 values/layer, 960 B/token, 960 KiB at 1024 tokens; MHA 320 values, 3840 B/token.
  EXPECT_EQ(scheme(j, "mla_latent")["values_per_token_layer"], 80);
  EXPECT_EQ(scheme(j, "mla_latent")["bytes_per_token"], 960);
  EXPECT_EQ(scheme(j, "mla_latent")["bytes_at_context"], 960 * 1024);
  EXPECT_EQ(scheme(j, "mha")["bytes_per_token"], 3840);
  EXPECT_EQ(scheme(j, "mha")["bytes_at_context"], 3840 * 1024);
  EXPECT_DOUBLE_EQ(scheme(j, "mha")["ratio_vs_latent"].get<double>(), 4.0);
  // GQA-2: 2 * (32 + 16 + 32) = 160 values; MQA: 80.
  EXPECT_EQ(scheme(j, "gqa")["label"], "GQA-2");
  EXPECT_EQ(scheme(j, "gqa")["bytes_per_token"], 160 * 2 * 6);
  EXPECT_EQ(scheme(j, "mqa")["bytes_per_token"], 80 * 2 * 6);
  EXPECT_EQ(j["schemes"].size(), 5u);
}

TEST(CmdKv, DeepSeekV2ShapesFp8AndFolderArgument) {
  const auto dir = test::temp_dir("kv-v2");
  write_v2_config(dir);
  // A model folder is accepted in place of its config.json.
  const json j = run_kv_json({"--config", dir.string(), "--dtype", "fp8", "--context", "128000"});
  EXPECT_EQ(j["bytes_per_value"], 1);
  // Paper: MLA caches (d_c + d_h^R) = 512 + 64 = 576 values per token per layer.
  EXPECT_EQ(scheme(j, "mla_latent")["values_per_token_layer"], 576);
  EXPECT_EQ(scheme(j, "mla_latent")["bytes_per_token"], 576 * 60);
  EXPECT_EQ(scheme(j, "mla_latent")["bytes_at_context"], int64_t{576} * 60 * 128000);
  // MHA with the same heads: 128 * (128 + 64 + 128) = 40960 values per layer.
  EXPECT_EQ(scheme(j, "mha")["values_per_token_layer"], 40960);
  EXPECT_NEAR(scheme(j, "mha")["ratio_vs_latent"].get<double>(), 40960.0 / 576.0, 1e-9);
  EXPECT_EQ(scheme(j, "gqa")["label"], "GQA-8");  // default group count
  EXPECT_EQ(scheme(j, "gqa")["values_per_token_layer"], 8 * 320);
  EXPECT_EQ(j["context"], 128000);
  std::filesystem::remove_all(dir);
}

TEST(CmdKv, DefaultContextIsMaxPositionEmbeddings) {
  const json j = run_kv_json({"--config", test::asset_path("models/mla-moe-demo/config.json").string()});
  EXPECT_EQ(j["context"], 1024);
}

TEST(CmdKv, TextTableHasNoEscapesWhenPiped) {
  const test::RunResult r = test::run_command(
      {test::mlascope_binary().string(), "kv", "--config", test::asset_path("models/mla-moe-demo/config.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_NE(r.out.find("MLA latent"), std::string::npos);
  EXPECT_NE(r.out.find("960 KiB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3.75 MiB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4.00x"), std::string::npos) << r.out;
}

TEST(CmdKv, ErrorsAreOneLineNamingTheProblem) {
  const auto dir = test::temp_dir("kv-bad");
  const std::string bin = test::mlascope_binary().string();
  {
    const test::RunResult r = test::run_command({bin, "kv", "--config", (dir / "missing.json").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("missing.json"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  {
    std::ifstream in(test::asset_path("models/mla-moe-demo/config.json"));
    json c = json::parse(in);
    c["kv_lora_rank"] = "wide";
    std::ofstream(dir / "config.json") << c.dump();
    const test::RunResult r = test::run_command({bin, "kv", "--config", (dir / "config.json").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("kv_lora_rank"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  {
    const test::RunResult r = test::run_command({bin, "kv", "--preset", "no-such-model"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no-such-model"), std::string::npos) << r.err;
  }
  {
    const test::RunResult r = test::run_command({bin, "kv"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("--config"), std::string::npos) << r.err;
  }
  std::filesystem::remove_all(dir);
}

TEST(CmdKv, PresetsByNameInAnyCase) {
  // DeepSeek-V3 (model card): 61 layers, 128 heads, kv_lora_rank 512, rope 64 -> 576 values per layer.
  for (const char* name : {"deepseek-v3", "DeepSeek-V3"}) {
    const json j = run_kv_json({"--preset", name});
    EXPECT_EQ(j["n_layers"], 61) << name;
    EXPECT_EQ(scheme(j, "mla_latent")["values_per_token_layer"], 576) << name;
    EXPECT_EQ(scheme(j, "mha")["values_per_token_layer"], 128 * (128 + 64 + 128)) << name;
  }
  // DeepSeek-V2-Lite: 27 layers, 16 heads, kv_lora_rank 512.
  const json lite = run_kv_json({"--preset", "deepseek-v2-lite"});
  EXPECT_EQ(lite["n_layers"], 27);
  EXPECT_EQ(scheme(lite, "mha")["values_per_token_layer"], 16 * (128 + 64 + 128));
}
